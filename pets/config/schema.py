"""The rules of params.yaml's values: each key's rule (pets.config.settings attaches one to every field), the rules
of the dataset recipes, and those that relate keys (arch and size, ...). Each message names the key and what is
allowed."""

import difflib
import math
import re
import shutil
from pathlib import Path

from pets.config import archs
from pets.errors import PetsError


def closest(word, choices):
    close = difflib.get_close_matches(str(word), list(choices), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def one_of(*choices):
    def check(key, value):
        if value not in choices:
            raise PetsError(
                f"params.yaml: {key} is {value!r}; allowed: {', '.join(map(str, choices))}{closest(value, choices)}"
            )

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


def optional_text(key, value):
    if not isinstance(value, str):
        raise PetsError(f"params.yaml: {key} must be a string ('' for none), not {value!r}")


def flag(key, value):
    if not isinstance(value, bool):
        raise PetsError(f"params.yaml: {key} must be true or false, not {value!r}")


def lr_range(key, value):
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in value)
    ):
        raise PetsError(f"params.yaml: {key} must be two positive learning rates [lowest, highest], not {value!r}")
    if value[0] > value[1]:
        raise PetsError(f"params.yaml: {key} is {value}; the lowest rate comes first")


def count_or_auto(key, value):
    if value != "auto" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise PetsError(f"params.yaml: {key} is {value!r}; allowed: a positive integer or auto")


def momentum_pair(key, value):
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1 for v in value)
    ):
        raise PetsError(
            f"params.yaml: {key} must be two momentums [at the ends, in the middle] of the one-cycle, "
            f"each in [0, 1), not {value!r}"
        )


def regex_with_group(key, value):
    text(key, value)
    try:
        pattern = re.compile(value)
    except re.error as error:
        raise PetsError(f"params.yaml: {key} {value!r} is not a valid regex ({error})") from None
    if pattern.groups < 1:
        raise PetsError(f"params.yaml: {key} {value!r} needs a group, e.g. '^(.+)_\\d+$'")


def host_port(key, value):
    """host:port, as torchrun's rendezvous endpoint takes it ([::1]:29400 for an IPv6 address)."""
    text(key, value)
    host, colon, port = value.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise PetsError(f"params.yaml: {key} is {value!r}; it must be host:port, e.g. 10.0.0.5:29400")


def mapping(key, value):
    if not isinstance(value, dict) or not value:
        raise PetsError(f"params.yaml: {key} must be a mapping of recipes")


SEED = number(0, 2**32 - 1, integer=True)  # what NumPy and torch generators both take


def sha256_hex(key, value):
    text(key, value)
    if len(value) != 64 or set(value.lower()) - set("0123456789abcdef"):
        raise PetsError(f"params.yaml: {key} is {value!r}; a sha256 is 64 hexadecimal digits")


ARCHIVE_RULES = {
    "url": text,
    "sha256": sha256_hex,
    "size": number(0, low_open=True, integer=True),
    "strip": number(0, integer=True),
}
# The built-in datasets and the options of each (the arguments of their writers in pets.data.recipes after the
# target folder; a test holds the two equal).
BUILTIN_OPTIONS = {"digits": (), "photos": ("train_per_class", "valid_per_class", "seed")}
# Crops per photograph and split at most: each split's crops come from two quadrants of one photograph, and well
# before this many every new crop overlaps others almost wholly (the data check counts them as near-duplicates).
MAX_CROPS = 500
SOURCES_KEYS = {"sources", "max_unpacked_gb"}
DEFAULT_MAX_UNPACKED_GB = 64  # a recipe without max_unpacked_gb: far above Pets (0.8 GB), stops a zip bomb early


def check_builtin(name, recipe):
    where = f"params.yaml: datasets.{name}"
    if recipe["builtin"] not in BUILTIN_OPTIONS:
        raise PetsError(f"{where}.builtin is {recipe['builtin']!r}; allowed: {', '.join(BUILTIN_OPTIONS)}")
    allowed = BUILTIN_OPTIONS[recipe["builtin"]]
    for key, value in recipe.items():
        if key == "builtin":
            continue
        if key not in allowed:
            raise PetsError(
                f"{where}: unknown key {key} for builtin {recipe['builtin']}; "
                f"allowed: {', '.join(['builtin', *allowed])}"
            )
        high = MAX_CROPS if key.endswith("_per_class") else 2**32 - 1
        number(0 if key == "seed" else 1, high, integer=True)(f"datasets.{name}.{key}", value)


def check_sources(name, recipe):
    where = f"params.yaml: datasets.{name}"
    if set(recipe) - SOURCES_KEYS:
        raise PetsError(
            f"{where}: unknown key(s) {', '.join(sorted(set(recipe) - SOURCES_KEYS))}; "
            f"allowed: {', '.join(sorted(SOURCES_KEYS))}"
        )
    if "max_unpacked_gb" in recipe:
        number(0, low_open=True)(f"datasets.{name}.max_unpacked_gb", recipe["max_unpacked_gb"])
    for i, source in enumerate(recipe["sources"] or []):
        archives = source.get("archives") if isinstance(source, dict) else None
        if not archives:
            raise PetsError(f"{where}.sources[{i}] must list its archives")
        for j, archive in enumerate(archives):
            if not isinstance(archive, dict) or "url" not in archive or set(archive) - set(ARCHIVE_RULES):
                raise PetsError(
                    f"{where}.sources[{i}]: each archive needs a url and may have only "
                    f"{', '.join(sorted(ARCHIVE_RULES))}; got {archive!r}"
                )
            for key, value in archive.items():
                ARCHIVE_RULES[key](f"datasets.{name}.sources[{i}].archives[{j}].{key}", value)
    if not recipe["sources"]:
        raise PetsError(f"{where}.sources is empty")


def check_folder(name, recipe):
    """A local folder of pictures; the sources stage checks that it is there and holds images."""
    if set(recipe) != {"folder"}:
        raise PetsError(
            f"params.yaml: datasets.{name}: unknown key(s) {', '.join(sorted(set(recipe) - {'folder'}))}; "
            "a folder recipe has only `folder: PATH`"
        )
    text(f"datasets.{name}.folder", recipe["folder"])


# The kinds of dataset recipe, by the key that marks each; pets.data.recipes has the code that prepares each kind.
RECIPE_KINDS = {"builtin": check_builtin, "sources": check_sources, "folder": check_folder}


def recipe_kind(recipe: object) -> str | None:
    """The kind of a recipe (a key of RECIPE_KINDS), or None when it has not exactly one."""
    kinds = [kind for kind in RECIPE_KINDS if kind in recipe] if isinstance(recipe, dict) else []
    return kinds[0] if len(kinds) == 1 else None


def check_recipe(name: str, recipe: object) -> None:
    kind = recipe_kind(recipe)
    if kind is None:
        raise PetsError(
            f"params.yaml: datasets.{name} must have one of `builtin: photos`, a list of `sources` or `folder: PATH`"
        )
    RECIPE_KINDS[kind](name, recipe)


def check_arch(arch: str, size: int, train) -> None:
    """arch, and what depends on it (size, train.body_groups, train.head: the Train settings), from the table of
    installed archs."""
    facts = archs.lookup(arch)
    if facts is None:
        raise PetsError(f"params.yaml: {archs.unknown(arch)}")
    if facts.fixed_size and size != facts.fixed_size:
        raise PetsError(
            f"params.yaml: size is {size}, but {arch} takes {facts.fixed_size}x{facts.fixed_size} images "
            f"only; set size: {facts.fixed_size} (and cache.resolution at least that)"
        )
    if facts.least_size and size < facts.least_size:
        raise PetsError(
            f"params.yaml: size is {size}, but {arch} takes images of at least {facts.least_size}x{facts.least_size}"
        )
    by_stages = facts.library == "timm" and train.group_by == "stages"
    if by_stages and facts.stages is None:
        raise PetsError(f"params.yaml: train.group_by is stages, but {arch} names no stages; set train.group_by: count")
    limit, parts = (facts.stages, "stages") if by_stages else (facts.tensors, "parameter tensors")
    if train.body_groups > limit:
        raise PetsError(
            f"params.yaml: train.body_groups is {train.body_groups}, but {arch}'s body has only {limit} {parts}"
        )
    if train.head == "fastai" and facts.library != "timm":
        raise PetsError(
            f"params.yaml: train.head: fastai is for timm models; {arch} is torchvision's "
            "(use timm/<name>, or head: linear)"
        )


# where a GPU driver shows itself: NVIDIA's kernel module, AMD's (torch.cuda on ROCm), WSL's GPU; or nvidia-smi
GPU_DRIVERS = ("/proc/driver/nvidia", "/dev/kfd", "/dev/dxg")


def gpu_driver() -> bool:
    """Whether this machine has a GPU driver torch.cuda could use; without one it has no GPU to count."""
    return any(Path(path).exists() for path in GPU_DRIVERS) or shutil.which("nvidia-smi") is not None


def check_devices(devices: int | str) -> None:
    """More processes than GPUs cannot run on a GPU machine (on the CPU, any number of processes share the cores).
    Asking torch costs one to two seconds, in every stage of a run (each parses params.yaml), so only when more than
    one device is asked for on a machine with a GPU driver."""
    if devices == "auto" or devices == 1 or not gpu_driver():
        return
    import torch  # noqa: PLC0415 - only here: torch takes seconds to import, every other check milliseconds

    if torch.cuda.is_available() and devices > torch.cuda.device_count():
        raise PetsError(
            f"params.yaml: train.devices is {devices} but this machine has {torch.cuda.device_count()} GPU(s)"
        )


def check_datasets(datasets: dict, data: str) -> None:
    """Every recipe of `datasets`, and `data` naming one of them."""
    for name, recipe in datasets.items():
        if "." in str(name):
            raise PetsError(
                f"params.yaml: datasets.{name}: a recipe's name cannot hold a dot (DVC reads datasets.${{data}} as "
                f"keys within keys); rename it, e.g. {str(name).replace('.', '_')}"
            )
        check_recipe(name, recipe)
    if data not in datasets:
        one_of(*datasets)("data", data)
