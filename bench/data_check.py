"""What the data check adds to the index and cache stages on a Pets-sized set (7,390 JPEGs of about 500x375, each a
mosaic of four tiles cut from the built-in photographs, so that few are alike; the cache at 288 px).

python -m bench.data_check [--images 7390] [--resolution 288] [--repeats 3]

The check hashes what the cache stage holds anyway (each file's bytes, its decoded pixels), then compares all pairs.
The baseline is the same cache stage with the two hash functions replaced by constants; the two run alternately,
alone, with every core, from a warm page cache; the best of each is reported.
"""

import argparse
import functools
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from bench.recipes import PARAMS
from pets.data import cache
from pets.data.cache import build_cache, cached_images
from pets.data.check import check_data
from pets.data.index import build_index
from pets.data.photos import photographs


def mosaics(folder, count, seed=0):
    """`count` JPEGs named like Pets (37 classes), each four 250x188 tiles from random places of random photographs."""
    folder.mkdir(parents=True)
    photos, rng = list(photographs().values()), np.random.default_rng(seed)
    for n in range(count):
        canvas = np.zeros((376, 500, 3), np.uint8)
        for top, left in ((0, 0), (0, 250), (188, 0), (188, 250)):
            photo = photos[int(rng.integers(len(photos)))]
            y, x = int(rng.integers(photo.shape[0] - 188)), int(rng.integers(photo.shape[1] - 250))
            canvas[top : top + 188, left : left + 250] = photo[y : y + 188, x : x + 250]
        Image.fromarray(canvas).save(folder / f"class{n % 37}_{n}.jpg", quality=90)


def timed(work):
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=7390)
    parser.add_argument("--resolution", type=int, default=288)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    hashes = cache.bytes_sha256, cache.pixel_hash
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        mosaics(root / "images", args.images)
        for path in (root / "images").iterdir():  # every run starts from a warm page cache
            path.read_bytes()
        index_seconds, (rows, classes, _) = timed(
            lambda: build_index(root, replace(PARAMS.index, images="images", label="regex", pattern=r"^(.+)_\d+$",
                                              split="random", valid_frac=0.2, seed=42, min_per_class=1, fixes=""))
        )  # fmt: skip
        seconds = {"baseline": [], "hashed": []}
        for repeat in range(args.repeats):
            for kind in seconds:
                cache.bytes_sha256, cache.pixel_hash = hashes if kind == "hashed" else (lambda d: "", lambda p: "0")
                out = root / f"cache-{kind}-{repeat}"
                out.mkdir()
                spent, manifest = timed(
                    functools.partial(build_cache, rows, classes, root, out, resolution=args.resolution,
                                      resize="crop", max_bad_frac=0.01)
                )  # fmt: skip
                seconds[kind].append(spent)
        check_seconds, check = timed(lambda: check_data(cached_images(manifest), duplicates="report"))
    base, hashing = index_seconds + min(seconds["baseline"]), min(seconds["hashed"]) - min(seconds["baseline"])
    print(f"{args.images} mosaic JPEGs; pairs found: {len(check.pairs)}; {args.repeats} runs each, best of each")
    print("| part | seconds | of index + cache |\n| --- | --- | --- |")
    print(f"| index stage: labels and split | {index_seconds:.2f} | |")
    print(f"| cache stage at {args.resolution} px, no hashes | {min(seconds['baseline']):.2f} | |")
    print(f"| hashing in the cache stage (sha256, pHash) | {hashing:.2f} | +{hashing / base:.1%} |")
    print(f"| all pairs compared, the report | {check_seconds:.2f} | +{check_seconds / base:.1%} |")
    print(f"| the data check in all | {hashing + check_seconds:.2f} | **+{(hashing + check_seconds) / base:.1%}** |")


if __name__ == "__main__":
    main()
