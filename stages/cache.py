"""Stage cache: decode and resize every indexed image once into data/cache (one uint8 array per split), and check the
data on the way (duplicates within and across splits, class sizes): metrics/data_check.json, metrics/duplicates.png."""

import json

from pets.atomic import atomic_folder, write_json
from pets.config import layout
from pets.config.params import load_params
from pets.data.cache import build_cache, cached_images, drop_images
from pets.data.check import check_data, summary
from pets.data.index import read_index
from pets.errors import report_errors
from pets.report.duplicates import duplicates_picture
from pets.runtime.clock import timed


@report_errors
@timed("cache")
def main():
    params = load_params()
    p = params.cache
    rows = read_index(layout.INDEX_TABLE)
    classes = json.loads(layout.CLASSES.read_text())
    print(f"cache: decoding {len(rows)} images into {p.resolution}px squares ({p.resize})")
    with atomic_folder(layout.CACHE) as out:
        out.mkdir()
        manifest = build_cache(
            rows,
            classes,
            layout.RAW,
            out,
            resolution=p.resolution,
            resize=p.resize,
            max_bad_frac=p.max_bad_frac,
            workers=p.workers,
        )
        check = check_data(cached_images(manifest), duplicates=params.index.duplicates)
        if check.dropped:
            drop_images(out, manifest, check.dropped)
    counts = {split: len(s["labels"]) for split, s in manifest["splits"].items()}
    print(f"cache: {counts} at {p.resolution}px, {len(manifest['bad'])} images left out")
    write_json(layout.DATA_CHECK, check.report)
    duplicates_picture(check.pairs, layout.RAW, layout.DUPLICATES_PNG)
    print("\n".join(summary(check.report)))


if __name__ == "__main__":
    main()
