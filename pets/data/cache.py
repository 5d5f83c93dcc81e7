"""The pixel cache: every indexed image decoded and resized once into one memory-mappable array per split."""

import errno
import gc
import io
import json
import multiprocessing
import os
import shutil
import signal
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

from pets.data.check import pixel_hash
from pets.data.images import load_image
from pets.data.index import SPLITS
from pets.digest import bytes_sha256
from pets.errors import PetsError
from pets.progress import progress
from pets.runtime.sharing import thread_budget

CHUNK = 32  # images per task: large enough to amortise the pool's overhead, small enough for a smooth bar
MANIFEST = "manifest.json"
STATS_STRIDE = 4  # mean and std from every 4th pixel each way: as good for normalising, 16 times cheaper

_target = None  # (file descriptor, byte offset of row 0, bytes per row) of the split's array, per worker


def _open_array(path):
    """Workers write rows with pwrite: one system call per image, cheaper than faulting in mmap pages."""
    global _target
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle: one message, no tracebacks
    array = np.load(path, mmap_mode="r")
    _target = (os.open(path, os.O_WRONLY), array.offset, array[0].nbytes if len(array) else 0)


def _decode_chunk(task):
    """Decode rows start.. into the split's array file; return (count, bad rows with reasons, pixel sums, squares,
    {row: (sha256 of the file, perceptual hash of the pixels)}) (pets.data.check)."""
    start, paths, resolution, resize = task
    bad, sums, squares, hashes = [], np.zeros(3), np.zeros(3), {}
    for row, path in enumerate(paths, start):
        try:
            data = Path(path).read_bytes()
            pixels = load_image(io.BytesIO(data), resolution, resize)
        except Exception as error:  # noqa: BLE001 - any decoding failure is reported, not fatal
            bad.append((row, f"{type(error).__name__}: {' '.join(str(error).split())}"))
            continue
        hashes[row] = (bytes_sha256(data), pixel_hash(pixels))
        fd, offset, row_bytes = _target
        os.pwrite(fd, pixels.data, offset + row * row_bytes)
        sample = pixels[::STATS_STRIDE, ::STATS_STRIDE].reshape(-1, 3).astype(np.float64) / 255.0
        sums += sample.sum(0)
        squares += (sample * sample).sum(0)
    return len(paths), bad, sums, squares, hashes


def _forked_pool(workers, array_path):
    """Workers forked from this process (no imports again) that leave what they inherit to it: a worker that
    garbage-collected an object of the parent's, say an onnxruntime session left in a reference cycle, would wait
    forever on a lock of the parent's threads, which it does not have."""
    gc.freeze()
    try:
        return multiprocessing.get_context("fork").Pool(workers, initializer=_open_array, initargs=(array_path,))
    finally:
        gc.unfreeze()


def _cache_split(array_path, paths, resolution, resize, workers):
    """Fill a new array at `array_path`; return (kept row numbers, bad {row: reason}, sums, squares, hashes)."""
    open_memmap(array_path, mode="w+", dtype=np.uint8, shape=(len(paths), resolution, resolution, 3)).flush()
    tasks = [(start, paths[start : start + CHUNK], resolution, resize) for start in range(0, len(paths), CHUNK)]
    bad, sums, squares, hashes = {}, np.zeros(3), np.zeros(3), {}
    with (
        _forked_pool(workers, array_path) as pool,
        progress(total=len(paths), desc=f"cache {Path(array_path).stem}", unit=" img") as bar,
    ):
        for count, chunk_bad, chunk_sums, chunk_squares, chunk_hashes in pool.imap_unordered(_decode_chunk, tasks):
            bad.update(chunk_bad)
            hashes.update(chunk_hashes)
            sums += chunk_sums
            squares += chunk_squares
            bar.update(count)
    kept = [row for row in range(len(paths)) if row not in bad]
    if bad:
        _drop_rows(array_path, kept)
    return kept, bad, sums, squares, hashes


def _drop_rows(array_path, kept):
    """Rewrite the array without the rows of images that could not be decoded."""
    full = np.load(array_path, mmap_mode="r")
    compact_path = array_path.with_suffix(".compact.npy")
    compact = open_memmap(compact_path, mode="w+", dtype=np.uint8, shape=(len(kept),) + full.shape[1:])
    for start in range(0, len(kept), 256):
        compact[start : start + 256] = full[kept[start : start + 256]]
    compact.flush()
    del full, compact
    os.replace(compact_path, array_path)


def build_cache(
    rows: list[dict],
    classes: list[str],
    root: str | Path,
    out: str | Path,
    *,
    resolution: int,
    resize: str,
    max_bad_frac: float,
    workers: int = 0,
) -> dict:
    """Write `out/<split>.npy` for each split in `rows` and `out/manifest.json`; return the manifest."""
    workers = workers or thread_budget()
    needed, free = len(rows) * resolution * resolution * 3, shutil.disk_usage(out).free
    if needed > free:
        raise PetsError(
            f"the cache needs {needed:,} bytes but only {free:,} are free in {out}; "
            "free some space or lower cache.resolution"
        )
    class_number = {name: i for i, name in enumerate(classes)}
    manifest = {"resolution": resolution, "resize": resize, "classes": classes, "splits": {}, "bad": []}
    total_sums, total_squares, train_pixels = np.zeros(3), np.zeros(3), 0
    for split in SPLITS:
        split_rows = [row for row in rows if row["split"] == split]
        if not split_rows:
            continue
        paths = [str(Path(root) / row["path"]) for row in split_rows]
        try:
            kept, bad, sums, squares, hashes = _cache_split(
                Path(out) / f"{split}.npy", paths, resolution, resize, workers
            )
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
            raise PetsError(
                f"no space left in {out} while caching the {split} split: the cache needs about "
                f"{needed:,} bytes; free some space or lower cache.resolution"
            ) from None
        manifest["splits"][split] = {
            "files": [split_rows[i]["path"] for i in kept],
            "labels": [class_number[split_rows[i]["label"]] for i in kept],
            "sha256": [hashes[i][0] for i in kept],
            "phash": [hashes[i][1] for i in kept],
        }
        manifest["bad"] += [{"path": split_rows[i]["path"], "reason": reason} for i, reason in sorted(bad.items())]
        if split == "train":
            samples_per_image = len(range(0, resolution, STATS_STRIDE)) ** 2
            total_sums, total_squares, train_pixels = sums, squares, len(kept) * samples_per_image
    _refuse_undecoded(manifest["bad"], len(rows), max_bad_frac, train_pixels)
    mean = total_sums / train_pixels
    manifest["mean"] = mean.round(6).tolist()
    manifest["std"] = np.sqrt(np.maximum(total_squares / train_pixels - mean**2, 1e-12)).round(6).tolist()
    write_manifest(out, manifest)
    return manifest


def _refuse_undecoded(bad: list[dict], n_all: int, max_bad_frac: float, train_pixels: int) -> None:
    """PetsError when more images than cache.max_bad_frac allows could not be decoded, or no training image could."""
    if len(bad) > max_bad_frac * n_all:
        examples = "; ".join(f"{b['path']}: {b['reason']}" for b in bad[:3])
        raise PetsError(
            f"{len(bad)} of {n_all} images cannot be decoded, more than cache.max_bad_frac "
            f"({max_bad_frac:g}) allows; for example {examples}"
        )
    if train_pixels == 0:
        raise PetsError("no training image could be decoded")


def cached_images(manifest: dict) -> list[dict]:
    """Every image of the cache as {path, label, split, sha256, phash}: what pets.data.check reads."""
    return [
        {"path": path, "label": manifest["classes"][label], "split": split, "sha256": digest, "phash": bits}
        for split, entry in manifest["splits"].items()
        for path, label, digest, bits in zip(entry["files"], entry["labels"], entry["sha256"], entry["phash"])
    ]


def drop_images(out: str | Path, manifest: dict, dropped: list[str]) -> None:
    """Leave the `dropped` images out of the cache at `out`: their rows, their entries in the manifest."""
    gone = set(dropped)
    for split, entry in manifest["splits"].items():
        kept = [row for row, path in enumerate(entry["files"]) if path not in gone]
        if len(kept) < len(entry["files"]):
            _drop_rows(Path(out) / f"{split}.npy", kept)
            manifest["splits"][split] = {key: [values[row] for row in kept] for key, values in entry.items()}
    manifest["dropped"] = sorted(dropped)
    write_manifest(out, manifest)


def write_manifest(out: str | Path, manifest: dict) -> None:
    (Path(out) / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")


def cached_pixels(cache_dir: str | Path, split: str, rows: list[int]) -> np.ndarray:
    """(len(rows), resolution, resolution, 3) uint8 pixels of some rows of a split, read through a memory map (NumPy
    only: for pictures of a few images, where pets.data.loader would bring torch)."""
    return np.array(np.load(Path(cache_dir) / f"{split}.npy", mmap_mode="r")[list(rows)])


def read_manifest(cache_dir: str | Path) -> dict:
    path = Path(cache_dir) / MANIFEST
    if not path.is_file():
        raise PetsError(f"{path} not found: run `dvc repro cache` first")
    return json.loads(path.read_text())
