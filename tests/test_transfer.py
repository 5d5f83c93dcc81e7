"""End to end: lesson 1 for real, offline. `dvc exp run evaluate` fine-tunes the ImageNet EfficientNet-Lite0 (weights
from a package) on a slice of the built-in photos with the quick start's recipe, and it must learn from five images a
class (the export of such a model is tests/test_ship.py's).

A future change that breaks transfer (head, freezing, normalisation, layer groups, BatchNorm) turns this red:
the same slice from scratch is wrong on 71-86 % of the validation images.
"""

import pytest
import torch

from tests.project import Project, quick_start_args, stages_run

pytestmark = pytest.mark.e2e  # a copy of the project, real dvc commands

# A small slice of `make photos`: 5 training and 5 validation crops per photograph, 96 px, 4 + 1 epochs
# (bench/transfer.py's SLICE).
SLICE = [
    "-S",
    "datasets.photos.train_per_class=5",
    "-S",
    "datasets.photos.valid_per_class=5",
    "-S",
    "size=96",
    "-S",
    "cache.resolution=128",
    "-S",
    "train.epochs=4",
    "-S",
    "train.epochs_unfrozen=1",
]
MAX_ERROR = 0.25  # `python -m bench.transfer --slice`: 0.049 ± 0.038, at most 0.092 over 5 seeds


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    project = Project(root / "project", root / "torch_home")
    project.output = project.run("dvc", "exp", "run", "evaluate", *quick_start_args("photos"), *SLICE)
    return project


def test_the_imagenet_body_learns_the_photos_from_five_images_a_class(project):
    assert stages_run(project.output) == ["download", "index", "cache", "train", "evaluate"]
    index = project.json("metrics/index.json")
    assert index["classes"] == 13 and index["splits"] == {"train": 65, "valid": 65}
    valid = project.json("metrics/metrics.json")["valid"]
    assert valid["count"] == 65 and valid["error_rate"] <= MAX_ERROR, valid


def test_the_model_keeps_the_arch_and_the_normalisation_of_its_imagenet_weights(project):
    checkpoint = torch.load(project.path / "models/model.pt", weights_only=True)
    assert checkpoint["arch"] == "tf_efficientnet_lite0" and len(checkpoint["classes"]) == 13
    assert checkpoint["mean"] == [0.5] * 3 and checkpoint["std"] == [0.5] * 3
    assert checkpoint["state_dict"]["classifier.weight"].shape == (13, 1280)


def test_the_bigger_lite2_body_is_one_param_away_offline_and_learns_the_slice_too(project):
    """The README's next step after `make photos`: -S arch=tf_efficientnet_lite2, its weights from a package."""
    output = project.run("dvc", "exp", "run", "evaluate", "-S", "arch=tf_efficientnet_lite2")
    assert stages_run(output) == ["train", "evaluate"]
    valid = project.json("metrics/metrics.json")["valid"]
    assert valid["count"] == 65 and valid["error_rate"] <= MAX_ERROR, valid
    checkpoint = torch.load(project.path / "models/model.pt", weights_only=True)
    assert checkpoint["arch"] == "tf_efficientnet_lite2" and checkpoint["mean"] == [0.5] * 3
    assert checkpoint["state_dict"]["classifier.weight"].shape == (13, 1280)
