"""The quick starts' settings as the benchmarks use them: params.yaml with a quick start's values
(quickstarts.yaml), as `python -m pets quickstart NAME` (make photos, make digits) writes them, so a benchmark
measures exactly what `make` runs."""

import json
from pathlib import Path

from pets.config.params import check_params, load_params
from pets.config.quickstarts import load_quickstarts, quickstart_params
from pets.train.recipe import Recipe

ROOT = Path(__file__).resolve().parents[1]
PARAMS = load_params(ROOT / "params.yaml")
QUICKSTARTS = load_quickstarts(ROOT / "quickstarts.yaml")


def quick_start_flags(name, changes=None):
    """`dvc exp run` flags (-S key=value) of quick start `name` with further `changes`, for a fresh clone."""
    values = {**(QUICKSTARTS[name] or {}), **(changes or {})}
    return [word for key, value in values.items() for word in ("-S", f"{key}={json.dumps(value).strip(chr(34))}")]


def quick_start_params(name, changes=None):
    """params.yaml as `make <name>` runs it, with further `changes` by dotted key ({'train.seed': 1})."""
    values = {**(QUICKSTARTS[name] or {}), **(changes or {})}
    return check_params(quickstart_params(committed=PARAMS, workspace=PARAMS, values=values))


def quick_start_recipe(name, changes=None):
    return Recipe.from_params(quick_start_params(name, changes))
