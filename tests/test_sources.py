"""The sources stage: the local files the params name are recorded, so that DVC re-runs whatever reads one that
was replaced in place."""

import hashlib
import os

import pytest
import torch
import torchvision

from pets.config.weights import Weights
from pets.data.sources import local_files, weights_file
from pets.errors import PetsError
from tests.project import stages_run


def test_local_archives_are_recorded_by_size_and_content_and_remote_ones_left_to_their_params(tmp_path):
    archive = tmp_path / "images.tar"
    archive.write_bytes(b"tar")
    recipe = {
        "sources": [
            {"archives": [{"url": "https://example.com/images.tar"}, {"url": str(archive)}]},
            {"archives": [{"url": archive.as_uri()}, {"url": str(tmp_path / "gone.tar")}]},
        ]
    }
    first = local_files("pets", recipe, {})
    assert [record["url"] for record in first] == [str(archive), archive.as_uri(), str(tmp_path / "gone.tar")]
    assert first[0] == {"url": str(archive), "size": 3, "sha256": hashlib.sha256(b"tar").hexdigest()}
    assert first[2] == {"url": str(tmp_path / "gone.tar"), "missing": True}
    archive.write_bytes(b"tar, replaced")
    assert local_files("pets", recipe, {})[0]["size"] == 13
    assert local_files("digits", {"builtin": "digits"}, {}) == []


def test_a_malformed_recipe_is_left_for_the_download_stage_to_report():
    for recipe in (None, {"sources": "x"}, {"sources": [None, {"archives": 1}, {"archives": [{"url": 2}, "y"]}]}):
        assert local_files("pets", recipe, {}) == []


def test_a_weights_file_is_recorded_by_its_content_and_the_librarys_own_weights_by_name(tmp_path):
    weights = tmp_path / "body.pt"
    weights.write_bytes(b"weights")
    memo = {}
    assert weights_file(Weights.parse(str(weights)), memo) == {
        "weights": str(weights), "size": 7, "sha256": hashlib.sha256(b"weights").hexdigest()
    }  # fmt: skip
    assert weights_file(Weights.parse("imagenet"), memo) == {"weights": "imagenet"} and weights_file(
        Weights.parse("none"), memo
    ) == {"weights": "none"}


def test_weights_that_are_no_file_or_trains_own_output_fail_in_the_first_stage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PetsError, match=r"weights is 'gone.pt': no such file \(allowed: imagenet, none, or a file"):
        weights_file(Weights.parse("gone.pt"), {})
    with pytest.raises(PetsError, match=r"weights is 'ImageNet': no such file; did you mean imagenet\?"):
        weights_file(Weights.parse("ImageNet"), {})
    (tmp_path / "models").mkdir()
    (tmp_path / "models/model.pt").write_bytes(b"a trained model")
    with pytest.raises(PetsError, match=r"the train stage's own output, which DVC deletes before the stage runs; "
                       r"copy it aside \(cp models/model.pt models/start.pt\)"):  # fmt: skip
        weights_file(Weights.parse("models/model.pt"), {})


def test_a_file_replaced_by_one_of_the_same_size_and_mtime_is_noticed_and_an_unchanged_one_not_read(
    tmp_path, monkeypatch
):
    weights = tmp_path / "body.pt"
    weights.write_bytes(b"weights A")
    memo, before = {}, weights.stat()
    first = weights_file(Weights.parse(str(weights)), memo)
    replacement = tmp_path / "restored.pt"  # what rsync -t or a restore from backup does: same size, old mtime
    replacement.write_bytes(b"weights B")
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, weights)
    assert weights.stat().st_size == before.st_size and weights.stat().st_mtime_ns == before.st_mtime_ns
    assert (
        weights_file(Weights.parse(str(weights)), memo)["sha256"]
        == hashlib.sha256(b"weights B").hexdigest()
        != first["sha256"]
    )
    monkeypatch.setattr(hashlib, "file_digest", lambda *a: pytest.fail("read a file whose status did not change"))
    assert weights_file(Weights.parse(str(weights)), memo)["sha256"] == hashlib.sha256(b"weights B").hexdigest()


@pytest.mark.e2e  # a copy of the project, real dvc commands
def test_a_weights_file_replaced_in_place_trains_again(mini_cached, tmp_path):
    weights = tmp_path / "bodies/resnet18.pt"
    weights.parent.mkdir()
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18().state_dict(), weights)
    project = mini_cached.copy(tmp_path / "project")
    project.set_params(weights=str(weights))
    assert stages_run(project.run("dvc", "repro", "train")) == ["train"]
    output = project.run("dvc", "repro", "train")
    assert "Running stage 'sources'" in output and stages_run(output) == []  # checked, and nothing to do
    torch.save(torchvision.models.resnet18().state_dict(), weights)  # other weights under the same name
    assert stages_run(project.run("dvc", "repro", "train")) == ["train"]
