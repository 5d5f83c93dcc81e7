"""The loader: batches of uint8 rows read straight from the pixel cache, ahead of the training step."""

import threading
import time

import numpy as np
import pytest

from pets.data.cache import build_cache
from pets.data.loader import CachedSplit, batches
from pets.errors import PetsError
from tests.imagefiles import write_images


def test_loader_reads_the_rows_asked_for_in_the_order_asked(tmp_path):
    rows = write_images(tmp_path, {f"images/a_{i}.png": (i, 0, 0) for i in range(30)})
    build_cache(rows, ["a"], tmp_path, tmp_path, resolution=4, resize="crop", max_bad_frac=0)
    split = CachedSplit(tmp_path, "train")
    pixels, labels = split[[5, 0, 3]]
    assert pixels.shape == (3, 4, 4, 3) and labels.tolist() == [0, 0, 0]
    assert np.array_equal(pixels.numpy(), np.load(tmp_path / "train.npy")[[5, 0, 3]])


def test_loader_batches_cover_an_epoch_without_repeats_and_repeat_with_the_seed(tmp_path):
    rows = write_images(tmp_path, {f"images/a_{i}.png": (i, 0, 0) for i in range(30)})
    build_cache(rows, ["a"], tmp_path, tmp_path, resolution=4, resize="crop", max_bad_frac=0)
    split = CachedSplit(tmp_path, "train")
    seen = []
    for pixels, labels in batches(split, 8, shuffle=True, seed=1):
        assert pixels.shape[1:] == (4, 4, 3) and len(pixels) == len(labels) == 8
        seen += pixels[:, 0, 0, 0].tolist()
    assert len(seen) == 16 and len(set(seen)) == 16  # drop_last: 20 images, 2 full batches, no repeats
    assert batches(split, 8, shuffle=True).images == 16 and batches(split, 8, shuffle=False).images == 20  # progress
    again = [p[:, 0, 0, 0].tolist() for p, _ in batches(split, 8, shuffle=True, seed=1)]
    assert sum(again, []) == seen


def test_read_ahead_stops_when_the_consumer_does_and_passes_on_errors(tmp_path):
    rows = write_images(tmp_path, {f"images/a_{i}.png": (i, 0, 0) for i in range(30)})
    build_cache(rows, ["a"], tmp_path, tmp_path, resolution=4, resize="crop", max_bad_frac=0)
    split = CachedSplit(tmp_path, "train")
    before = threading.active_count()
    iterator = iter(batches(split, 2, shuffle=False))
    next(iterator)
    time.sleep(0.3)  # the reader fills its queue and waits
    iterator.close()  # the consumer stops after one batch of ten
    assert threading.active_count() == before
    for _ in batches(split, 2, shuffle=False):
        break  # stopping by an exception (GeneratorExit) lets the reader go too
    assert threading.active_count() == before
    with open(tmp_path / "train.npy", "r+b") as array:  # a cache file cut short under the loader's feet
        array.truncate(200)
    with pytest.raises(PetsError, match="shorter than its manifest says"):
        list(batches(split, 2, shuffle=False))


def garbled_header(array):
    """The header's shape tuple left open: numpy's header parser raises tokenize.TokenError, no ValueError."""
    data = array.read_bytes()
    start = data.index(b"'shape': (")
    array.write_bytes(data[:start] + data[start:].replace(b")", b" ", 1))


@pytest.mark.parametrize("damage", ["text", "cut", "rows", "header"])
def test_a_damaged_cache_file_is_named_with_the_way_to_rebuild_it(tmp_path, damage):
    rows = write_images(tmp_path, {f"images/a_{i}.png": (i, 0, 0) for i in range(9)})
    build_cache(rows, ["a"], tmp_path, tmp_path, resolution=4, resize="crop", max_bad_frac=0)
    array = tmp_path / "train.npy"
    if damage == "text":
        array.write_text("not an array")
    elif damage == "cut":
        array.write_bytes(array.read_bytes()[:100])
    elif damage == "header":
        garbled_header(array)
    else:
        np.save(array, np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(
        PetsError,
        match=r"train.npy (cannot be read|does not match its manifest).*"
        r"rebuild it with `dvc repro --force cache`",
    ):
        CachedSplit(tmp_path, "train")
