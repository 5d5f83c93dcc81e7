"""A wrong param fails in the first stage, before anything is downloaded or computed: the sources stage, which DVC
runs first and every time, checks the whole of params.yaml. On a fresh clone `dvc exp run -S arch=resnet5O` would
otherwise download and cache Pets (minutes, 0.8 GB) before the train stage said the name was wrong."""

import pytest

from tests.project import Project

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    root = tmp_path_factory.mktemp("fail-fast")
    return Project(root / "project", root / "torch_home")


@pytest.mark.parametrize(
    "change, message",
    [
        (
            "arch=resnet5O",
            "error: params.yaml: arch 'resnet5O' is neither a torchvision classification model nor a timm "
            "model; did you mean resnet50",
        ),
        ("size=128", "size is 128, but vit_b_16 takes 224x224 images only"),
        ("train.body_groups=9", "train.body_groups is 9, but tf_efficientnet_lite0's body has only 8 stages"),
        ("index.pattern=nogroup", "index.pattern 'nogroup' needs a group"),
        ("train.head=fastai", "train.head: fastai is for timm models; resnet34 is torchvision's"),
    ],
)
def test_a_wrong_param_stops_the_first_stage_with_one_line(fresh, change, message):
    arch = {"size=128": "vit_b_16", "train.body_groups=9": "tf_efficientnet_lite0"}.get(change, "resnet34")
    output = fresh.run("dvc", "exp", "run", "-S", f"arch={arch}", "-S", change, check=False)
    ran = [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")]
    assert ran == ["sources"], output[-2000:]  # Pets is neither downloaded nor cached
    assert message in output
    assert not (fresh.path / "data/raw").exists() and not (fresh.path / "data/downloads").exists()
    fresh.run("git", "checkout", "params.yaml")


def test_a_weights_file_of_another_arch_stops_the_first_stage_with_one_line(fresh, tmp_path):
    """Reading its keys and shapes only: refused before anything is downloaded, not at the train stage's build."""
    import torch
    import torchvision

    torch.save(torchvision.models.resnet34().state_dict(), tmp_path / "resnet34.pt")
    output = fresh.run("dvc", "exp", "run", "-S", "arch=resnet18", "-S", f"weights={tmp_path / 'resnet34.pt'}",
                       check=False)  # fmt: skip
    ran = [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")]
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert ran == ["sources"] and len(errors) == 1, output[-2000:]
    assert errors[0].startswith(f"error: params.yaml: weights {tmp_path / 'resnet34.pt'}: these weights do not fit "
                                "resnet18, they are weights of resnet34 or ")  # fmt: skip
    assert not (fresh.path / "data/raw").exists()
    fresh.run("git", "checkout", "params.yaml")
