"""The index stage's data check: images per class, and the same picture twice, byte for byte or re-encoded or
resized, within a split and across splits (a leak that flatters error_rate); drop_across_splits removes the leaks."""

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from pets.data.check import check_data, summary
from pets.data.photos import photographs, random_crop
from pets.errors import PetsError

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


def check(root, rows, duplicates="report", min_per_class=1):
    return check_data(rows, root, duplicates=duplicates, min_per_class=min_per_class, workers=1)


def test_a_set_without_duplicates_has_none(distinct):
    result = check(*distinct)
    assert result.pairs == [] and result.rows == distinct[1]
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


def test_planted_copies_are_found_within_and_across_splits_and_nothing_else(planted):
    result = check(*planted)
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
    assert result.rows == planted[1]  # report only: nothing dropped
    assert any("3 validation/test image(s) duplicate another split's" in line for line in summary(result.report))


def test_drop_across_splits_removes_the_validation_member_of_each_leak_only(planted):
    result = check(*planted, duplicates="drop_across_splits")
    assert result.report["dropped_files"] == ["chelsea/reencoded.jpg", "coffee/copy.jpg", "rocket/half.png"]
    assert {row["path"] for row in planted[1]} - {row["path"] for row in result.rows} == {
        "chelsea/reencoded.jpg", "coffee/copy.jpg", "rocket/half.png"
    }  # fmt: skip
    assert result.report["images"] == {"train": 28, "valid": 26}


def test_a_class_with_too_few_images_fails_naming_it(distinct):
    root, rows = distinct
    with pytest.raises(PetsError, match=r"class astronaut has 4 image\(s\), fewer than index.min_per_class \(5\), "
                       r"and 12 more class\(es\) too: add pictures"):  # fmt: skip
        check(root, rows, min_per_class=5)
    one = [row for row in rows if row["label"] != "coffee" or row["path"].endswith("00.jpg")]
    with pytest.raises(PetsError, match=r"^class coffee has 1 image\(s\), fewer than index.min_per_class \(2\):"):
        check(root, one, min_per_class=2)
    result = check(root, one, min_per_class=1)
    assert result.report["smallest_class"] == {"class": "coffee", "images": 1}
    assert result.report["largest_class"]["images"] == 4 and result.report["imbalance"] == 4.0


def test_an_undecodable_image_is_still_compared_by_its_bytes(distinct, tmp_path):
    root, rows = distinct
    (tmp_path / "a").mkdir()
    (tmp_path / "a/x.jpg").write_bytes(b"not an image")
    (tmp_path / "a/y.jpg").write_bytes(b"not an image")
    rows = [{"path": "a/x.jpg", "label": "a", "split": "train"}, {"path": "a/y.jpg", "label": "a", "split": "valid"}]
    result = check(tmp_path, rows)
    assert [(p["kind"], p["a"], p["b"]) for p in result.pairs] == [("exact", "a/x.jpg", "a/y.jpg")]
