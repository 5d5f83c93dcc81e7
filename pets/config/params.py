"""Read params.yaml (checked by pets.config.schema) and notice when it changes under a running stage."""

import re
from pathlib import Path

import yaml

from pets.config.schema import check_params
from pets.errors import PetsError


class Loader(yaml.SafeLoader):
    """YAML 1.2's floats too: `5e-05` (as `dvc exp run -S train.lr=0.00005` writes it) and `1e-3` are numbers,
    where YAML 1.1, PyYAML's, reads them as strings."""


Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"),
)


def stage_param_keys(stage: str, dvc_yaml: str | Path = "dvc.yaml") -> list[str]:
    """The dotted params keys `stage` lists under `params:` in dvc.yaml: the params it reads."""
    return yaml.safe_load(Path(dvc_yaml).read_text())["stages"][stage]["params"]


def check_unchanged(
    params: dict, stage: str, path: str | Path = "params.yaml", dvc_yaml: str | Path = "dvc.yaml"
) -> None:
    """Fail when a param `stage` reads (its `params:` in dvc.yaml) is no longer in params.yaml what the stage
    started with: DVC records params.yaml as it is when a stage ends, and would record params it never used."""
    now = yaml.load(Path(path).read_text(), Loader=Loader)
    for key in stage_param_keys(stage, dvc_yaml):
        changed = _first_difference(params, now, key.split("."))
        if changed:
            raise PetsError(
                f"params.yaml changed while the {stage} stage ran ({changed[0]} was {changed[1]!r}, is now "
                f"{changed[2]!r}); nothing was recorded: run `dvc repro` again"
            )


def _first_difference(before, after, path, done=()):
    """(dotted key, old, new) of the first value below `path` that differs between two params trees, or None."""

    def pick(tree):
        return tree.get(path[0]) if isinstance(tree, dict) else None

    if path:
        return _first_difference(pick(before), pick(after), path[1:], (*done, path[0]))
    if isinstance(before, dict) and isinstance(after, dict):
        return next(
            filter(
                None,
                (
                    _first_difference(before.get(k), after.get(k), [], (*done, k))
                    for k in sorted(set(before) | set(after), key=str)
                ),
            ),
            None,
        )
    return (".".join(done), before, after) if before != after else None


def load_params(path: str | Path = "params.yaml") -> dict:
    path = Path(path)
    try:
        params = yaml.load(path.read_text(), Loader=Loader)
    except FileNotFoundError:
        raise PetsError(f"{path} not found: run the stages from the project's root folder") from None
    except yaml.YAMLError as error:
        raise PetsError(f"{path} is not valid YAML: {' '.join(str(error).split())}") from None
    return check_params(params)
