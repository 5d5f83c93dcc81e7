"""Read params.yaml and check every value before any work starts."""

import difflib
import math
import re
from pathlib import Path

import yaml

from pets.errors import PetsError


def _closest(word, choices):
    close = difflib.get_close_matches(str(word), list(choices), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def one_of(*choices):
    def check(key, value):
        if value not in choices:
            raise PetsError(f"params.yaml: {key} is {value!r}; allowed: {', '.join(map(str, choices))}{_closest(value, choices)}")
    return check


def number(low=None, high=None, low_open=False, integer=False):
    def check(key, value):
        kind = "an integer" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
            raise PetsError(f"params.yaml: {key} must be {kind}, not {value!r}")
        if not math.isfinite(value):
            raise PetsError(f"params.yaml: {key} is {value}; it must be a finite number")
        if low is not None and (value <= low if low_open else value < low):
            raise PetsError(f"params.yaml: {key} is {value}; it must be {'>' if low_open else '>='} {low}")
        if high is not None and value > high:
            raise PetsError(f"params.yaml: {key} is {value}; it must be <= {high}")
    return check


def text(key, value):
    if not isinstance(value, str) or not value:
        raise PetsError(f"params.yaml: {key} must be a non-empty string, not {value!r}")


def flag(key, value):
    if not isinstance(value, bool):
        raise PetsError(f"params.yaml: {key} must be true or false, not {value!r}")


def lr_range(key, value):
    if not (isinstance(value, list) and len(value) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in value)):
        raise PetsError(f"params.yaml: {key} must be two positive learning rates [lowest, highest], not {value!r}")
    if value[0] > value[1]:
        raise PetsError(f"params.yaml: {key} is {value}; the lowest rate comes first")


def count_or_auto(key, value):
    if value != "auto" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise PetsError(f"params.yaml: {key} is {value!r}; allowed: a positive integer or auto")


def mapping(key, value):
    if not isinstance(value, dict) or not value:
        raise PetsError(f"params.yaml: {key} must be a mapping of recipes")


SEED = number(0, 2**32 - 1, integer=True)  # what NumPy and torch generators both take

SCHEMA = {
    "data": text,
    "arch": text,
    "weights": text,
    "size": number(0, low_open=True, integer=True),
    "threads": count_or_auto,
    "datasets": mapping,
    "index": {
        "images": text,
        "label": one_of("regex", "folder", "csv"),
        "pattern": text,
        "csv": text,
        "split": one_of("random", "official", "csv"),
        "valid_frac": number(0, 1, low_open=True),
        "seed": SEED,
        "skip_unlabelled": flag,
    },
    "cache": {
        "resolution": number(0, low_open=True, integer=True),
        "resize": one_of("crop", "squish"),
        "max_bad_frac": number(0, 1),
        "workers": number(0, integer=True),
    },
    "train": {
        "seed": SEED,
        "batch_size": number(2, integer=True),  # BatchNorm cannot train on batches of one
        "epochs": number(0, integer=True),
        "epochs_unfrozen": number(0, integer=True),
        "lr": number(0, low_open=True),
        "lr_unfrozen": lr_range,
        "body_groups": number(1, integer=True),
        "weight_decay": number(0),
        "batchnorm_stats": one_of("pretrained", "batch"),
        "devices": count_or_auto,
        "augment": {
            "min_scale": number(0, 1, low_open=True),
            "flip": flag,
            "max_rotate": number(0, 180),
            "max_zoom": number(1),
            "max_lighting": number(0, 1),
        },
    },
    "evaluate": {
        "tta": flag,
        "top_losses": number(0, integer=True),
    },
}


def _check(section, schema, prefix=""):
    if not isinstance(section, dict):
        raise PetsError(f"params.yaml: {prefix.rstrip('.') or 'the file'} must be a mapping")
    for key in section:
        if key not in schema:
            raise PetsError(f"params.yaml: unknown key {prefix}{key}{_closest(key, schema)}; "
                            f"allowed here: {', '.join(schema)}")
    for key, rule in schema.items():
        if key not in section:
            raise PetsError(f"params.yaml: missing key {prefix}{key}")
        if isinstance(rule, dict):
            _check(section[key], rule, f"{prefix}{key}.")
        else:
            rule(f"{prefix}{key}", section[key])


def check_params(params):
    """Raise PetsError naming the first key whose value is wrong; return params unchanged."""
    _check(params, SCHEMA)
    if params["data"] not in params["datasets"]:
        one_of(*params["datasets"])("data", params["data"])
    if params["train"]["epochs"] + params["train"]["epochs_unfrozen"] == 0:
        raise PetsError("params.yaml: train.epochs and train.epochs_unfrozen are both 0; nothing would be trained")
    if params["cache"]["resolution"] < params["size"]:
        raise PetsError(f"params.yaml: cache.resolution ({params['cache']['resolution']}) must be at least "
                        f"size ({params['size']}): the cache stores images a little above the training size")
    return params


class Loader(yaml.SafeLoader):
    """YAML 1.2's floats too: `5e-05` (as `dvc exp run -S train.lr=0.00005` writes it) and `1e-3` are numbers,
    where YAML 1.1, PyYAML's, reads them as strings."""


Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
                             list("-+.0123456789"))


def stage_param_keys(stage, dvc_yaml="dvc.yaml"):
    """The dotted params keys `stage` lists under `params:` in dvc.yaml: the params it reads."""
    return yaml.safe_load(Path(dvc_yaml).read_text())["stages"][stage]["params"]


def check_unchanged(params, stage, path="params.yaml", dvc_yaml="dvc.yaml"):
    """Fail when a param `stage` reads (its `params:` in dvc.yaml) is no longer in params.yaml what the stage
    started with: DVC records params.yaml as it is when a stage ends, and would record params it never used."""
    now = yaml.load(Path(path).read_text(), Loader=Loader)
    for key in stage_param_keys(stage, dvc_yaml):
        changed = _first_difference(params, now, key.split("."))
        if changed:
            raise PetsError(f"params.yaml changed while the {stage} stage ran ({changed[0]} was {changed[1]!r}, is now "
                            f"{changed[2]!r}); nothing was recorded: run `dvc repro` again")


def _first_difference(before, after, path, done=()):
    """(dotted key, old, new) of the first value below `path` that differs between two params trees, or None."""
    def pick(tree):
        return tree.get(path[0]) if isinstance(tree, dict) else None

    if path:
        return _first_difference(pick(before), pick(after), path[1:], (*done, path[0]))
    if isinstance(before, dict) and isinstance(after, dict):
        return next(filter(None, (_first_difference(before.get(k), after.get(k), [], (*done, k))
                                  for k in sorted(set(before) | set(after), key=str))), None)
    return (".".join(done), before, after) if before != after else None


def load_params(path="params.yaml"):
    path = Path(path)
    try:
        params = yaml.load(path.read_text(), Loader=Loader)
    except FileNotFoundError:
        raise PetsError(f"{path} not found: run the stages from the project's root folder") from None
    except yaml.YAMLError as error:
        raise PetsError(f"{path} is not valid YAML: {' '.join(str(error).split())}") from None
    return check_params(params)
