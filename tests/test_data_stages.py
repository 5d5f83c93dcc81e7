"""End to end: the real `dvc repro` of download, index and cache, on digits and on a Pets-shaped archive."""

import hashlib

import numpy as np
import pytest

from tests.httpserver import FileServer
from tests.pets_archive import pets_shaped_archives, tar_bytes
from tests.project import Project, stages_run

pytestmark = pytest.mark.e2e  # a copy of the project, real dvc commands


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
    assert project.run("git", "check-ignore", "data/raw", "data/cache", check=False).split() == [
        "data/raw",
        "data/cache",
    ]

    assert stages_run(project.run("dvc", "repro", "cache")) == []

    project.set_params(index__valid_frac=0.3)
    assert stages_run(project.run("dvc", "repro", "cache")) == ["index", "cache"]
    assert project.json("metrics/index.json")["splits"] == {"train": 1258, "valid": 539}


def test_pets_shaped_archive_over_http_with_a_failing_first_source(project):
    images, annotations, n_images = pets_shaped_archives()
    with FileServer({"/pets/images.tar.gz": images, "/pets/annotations.tar.gz": annotations}) as server:
        project.set_params(
            size=16,
            cache__resolution=16,
            index__min_per_class=3,  # the archive's three images a breed
            datasets__pets__sources=[
                {"archives": [{"url": f"{server.url}/gone/oxford-iiit-pet.tgz"}]},
                {
                    "archives": [
                        {
                            "url": f"{server.url}/pets/images.tar.gz",
                            "sha256": hashlib.sha256(images).hexdigest(),
                            "size": len(images),
                        },
                        {
                            "url": f"{server.url}/pets/annotations.tar.gz",
                            "sha256": hashlib.sha256(annotations).hexdigest(),
                        },
                    ]
                },
            ],
        )
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
    assert len(list((project.path / "data/downloads").glob("*/images.tar.gz"))) == 1  # kept: never fetched twice


def test_a_download_that_is_no_archive_is_deleted_so_the_next_run_fetches_it_again(tmp_path):
    from pets.data.recipes import prepare_dataset
    from pets.errors import PetsError

    images, annotations, _ = pets_shaped_archives()
    with FileServer({"/images.tar.gz": b"<p>not an archive</p>"}) as server:
        recipe = {"sources": [{"archives": [{"url": f"{server.url}/images.tar.gz"}]}]}
        with pytest.raises(
            PetsError,
            match=r"images.tar.gz: not a tar or zip archive .*; deleted it: the next run "
            r"downloads it again",
        ) as error:
            prepare_dataset("pets", recipe, tmp_path / "raw", tmp_path / "downloads")
        assert "\n" not in str(error.value)
        assert not [p for p in (tmp_path / "downloads").rglob("*") if p.is_file()]
        server.files["/images.tar.gz"] = images
        prepare_dataset("pets", recipe, tmp_path / "raw", tmp_path / "downloads")
    assert len(server.requests) == 2 and (tmp_path / "raw/images").is_dir()


@pytest.mark.parametrize("as_url", [str, lambda path: path.as_uri()], ids=["path", "file-url"])
def test_a_local_archive_replaced_in_place_is_unpacked_again(project, tmp_path, as_url):
    mirror = tmp_path / "mirror/cats.tar"
    mirror.parent.mkdir()
    mirror.write_bytes(tar_bytes({"images/cat_1.jpg": b"first"}, compress=False))
    project.set_params(data="mirror", datasets__mirror={"sources": [{"archives": [{"url": as_url(mirror)}]}]})
    assert stages_run(project.run("dvc", "repro", "download")) == ["download"]
    output = project.run("dvc", "repro", "download")
    assert "Running stage 'sources'" in output and stages_run(output) == []  # checked, and nothing to do
    mirror.write_bytes(tar_bytes({"images/cat_1.jpg": b"second", "images/cat_2.jpg": b"new"}, compress=False))
    assert stages_run(project.run("dvc", "repro", "download")) == ["download"]
    assert (project.path / "data/raw/images/cat_1.jpg").read_bytes() == b"second"
    assert (project.path / "data/raw/images/cat_2.jpg").read_bytes() == b"new"


def test_the_download_depends_on_the_recipe_in_use_only(project):
    project.set_params(
        data="photos", datasets__photos__train_per_class=2, datasets__photos__valid_per_class=1, index__min_per_class=3
    )
    assert stages_run(project.run("dvc", "repro", "download")) == ["download"]
    project.set_params(datasets__pets__max_unpacked_gb=32)  # another dataset's recipe
    assert project.up_to_date("download")
    project.set_params(datasets__photos__train_per_class=3)  # the recipe in use
    assert "datasets.photos" in project.run("dvc", "status", "download")
    assert stages_run(project.run("dvc", "repro", "download")) == ["download"]
    assert len(list((project.path / "data/raw/images").iterdir())) == 13 * 4
