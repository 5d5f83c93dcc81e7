import errno
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from pets.data.cache import build_cache
from pets.errors import PetsError
from tests.helpers import ROOT
from tests.imagefiles import bad_kinds, odd_kinds, write_images


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


# a process that used onnxruntime (the export check's or predict's session, in a notebook or a test worker) and left
# its session to the garbage collector, in a reference cycle, then caches: the worker collects the cycle first
INHERITED_SESSION = """
import gc, sys
from pathlib import Path
import onnxruntime
from onnx import TensorProto, helper
import pets.data.cache as cache
from tests.imagefiles import write_images

gc.disable()  # the cycle stays uncollected here until the workers are forked
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])
model = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]))
options = onnxruntime.SessionOptions()
options.intra_op_num_threads = 2  # a pool thread that waits on the session's condition variable
session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
cycle = [session]
cycle.append(cycle)
del session, cycle

decode = cache.load_image
def collect_then_decode(*args, **kwargs):  # in the forked worker
    gc.collect()
    return decode(*args, **kwargs)
cache.load_image = collect_then_decode

rows = write_images(Path(sys.argv[1]), {f"images/a_{i}.png": (i, i, i) for i in range(6)})
cache.build_cache(rows, ["a"], sys.argv[1], sys.argv[1], resolution=8, resize="crop", max_bad_frac=0, workers=2)
print("cached")
"""


def test_caching_in_a_process_that_left_an_onnxruntime_session_to_the_garbage_collector_ends(tmp_path):
    """A forked worker that destroyed the parent's session would wait forever for the parent's threads: what the
    workers inherit is kept out of their garbage collection."""
    process = subprocess.Popen(
        [sys.executable, "-c", INHERITED_SESSION, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        output = process.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError("caching hung in a worker") from None
    assert process.returncode == 0 and output.strip().endswith("cached"), output
