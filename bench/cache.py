"""Cache stage throughput: the process pool against a single-process loop doing the same decode and resize.

python -m bench.cache [--images 2000] [--resolution 288]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.photos import make_photos
from pets.data.cache import build_cache
from pets.data.images import load_image


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--resolution", type=int, default=288)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = make_photos(tmp / "images", args.images)
        rows = [{"path": p.relative_to(tmp).as_posix(), "label": p.stem.split("_")[0], "split": "train"} for p in paths]
        classes = sorted({r["label"] for r in rows})
        for path in paths:  # read every file once so both runs start from a warm page cache
            path.read_bytes()

        started = time.perf_counter()
        baseline = np.empty((len(paths), args.resolution, args.resolution, 3), np.uint8)
        for i, path in enumerate(paths):
            baseline[i] = load_image(path, args.resolution, "crop")
        single = len(paths) / (time.perf_counter() - started)

        out = tmp / "cache"
        out.mkdir()
        started = time.perf_counter()
        build_cache(rows, classes, tmp, out, resolution=args.resolution, resize="crop", max_bad_frac=0)
        pooled = len(paths) / (time.perf_counter() - started)
        assert np.array_equal(np.load(out / "train.npy"), baseline), "the two runs disagree"

    print(f"{len(paths)} JPEGs of about 500x375 -> {args.resolution}px, {os.cpu_count()} cores")
    print("| run | images/s |\n| --- | --- |")
    print(f"| single-process loop | {single:.0f} |")
    print(f"| cache stage (process pool) | {pooled:.0f} |")
    print(f"| ratio | {pooled / single:.2f}x |")


if __name__ == "__main__":
    main()
