"""The built-in photos: one class per bundled photograph, training and validation crops from disjoint parts."""

import csv
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from pets.config.schema import check_recipe
from pets.data import photos
from pets.data.recipes import prepare_dataset
from pets.errors import PetsError
from tests.helpers import ROOT


def test_every_photograph_gives_its_class_the_asked_number_of_pets_like_jpegs(tmp_path):
    assert photos.write_photos(tmp_path, train_per_class=2, valid_per_class=3) == 13 * 5
    with open(tmp_path / "labels.csv", newline="") as table:
        rows = list(csv.DictReader(table))
    assert {r["label"] for r in rows} == set(photos.photographs()) and len(rows) == 65
    for name in photos.photographs():
        splits = [r["split"] for r in rows if r["label"] == name]
        assert splits.count("train") == 2 and splits.count("valid") == 3
    for row in rows[:10]:
        with Image.open(tmp_path / row["file"]) as image:
            assert (
                image.format == "JPEG"
                and 400 <= max(image.size) <= 500
                and 3 / 4 <= image.width / image.height <= 4 / 3
            )


def test_training_and_validation_crops_come_from_disjoint_parts(tmp_path, monkeypatch):
    """A photograph whose training quadrants are red, validation quadrants blue and the band between them white."""
    height, width = 300, 400
    picture = np.full((height, width, 3), 255, np.uint8)
    band = (slice(round(height * 0.45), round(height * 0.55)), slice(round(width * 0.45), round(width * 0.55)))
    rows, columns = np.mgrid[:height, :width]
    top, left = rows < band[0].start, columns < band[1].start
    bottom, right = rows >= band[0].stop, columns >= band[1].stop
    picture[(top & left) | (bottom & right)] = (255, 0, 0)
    picture[(top & right) | (bottom & left)] = (0, 0, 255)
    monkeypatch.setattr(photos, "photographs", lambda: {"flag": picture})
    photos.write_photos(tmp_path, train_per_class=20, valid_per_class=20, seed=3)
    for n in range(1, 41):
        pixels = np.asarray(Image.open(tmp_path / f"images/flag_{n}.jpg"), dtype=int).reshape(-1, 3).mean(0)
        expected = (255, 0, 0) if n <= 20 else (0, 0, 255)
        assert np.abs(pixels - expected).max() < 12, (n, pixels)  # no other colour, no white band


def test_the_recipe_sets_the_few_shot_count_and_rejects_unknown_or_wrong_options(tmp_path):
    prepare_dataset("photos", {"builtin": "photos", "train_per_class": 2, "valid_per_class": 1}, tmp_path / "raw", None)
    assert len(list((tmp_path / "raw/images").iterdir())) == 13 * 3
    with pytest.raises(
        PetsError,
        match="datasets.photos: unknown key shots for builtin photos; allowed: builtin, "
        "train_per_class, valid_per_class, seed",
    ):
        check_recipe("photos", {"builtin": "photos", "shots": 2})
    with pytest.raises(PetsError, match=r"params.yaml: datasets.photos.train_per_class is 0; it must be >= 1"):
        check_recipe("photos", {"builtin": "photos", "train_per_class": 0})
    assert not (tmp_path / "other").exists()


def test_more_crops_than_the_photographs_give_are_refused_with_the_maximum_and_the_disk_checked_first(
    tmp_path, monkeypatch
):
    with pytest.raises(PetsError, match=r"datasets.photos.train_per_class is 100000000; it must be <= 500"):
        check_recipe("photos", {"builtin": "photos", "train_per_class": 100_000_000})
    check_recipe("photos", {"builtin": "photos", "train_per_class": 500, "valid_per_class": 500})
    monkeypatch.setattr(photos.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 10_000_000})())
    with pytest.raises(PetsError, match=r"the photos need about 780,000,000 bytes for 13,000 crops but only "
                       r"10,000,000 are free in .*; free some space or ask for fewer crops"):  # fmt: skip
        photos.write_photos(tmp_path, train_per_class=500, valid_per_class=500)
    assert list((tmp_path / "images").iterdir()) == []  # stopped before writing one


def test_scikit_learns_photographs_are_its_own_pixels_read_without_importing_it():
    from sklearn.datasets import load_sample_images  # noqa: PLC0415 - what the stage no longer imports

    china, flower = load_sample_images().images
    assert np.array_equal(photos.photographs()["china"], china)
    assert np.array_equal(photos.photographs()["flower"], flower)
    script = "import sys; from pets.data.photos import photographs; photographs(); print('sklearn' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"
