"""Bring a dataset recipe's data into one folder: fetch each source's archives, unpack, rename into place."""

import inspect
from pathlib import Path

from pets.archive import MAX_UNPACKED_BYTES, REDO, unpack
from pets.atomic import atomic_path
from pets.digits import write_digits
from pets.errors import PetsError
from pets.fetch import OFFLINE_HINT, Unreachable, fetch
from pets.params import number, text
from pets.photos import write_photos

BUILTINS = {"digits": write_digits, "photos": write_photos}
RECIPE_KEYS = {"builtin", "sources", "max_unpacked_gb"}


def sha256_hex(key, value):
    text(key, value)
    if len(value) != 64 or set(value.lower()) - set("0123456789abcdef"):
        raise PetsError(f"params.yaml: {key} is {value!r}; a sha256 is 64 hexadecimal digits")


ARCHIVE_RULES = {"url": text, "sha256": sha256_hex, "size": number(0, low_open=True, integer=True),
                 "strip": number(0, integer=True)}


def builtin_options(recipe):
    """The recipe's settings for its built-in writer (e.g. photos' train_per_class): integers, all of them."""
    return {key: value for key, value in recipe.items() if key not in RECIPE_KEYS}


def _check_builtin(name, recipe):
    where = f"params.yaml: datasets.{name}"
    if recipe["builtin"] not in BUILTINS:
        raise PetsError(f"{where}.builtin is {recipe['builtin']!r}; allowed: {', '.join(BUILTINS)}")
    allowed = list(inspect.signature(BUILTINS[recipe["builtin"]]).parameters)[1:]  # after the target folder
    for key, value in builtin_options(recipe).items():
        if key not in allowed:
            raise PetsError(f"{where}: unknown key {key} for builtin {recipe['builtin']}; "
                            f"allowed: {', '.join(['builtin', *allowed])}")
        number(0 if key == "seed" else 1, integer=True)(f"datasets.{name}.{key}", value)


def _check_recipe(name, recipe):
    where = f"params.yaml: datasets.{name}"
    if not isinstance(recipe, dict) or ("builtin" in recipe) == ("sources" in recipe):
        raise PetsError(f"{where} must have either `builtin: digits` or a list of `sources`")
    if "builtin" in recipe:
        _check_builtin(name, recipe)
        return
    if set(recipe) - RECIPE_KEYS:
        raise PetsError(f"{where}: unknown key(s) {', '.join(sorted(set(recipe) - RECIPE_KEYS))}; "
                        f"allowed: {', '.join(sorted(RECIPE_KEYS))}")
    if "max_unpacked_gb" in recipe:
        number(0, low_open=True)(f"datasets.{name}.max_unpacked_gb", recipe["max_unpacked_gb"])
    for i, source in enumerate(recipe["sources"] or []):
        archives = source.get("archives") if isinstance(source, dict) else None
        if not archives:
            raise PetsError(f"{where}.sources[{i}] must list its archives")
        for j, archive in enumerate(archives):
            if not isinstance(archive, dict) or "url" not in archive or set(archive) - set(ARCHIVE_RULES):
                raise PetsError(f"{where}.sources[{i}]: each archive needs a url and may have only "
                                f"{', '.join(sorted(ARCHIVE_RULES))}; got {archive!r}")
            for key, value in archive.items():
                ARCHIVE_RULES[key](f"datasets.{name}.sources[{i}].archives[{j}].{key}", value)
    if not recipe["sources"]:
        raise PetsError(f"{where}.sources is empty")


def prepare_dataset(name, recipe, target, downloads):
    """Fill the folder `target` from the recipe, trying its sources in order.

    Verified archives stay in `downloads` (a partial one is resumed), so a failure while
    unpacking, or a later run, never fetches them again.
    """
    _check_recipe(name, recipe)
    with atomic_path(target) as tmp:
        tmp.mkdir()
        if "builtin" in recipe:
            BUILTINS[recipe["builtin"]](tmp, **builtin_options(recipe))
            return
        failures, sources = [], recipe["sources"]
        for position, source in enumerate(sources, 1):
            try:
                paths = [fetch(a["url"], downloads, a.get("sha256"), a.get("size")) for a in source["archives"]]
            except PetsError as error:
                failures.append(error)
                if position < len(sources):
                    print(f"download: source {position} of {len(sources)} failed: {error}; "
                          f"trying source {position + 1}")
                continue
            limit = int(recipe.get("max_unpacked_gb", MAX_UNPACKED_BYTES / 1e9) * 1e9)
            for archive, path in zip(source["archives"], paths):
                try:
                    unpack(path, tmp, strip=archive.get("strip", 0), max_bytes=limit)
                except PetsError as error:
                    if Path(downloads) in Path(path).parents:  # a download of ours: never let it poison later runs
                        Path(path).unlink()
                        raise PetsError(f"{str(error).removesuffix(REDO)}deleted it: the next run downloads it "
                                        "again") from None
                    raise
            return
        hint = f"; {OFFLINE_HINT}" if any(isinstance(error, Unreachable) for error in failures) else ""
        raise PetsError(f"no source of dataset {name} could be fetched: {' | '.join(map(str, failures))}{hint}")
