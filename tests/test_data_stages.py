"""End to end: the real `dvc repro` of download, index and cache, on digits and on a Pets-shaped archive."""

import hashlib

import numpy as np
import pytest

from tests.httpserver import FileServer
from tests.pets_archive import pets_shaped_archives
from tests.project import Project, stages_run


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
