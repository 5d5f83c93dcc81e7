"""Growth: cache stage time and peak memory at 1k, 4k and 16k images; the training process's peak
memory on the 16k-image cache, against the size of that cache.

    python -m bench.scale [--counts 1000,4000,16000]

Each measured run is a child process; its peak RSS is sampled over the whole process tree.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

RESOLUTION = 288


def peak_rss(command):
    """(seconds, peak resident memory of the process tree in bytes) of running `command`."""
    started = time.perf_counter()
    process = subprocess.Popen(command)
    tree, peak = psutil.Process(process.pid), 0
    while process.poll() is None:
        try:
            peak = max(peak, sum(p.memory_info().rss for p in [tree, *tree.children(recursive=True)]))
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.05)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed")
    return time.perf_counter() - started, peak


def cache_child(folder):
    from pets.data.cache import build_cache

    folder = Path(folder)
    paths = sorted((folder / "images").iterdir())
    rows = [
        {
            "path": p.relative_to(folder).as_posix(),
            "label": p.stem.split("_")[0],
            "split": "valid" if i % 100 == 0 else "train",
        }
        for i, p in enumerate(paths)
    ]
    (folder / "cache").mkdir()
    build_cache(
        rows,
        sorted({r["label"] for r in rows}),
        folder,
        folder / "cache",
        resolution=RESOLUTION,
        resize="crop",
        max_bad_frac=0,
    )


def train_child(cache):
    import torch

    from bench.recipes import quick_start_params
    from pets.data.loader import CachedSplit
    from pets.data.presets import Preprocess
    from pets.model.build import build_model
    from pets.runtime.profile import Runtime
    from pets.train.loop import fit

    split = CachedSplit(cache, "train")
    classifier = build_model("resnet18", split.manifest["classes"], "none", Preprocess.of_cache(split.manifest, 32))
    params = quick_start_params("digits", {"size": 32, "train.batch_size": 128, "train.epochs": 1, "train.lr": 1e-3})
    fit(
        classifier,
        train_split=split,
        valid_split=CachedSplit(cache, "valid"),
        settings=params.train,
        runtime=Runtime.cpu(torch.get_num_threads()),
        log=lambda line: None,
    )


def main():
    if sys.argv[1:2] == ["cache"]:
        return cache_child(sys.argv[2])
    if sys.argv[1:2] == ["train"]:
        return train_child(sys.argv[2])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1000,4000,16000")
    args = parser.parse_args()
    from bench.photos import make_photos

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in map(int, args.counts.split(",")):
            folder = Path(tmp) / str(count)
            make_photos(folder / "images", count)
            seconds, peak = peak_rss([sys.executable, "-m", "bench.scale", "cache", str(folder)])
            cache_bytes = (folder / "cache" / "train.npy").stat().st_size
            rows.append((count, seconds, peak, cache_bytes))
        largest = folder / "cache"
        train_seconds, train_peak = peak_rss([sys.executable, "-m", "bench.scale", "train", str(largest)])
    first_count, first_seconds = rows[0][0], rows[0][1]
    print(f"cache stage at {RESOLUTION}px on JPEGs of about 500x375")
    print(
        "| images | seconds | seconds per 1k images | peak RSS (MB) | cache size (MB) |\n"
        "| --- | --- | --- | --- | --- |"
    )
    for count, seconds, peak, cache_bytes in rows:
        print(
            f"| {count} | {seconds:.1f} | {seconds / count * 1000:.2f} | {peak / 2**20:.0f} "
            f"| {cache_bytes / 2**20:.0f} |"
        )
    print(f"time ratio {rows[-1][0] // first_count}x images: {rows[-1][1] / first_seconds:.1f}x seconds")
    print(
        f"train stage (resnet18, 32 px, one epoch) on the {rows[-1][0]}-image cache: peak RSS "
        f"{train_peak / 2**20:.0f} MB for a {rows[-1][3] / 2**20:.0f} MB cache ({train_seconds:.0f} s)"
    )


if __name__ == "__main__":
    main()
