import errno
import os
import shutil
import threading
import time

import numpy as np
import pytest
from PIL import Image

from pets.data.cache import build_cache
from pets.data.loader import CachedSplit, batches
from pets.errors import PetsError
from tests.imagefiles import bad_kinds, odd_kinds


def write_images(root, colours):
    """{relative path: RGB colour} as solid PNGs; return index rows (label from the name)."""
    rows = []
    for i, (name, colour) in enumerate(colours.items()):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (30, 20), colour).save(path, format="PNG")
        rows.append(
            {"path": name, "label": name.split("/")[-1].split("_")[0], "split": "valid" if i % 3 == 2 else "train"}
        )
    return rows


def test_cache_holds_each_image_in_row_order_with_labels_and_statistics(tmp_path):
    colours = {
        f"images/{label}_{i}.png": (10 * i, 200 if label == "b" else 0, 7) for i, label in enumerate("aabbaabba")
    }
    rows = write_images(tmp_path, colours)
    manifest = build_cache(rows, ["a", "b"], tmp_path, tmp_path, resolution=8, resize="crop", max_bad_frac=0, workers=2)
    train = np.load(tmp_path / "train.npy")
    assert train.shape == (6, 8, 8, 3) and train.dtype == np.uint8
    train_rows = [r for r in rows if r["split"] == "train"]
    assert manifest["splits"]["train"]["files"] == [r["path"] for r in train_rows]
    assert manifest["splits"]["train"]["labels"] == [0 if r["label"] == "a" else 1 for r in train_rows]
    for row_number, row in enumerate(train_rows):
        assert tuple(train[row_number, 4, 4]) == colours[row["path"]]  # a known pixel lands where expected
    expected_mean = np.mean([colours[r["path"]] for r in train_rows], axis=0) / 255
    assert np.allclose(manifest["mean"], expected_mean, atol=1e-5)
    assert manifest["std"][2] < 1e-3  # the blue channel is constant
    assert np.load(tmp_path / "valid.npy").shape == (3, 8, 8, 3)


def test_undecodable_images_are_left_out_and_listed(tmp_path):
    rows = write_images(tmp_path, {f"images/a_{i}.png": (i, i, i) for i in range(9)})
    for name, data in {**bad_kinds(), **odd_kinds()}.items():
        (tmp_path / "images" / name).write_bytes(data)
        rows.append({"path": f"images/{name}", "label": "a", "split": "train"})
    manifest = build_cache(rows, ["a"], tmp_path, tmp_path, resolution=8, resize="squish", max_bad_frac=0.5)
    bad = {b["path"]: b["reason"] for b in manifest["bad"]}
    assert set(bad) == {f"images/{name}" for name in bad_kinds()}
    assert all(reason for reason in bad.values())
    kept = manifest["splits"]["train"]["files"]
    assert len(kept) == len(np.load(tmp_path / "train.npy")) == 6 + len(odd_kinds())
    assert not set(kept) & set(bad)
    solid = kept.index("images/a_3.png")  # rows after a dropped one moved up with their pixels
    assert tuple(np.load(tmp_path / "train.npy")[solid, 0, 0]) == (3, 3, 3)


def test_too_many_bad_images_fail_the_stage(tmp_path):
    rows = write_images(tmp_path, {f"images/a_{i}.png": (i, i, i) for i in range(9)})
    (tmp_path / "images/a_9.png").write_bytes(b"")
    rows.append({"path": "images/a_9.png", "label": "a", "split": "train"})
    with pytest.raises(PetsError, match="1 of 10 images cannot be decoded, more than cache.max_bad_frac"):
        build_cache(rows, ["a"], tmp_path, tmp_path, resolution=8, resize="crop", max_bad_frac=0.05)


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


@pytest.mark.parametrize("damage", ["text", "cut", "rows"])
def test_a_damaged_cache_file_is_named_with_the_way_to_rebuild_it(tmp_path, damage):
    rows = write_images(tmp_path, {f"images/a_{i}.png": (i, 0, 0) for i in range(9)})
    build_cache(rows, ["a"], tmp_path, tmp_path, resolution=4, resize="crop", max_bad_frac=0)
    array = tmp_path / "train.npy"
    if damage == "text":
        array.write_text("not an array")
    elif damage == "cut":
        array.write_bytes(array.read_bytes()[:100])
    else:
        np.save(array, np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(
        PetsError,
        match=r"train.npy (cannot be read|does not match its manifest).*"
        r"rebuild it with `dvc repro --force cache`",
    ):
        CachedSplit(tmp_path, "train")


def test_too_little_disk_space_stops_before_decoding_with_the_figures(tmp_path, monkeypatch):
    rows = write_images(tmp_path, {f"images/a_{i}.png": (i, 0, 0) for i in range(9)})
    monkeypatch.setattr(
        "pets.data.cache.shutil.disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 100, 100)
    )
    with pytest.raises(PetsError, match=r"the cache needs 432 bytes but only 100 are free in "):
        build_cache(rows, ["a"], tmp_path, tmp_path, resolution=4, resize="crop", max_bad_frac=0)


def test_a_disk_that_fills_up_while_caching_is_one_line(tmp_path, monkeypatch):
    rows = write_images(tmp_path, {f"images/a_{i}.png": (i, 0, 0) for i in range(9)})

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)  # in the decoding processes too: they are forked from this one
    with pytest.raises(
        PetsError, match=r"no space left in .* while caching the train split: the cache needs about 432"
    ):
        build_cache(rows, ["a"], tmp_path, tmp_path, resolution=4, resize="crop", max_bad_frac=0, workers=2)
