import copy
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from pets.config import schema
from pets.config.params import check_unchanged, load_params
from pets.config.settings import parse_params as check_params
from pets.errors import PetsError
from tests.helpers import ROOT


@pytest.fixture(scope="module")
def defaults():
    """params.yaml's tree as read."""
    return load_params(Path(__file__).resolve().parents[1] / "params.yaml").tree


def changed(params, key, value):
    params = copy.deepcopy(params)
    *path, last = key.split(".")
    section = params
    for part in path:
        section = section[part]
    section[last] = value
    return params


def test_the_shipped_params_are_valid(defaults):
    assert defaults["arch"] == "resnet34" and defaults["data"] == "pets"


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("data", "cifar", "data is 'cifar'; allowed: pets, digits"),
        ("index.valid_frac", 0, "index.valid_frac is 0; it must be > 0"),
        ("index.valid_frac", 1.5, "index.valid_frac is 1.5; it must be <= 1"),
        ("size", -3, "size is -3; it must be > 0"),
        ("train.batch_size", 0, "train.batch_size is 0"),
        ("train.batch_size", 2.5, "train.batch_size must be an integer"),
        ("train.lr_unfrozen", [1e-4, 1e-6], "the lowest rate comes first"),
        ("index.split", "officail", "did you mean official"),
        ("cache.resolution", 100, "cache.resolution (100) must be at least size (224)"),
        ("train.augment.flip", "no", "train.augment.flip must be true or false"),
        ("cache.max_bad_frac", float("nan"), "cache.max_bad_frac is nan; it must be a finite number"),
        ("train.lr", float("inf"), "train.lr is inf; it must be a finite number"),
        ("train.lr_unfrozen", [1e-6, float("nan")], "train.lr_unfrozen must be two positive learning rates"),
        ("index.seed", -1, "index.seed is -1; it must be >= 0"),
        ("train.seed", 2**40, "train.seed is 1099511627776; it must be <= 4294967295"),
        ("train.epochs_unfrozen", 0, "train.epochs and train.epochs_unfrozen are both 0; nothing would be trained"),
        (
            "arch",
            "resnet5O",
            "arch 'resnet5O' is neither a torchvision classification model nor a timm model; did you mean resnet50",
        ),
        ("size", 128, "size is 128, but vit_b_16 takes 224x224 images only; set size: 224"),
        ("train.body_groups", 200, "train.body_groups is 200, but resnet34's body has only 108 parameter tensors"),
        ("index.pattern", "^(.+_[0-9]+$", "is not a valid regex"),
        ("index.pattern", "^.+_\\d+$", "needs a group"),
        ("train.momentum", [0.95, 1.5], "train.momentum must be two momentums"),
        ("train.head", "fastai", "train.head: fastai is for timm models; resnet34 is torchvision's"),
        ("train.group_by", "stage", "did you mean stages"),
        ("datasets.digits.builtin", "digit", "datasets.digits.builtin is 'digit'; allowed: digits, photos"),
    ],
)
def test_bad_values_name_the_key(defaults, key, value, message):
    if key == "train.epochs_unfrozen":
        defaults = changed(defaults, "train.epochs", 0)
    if key == "size":
        defaults = changed(defaults, "arch", "vit_b_16")
    with pytest.raises(PetsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_params(changed(defaults, key, value))


def test_learning_rates_in_scientific_notation_are_numbers(tmp_path):
    """As `dvc exp run -S train.lr=0.00005` writes them (5e-05), and as people type them (1e-3)."""
    text = (Path(__file__).resolve().parents[1] / "params.yaml").read_text()
    text = text.replace("  lr: 0.002", "  lr: 5e-05").replace(
        "lr_unfrozen: [1.0e-6, 1.0e-4]", "lr_unfrozen: [1e-5, 1e-3]"
    )
    (tmp_path / "params.yaml").write_text(text)
    params = load_params(tmp_path / "params.yaml")
    assert params.train.lr == 5e-05 and params.train.lr_unfrozen == (1e-5, 1e-3)


def test_unknown_key_suggests_the_closest(defaults):
    params = copy.deepcopy(defaults)
    params["train"]["epoch"] = 3
    with pytest.raises(PetsError, match=r"unknown key train.epoch \(did you mean epochs"):
        check_params(params)


def test_yaml_is_read_safely(tmp_path):
    (tmp_path / "params.yaml").write_text("data: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(PetsError, match="not valid YAML"):
        load_params(tmp_path / "params.yaml")


def test_missing_key_is_named(defaults, tmp_path):
    params = copy.deepcopy(defaults)
    del params["train"]["lr"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(PetsError, match="missing key train.lr"):
        load_params(tmp_path / "params.yaml")


def test_params_edited_while_a_stage_ran_are_named(tmp_path):
    root = Path(__file__).resolve().parents[1]
    (tmp_path / "params.yaml").write_text((root / "params.yaml").read_text())
    params = load_params(tmp_path / "params.yaml")
    files = dict(path=tmp_path / "params.yaml", dvc_yaml=root / "dvc.yaml")
    check_unchanged(params, "train", **files)
    (tmp_path / "params.yaml").write_text((root / "params.yaml").read_text().replace("tta: false", "tta: true"))
    check_unchanged(params, "train", **files)  # not a param of train
    (tmp_path / "params.yaml").write_text((root / "params.yaml").read_text().replace("  lr: 0.002", "  lr: 0.01"))
    with pytest.raises(
        PetsError,
        match=r"params.yaml changed while the train stage ran \(train.lr was 0.002, is now "
        r"0.01\); nothing was recorded: run `dvc repro` again",
    ):
        check_unchanged(params, "train", **files)


def test_a_timm_model_without_stages_is_told_to_group_by_count(defaults):
    params = changed(changed(defaults, "arch", "timm/resnet34"), "train.body_groups", 5)
    check_params(params)  # timm's resnet34: 5 stages
    with pytest.raises(PetsError, match="train.body_groups is 6, but timm/resnet34's body has only 5 stages"):
        check_params(changed(params, "train.body_groups", 6))
    check_params(changed(changed(params, "train.body_groups", 6), "train.group_by", "count"))


def test_a_recipe_name_with_a_dot_is_refused_in_the_first_stage(defaults):
    params = copy.deepcopy(defaults)
    params["datasets"]["my.set"] = {"builtin": "digits"}
    with pytest.raises(
        PetsError, match=r"datasets.my.set: a recipe's name cannot hold a dot .*; rename it, e.g. my_set"
    ):
        check_params(params)


def test_more_processes_than_gpus_are_refused_on_a_gpu_machine(defaults, monkeypatch):
    monkeypatch.setattr(schema, "gpu_driver", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    check_params(changed(defaults, "train.devices", 2))
    with pytest.raises(PetsError, match=r"^params.yaml: train.devices is 3 but this machine has 2 GPU\(s\)$"):
        check_params(changed(defaults, "train.devices", 3))


def test_a_gpu_driver_is_seen_by_its_device_files_or_nvidia_smi(tmp_path, monkeypatch):
    monkeypatch.setattr(schema, "GPU_DRIVERS", (str(tmp_path / "nvidia"),))
    monkeypatch.setattr(schema.shutil, "which", lambda name: None)
    assert not schema.gpu_driver()
    (tmp_path / "nvidia").mkdir()
    assert schema.gpu_driver()
    monkeypatch.setattr(schema, "GPU_DRIVERS", ())
    monkeypatch.setattr(schema.shutil, "which", lambda name: "/usr/bin/nvidia-smi" if name == "nvidia-smi" else None)
    assert schema.gpu_driver()


def test_several_processes_asked_for_import_no_torch_where_no_gpu_driver_is():
    """Every stage parses params.yaml: on a machine without a GPU there is nothing to count, and torch's import is one
    to two seconds of each. (On a machine with fewer GPUs the refusal is expected.)"""
    script = (
        "import contextlib, sys; from pets.config.params import load_params; from pets.errors import PetsError\n"
        "from pets.config.schema import gpu_driver\n"
        "with contextlib.suppress(PetsError):\n"
        "    load_params(settings=('train.devices=3',))\n"
        "print('torch' in sys.modules, gpu_driver())\n"
    )
    said = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    imported, driver = said.split()
    assert imported == driver  # torch only to count GPUs where a driver is (False, False on the CPU machine)
