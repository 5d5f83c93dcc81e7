"""The quick starts' settings as the benchmarks use them: params.yaml with the `-S key=value` overrides that a
Makefile variable (DIGITS, PHOTOS) passes to `dvc exp run`, so a benchmark measures exactly what `make` runs."""

import copy
from pathlib import Path

import yaml

from pets.config.params import Loader, check_params, load_params
from pets.train.recipe import Recipe

ROOT = Path(__file__).resolve().parents[1]
PARAMS = load_params(ROOT / "params.yaml")


def makefile_overrides(variable):
    """{dotted key: value} of the `-S` flags in `variable := ...` of the Makefile, values read as DVC reads them."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith(f"{variable} :="))
    words = line.split(":=", 1)[1].split()
    return dict(flag.split("=", 1) for flag in words[1::2])


def quick_start_params(variable, changes=None):
    """params.yaml as `make <variable>` runs it, with further `changes` by dotted key ({'train.seed': 1})."""
    params = copy.deepcopy(PARAMS)
    for key, value in {**makefile_overrides(variable), **(changes or {})}.items():
        *parents, last = key.split(".")
        section = params
        for part in parents:
            section = section[part]
        section[last] = yaml.load(value, Loader=Loader) if isinstance(value, str) else value
    return check_params(params)


def quick_start_recipe(variable, changes=None):
    return Recipe.from_params(quick_start_params(variable, changes))
