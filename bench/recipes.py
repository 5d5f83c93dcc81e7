"""The quick starts' settings as the benchmarks use them: params.yaml with a quick start's values
(quickstarts.yaml), as `python -m pets quickstart NAME` (make photos, make digits) writes them, so a benchmark
measures exactly what `make` runs."""

import json
from pathlib import Path

from pets.config.params import load_params
from pets.config.settings import Params, parse_params
from pets.workspace.quickstarts import load_quickstarts, quickstart_params

ROOT = Path(__file__).resolve().parents[1]
PARAMS = load_params(ROOT / "params.yaml")
QUICKSTARTS = load_quickstarts(ROOT / "quickstarts.yaml")


def quick_start_flags(name, changes=None):
    """`dvc exp run` flags (-S key=value) of quick start `name` with further `changes`, for a fresh clone."""
    values = {**(QUICKSTARTS[name] or {}), **(changes or {})}
    return [word for key, value in values.items() for word in ("-S", f"{key}={json.dumps(value).strip(chr(34))}")]


def quick_start_params(name, changes=None) -> Params:
    """params.yaml as `make <name>` runs it, with further `changes` by dotted key ({'train.seed': 1})."""
    values = {**(QUICKSTARTS[name] or {}), **(changes or {})}
    return parse_params(quickstart_params(committed=PARAMS.tree, workspace=PARAMS.tree, values=values))
