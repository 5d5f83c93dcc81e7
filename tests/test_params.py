import copy
from pathlib import Path

import pytest
import yaml

from pets.errors import PetsError
from pets.params import check_params, load_params


@pytest.fixture(scope="module")
def defaults():
    return load_params(Path(__file__).resolve().parents[1] / "params.yaml")


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


@pytest.mark.parametrize("key, value, message", [
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
])
def test_bad_values_name_the_key(defaults, key, value, message):
    with pytest.raises(PetsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_params(changed(defaults, key, value))


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
