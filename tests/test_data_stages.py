"""End to end: the real `dvc repro` of download, index and cache, on digits and on a Pets-shaped archive."""

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.httpserver import FileServer
from tests.imagefiles import encode, gradient, jpeg_with_corrupt_data
from tests.project import Project, stages_run

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "oxford-iiit-pet"


@pytest.fixture
def project(tmp_path):
    return Project(tmp_path / "project", tmp_path / "torch_home")


def test_digits_up_to_cache_then_nothing_to_do_then_only_what_a_param_touches(project):
    project.set_params(data="digits", size=16, cache__resolution=16)
    output = project.run("dvc", "repro", "cache")
    assert stages_run(output) == ["download", "index", "cache"]
    manifest = project.json("data/cache/manifest.json")
    assert manifest["classes"] == [str(d) for d in range(10)]
    assert {s: len(v["labels"]) for s, v in manifest["splits"].items()} == {"train": 1438, "valid": 359}
    assert np.load(project.path / "data/cache/train.npy", mmap_mode="r").shape == (1438, 16, 16, 3)
    assert project.run("git", "check-ignore", "data/raw", "data/cache", check=False).split() == ["data/raw", "data/cache"]

    assert stages_run(project.run("dvc", "repro", "cache")) == []

    project.set_params(index__valid_frac=0.3)
    assert stages_run(project.run("dvc", "repro", "cache")) == ["index", "cache"]
    assert project.json("metrics/index.json")["splits"] == {"train": 1258, "valid": 539}


def pets_shaped_archives():
    """VGG-style images.tar.gz (a plain tar, as the real one) and annotations.tar.gz from the real names:
    three images per breed, the odd files the real archive has, and its three .mat files."""
    names = (SHARED / "images.txt").read_text().split()
    per_class = {}
    for name in names:
        if name.endswith(".jpg"):
            per_class.setdefault(name.rsplit("_", 1)[0], []).append(name)
    rng = np.random.default_rng(0)
    files = {}
    for breed, breed_names in per_class.items():
        for name in breed_names[:3]:
            pixels = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
            files[name] = encode(Image.fromarray(pixels), "JPEG")
    base = gradient()
    files.update({
        "Egyptian_Mau_129.jpg": encode(base.convert("L"), "JPEG"),
        "Abyssinian_34.jpg": encode(base.convert("P", palette=Image.Palette.ADAPTIVE), "GIF"),
        "Abyssinian_5.jpg": encode(base.convert("RGBA"), "PNG"),
        "Egyptian_Mau_156.jpg": encode(base, "PNG"),
        "beagle_116.jpg": jpeg_with_corrupt_data(base),
    })
    files.update({f"Abyssinian_{n}.mat": b"MATLAB 5.0 MAT-file" for n in (100, 101, 102)})
    images = tar_bytes({f"images/{name}": data for name, data in files.items()}, compress=False)
    annotations = tar_bytes({f"annotations/{name}": (SHARED / "annotations" / name).read_bytes()
                             for name in ("list.txt", "trainval.txt", "test.txt")}, compress=True)
    return images, annotations, len(files) - 3


def tar_bytes(members, compress):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if compress else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_pets_shaped_archive_over_http_with_a_failing_first_source(project):
    images, annotations, n_images = pets_shaped_archives()
    with FileServer({"/pets/images.tar.gz": images, "/pets/annotations.tar.gz": annotations}) as server:
        project.set_params(size=16, cache__resolution=16, datasets__pets__sources=[
            {"archives": [{"url": f"{server.url}/gone/oxford-iiit-pet.tgz"}]},
            {"archives": [
                {"url": f"{server.url}/pets/images.tar.gz", "sha256": hashlib.sha256(images).hexdigest(),
                 "size": len(images)},
                {"url": f"{server.url}/pets/annotations.tar.gz", "sha256": hashlib.sha256(annotations).hexdigest()},
            ]},
        ])
        output = project.run("dvc", "repro", "cache")
    assert stages_run(output) == ["download", "index", "cache"]
    assert "404" in output  # the first source failed and the next one was used
    assert (project.path / "data/raw/annotations/trainval.txt").is_file()
    report = project.json("metrics/index.json")
    assert report["classes"] == 37 and report["images"] == n_images
    assert sorted(s["path"] for s in report["skipped"]) == [f"images/Abyssinian_{n}.mat" for n in (100, 101, 102)]
    manifest = project.json("data/cache/manifest.json")
    assert manifest["bad"] == []
    assert sum(len(s["files"]) for s in manifest["splits"].values()) == n_images
    assert (project.path / "data/downloads/images.tar.gz").is_file()  # kept: never fetched twice
