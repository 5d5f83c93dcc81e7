"""The index stage's data check: images per class, and the same picture twice, byte for byte or re-encoded or
resized, within a split and across splits (a leak that flatters error_rate); drop_across_splits removes the leaks."""

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from pets.data.cache import build_cache, cached_images, drop_images, read_manifest
from pets.data.check import check_data, summary
from pets.data.loader import CachedSplit
from pets.data.photos import photographs, random_crop

QUADRANTS = {"train": [(0, 0), (1, 1)], "valid": [(0, 1), (1, 0)]}


@pytest.fixture(scope="module")
def distinct(tmp_path_factory):
    """52 real photographs, no two the same picture: one crop of each quadrant of each of 13 photographs, the
    quadrants of one diagonal to train, of the other to validate."""
    root, rows, rng = tmp_path_factory.mktemp("distinct"), [], np.random.default_rng(0)
    for name, photo in photographs().items():
        for split, quadrants in QUADRANTS.items():
            for quadrant in quadrants:
                path = f"{name}/{name}_{quadrant[0]}{quadrant[1]}.jpg"
                (root / name).mkdir(exist_ok=True)
                random_crop(photo, quadrant, rng).save(root / path, quality=90)
                rows.append({"path": path, "label": name, "split": split})
    return root, rows


def check(root, rows, duplicates="report", resolution=160):
    """The cache stage's way: the cache built (hashing as it decodes), then checked, the drop applied to it."""
    out = root.parent / f"{root.name}-cache-{duplicates}-{resolution}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    classes = sorted({row["label"] for row in rows})
    manifest = build_cache(rows, classes, root, out, resolution=resolution, resize="crop", max_bad_frac=0, workers=1)
    result = check_data(cached_images(manifest), duplicates=duplicates)
    if result.dropped:
        drop_images(out, manifest, result.dropped)
    return result, out


@pytest.mark.parametrize("resolution", [160, 288])
def test_a_set_without_duplicates_has_none(distinct, resolution):
    result, _ = check(*distinct, resolution=resolution)
    assert result.pairs == [] and result.dropped == []
    assert result.report["exact_duplicates"] == result.report["near_duplicates"] == {
        "within_splits": 0, "across_splits": 0
    }  # fmt: skip
    assert result.report["images"] == {"train": 26, "valid": 26} and result.report["imbalance"] == 1.0
    assert not any("warning" in line for line in summary(result.report))


@pytest.fixture(scope="module")
def planted(distinct, tmp_path_factory):
    """The distinct set with five copies planted: across splits an exact copy, a re-encoded JPEG and a half-size
    PNG of training images; within the training split an exact copy and a third-size copy."""
    source, rows = distinct
    root = tmp_path_factory.mktemp("planted")
    shutil.copytree(source, root, dirs_exist_ok=True)
    rows = list(rows)

    def plant(original, path, split, make):
        make(Image.open(root / original), root / path)
        rows.append({"path": path, "label": original.split("/")[0], "split": split})

    def reencoded(image, path):
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=40)
        path.write_bytes(buffer.getvalue())

    def copied(image, path):
        shutil.copyfile(image.filename, path)  # the very bytes

    plant("coffee/coffee_00.jpg", "coffee/copy.jpg", "valid", copied)
    plant("chelsea/chelsea_00.jpg", "chelsea/reencoded.jpg", "valid", reencoded)
    plant(
        "rocket/rocket_11.jpg", "rocket/half.png", "valid", lambda i, p: i.resize((i.width // 2, i.height // 2)).save(p)
    )
    plant("moon/moon_00.jpg", "moon/again.jpg", "train", copied)
    plant(
        "china/china_11.jpg", "china/third.jpg", "train", lambda i, p: i.resize((i.width // 3, i.height // 3)).save(p)
    )
    return root, rows


@pytest.mark.parametrize("resolution", [160, 288])
def test_planted_copies_are_found_within_and_across_splits_and_nothing_else(planted, resolution):
    result, _ = check(*planted, resolution=resolution)
    found = {(p["kind"], p["a"], p["b"], tuple(p["splits"])) for p in result.pairs}
    assert found == {
        ("exact", "coffee/coffee_00.jpg", "coffee/copy.jpg", ("train", "valid")),
        ("near", "chelsea/chelsea_00.jpg", "chelsea/reencoded.jpg", ("train", "valid")),
        ("near", "rocket/rocket_11.jpg", "rocket/half.png", ("train", "valid")),
        ("exact", "moon/again.jpg", "moon/moon_00.jpg", ("train", "train")),
        ("near", "china/china_11.jpg", "china/third.jpg", ("train", "train")),
    }
    assert result.report["exact_duplicates"] == {"within_splits": 1, "across_splits": 1}
    assert result.report["near_duplicates"] == {"within_splits": 1, "across_splits": 2}
    assert [p["kind"] for p in result.pairs[:2]] == ["exact", "exact"]  # the worst first
    assert result.dropped == []  # report only
    assert any("3 validation/test image(s) duplicate another split's" in line for line in summary(result.report))


def test_drop_across_splits_leaves_the_validation_member_of_each_leak_out_of_the_cache(planted):
    result, out = check(*planted, duplicates="drop_across_splits")
    leaks = ["chelsea/reencoded.jpg", "coffee/copy.jpg", "rocket/half.png"]
    assert result.report["dropped_files"] == leaks and result.report["images"] == {"train": 28, "valid": 26}
    manifest = read_manifest(out)
    assert manifest["dropped"] == leaks and not set(leaks) & set(manifest["splits"]["valid"]["files"])
    valid = CachedSplit(out, "valid")
    assert len(valid) == 26 == len(valid.files) == len(manifest["splits"]["valid"]["sha256"])
    kept, _ = check(*planted)  # the same images, nothing dropped: every kept row holds the same pixels
    full = CachedSplit(planted[0].parent / f"{planted[0].name}-cache-report-160", "valid")
    rows = [full.files.index(name) for name in valid.files]
    assert (full[rows][0] == valid[list(range(26))][0]).all() and kept.dropped == []
