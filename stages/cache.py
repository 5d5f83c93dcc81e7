"""Stage cache: decode and resize every indexed image once into data/cache (one uint8 array per split)."""

import json

from pets.atomic import atomic_path
from pets.config import layout
from pets.config.params import load_params
from pets.data.cache import build_cache
from pets.data.index import read_index
from pets.errors import report_errors


@report_errors
def main():
    p = load_params()["cache"]
    rows = read_index(layout.INDEX_TABLE)
    classes = json.loads(layout.CLASSES.read_text())
    print(f"cache: decoding {len(rows)} images into {p['resolution']}px squares ({p['resize']})")
    with atomic_path(layout.CACHE) as out:
        out.mkdir()
        manifest = build_cache(
            rows,
            classes,
            layout.RAW,
            out,
            resolution=p["resolution"],
            resize=p["resize"],
            max_bad_frac=p["max_bad_frac"],
            workers=p["workers"],
        )
    counts = {split: len(s["labels"]) for split, s in manifest["splits"].items()}
    print(f"cache: {counts} at {p['resolution']}px, {len(manifest['bad'])} images left out")


if __name__ == "__main__":
    main()
