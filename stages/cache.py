"""Stage cache: decode and resize every indexed image once into data/cache (one uint8 array per split)."""

import json

from pets.atomic import atomic_path
from pets.cache import build_cache
from pets.errors import report_errors
from pets.index import read_index
from pets.params import load_params


@report_errors
def main():
    params = load_params()
    p = params["cache"]
    rows = read_index("data/index/index.csv")
    classes = json.loads(open("data/index/classes.json").read())
    print(f"cache: decoding {len(rows)} images into {p['resolution']}px squares ({p['resize']})")
    with atomic_path("data/cache") as out:
        out.mkdir()
        manifest = build_cache(rows, classes, "data/raw", out, p["resolution"], p["resize"], p["max_bad_frac"], p["workers"])
    counts = {split: len(s["labels"]) for split, s in manifest["splits"].items()}
    print(f"cache: {counts} at {p['resolution']}px, {len(manifest['bad'])} images left out")


if __name__ == "__main__":
    main()
