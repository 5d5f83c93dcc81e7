"""Bring a dataset recipe's data into one folder, by the recipe's kind: a built-in writer, archives fetched from
each source in turn and unpacked, or a local folder of pictures copied; renamed into place at the end.
pets.config.schema checks the recipes; this module prepares the data of one that passed."""

from pathlib import Path

from pets.atomic import atomic_folder
from pets.config.schema import DEFAULT_MAX_UNPACKED_GB, recipe_kind
from pets.data.archive import REDO, unpack
from pets.data.digits import write_digits
from pets.data.fetch import OFFLINE_HINT, Unreachable, fetch
from pets.data.folder import copy_tree, resolve
from pets.data.photos import write_photos
from pets.errors import PetsError

BUILTINS = {"digits": write_digits, "photos": write_photos}


def prepare_builtin(name, recipe, target, downloads):
    options = {key: value for key, value in recipe.items() if key != "builtin"}
    BUILTINS[recipe["builtin"]](target, **options)


def prepare_sources(name, recipe, target, downloads):
    """Try the recipe's sources in order. Verified archives stay in `downloads` (a partial one is resumed), so a
    failure while unpacking, or a later run, never fetches them again."""
    failures, sources = [], recipe["sources"]
    limit = int(recipe.get("max_unpacked_gb", DEFAULT_MAX_UNPACKED_GB) * 1e9)
    for position, source in enumerate(sources, 1):
        try:
            paths = [fetch(a["url"], downloads, a.get("sha256"), a.get("size")) for a in source["archives"]]
        except PetsError as error:
            failures.append(error)
            if position < len(sources):
                print(f"download: source {position} of {len(sources)} failed: {error}; trying source {position + 1}")
            continue
        for archive, path in zip(source["archives"], paths):
            try:
                unpack(path, target, strip=archive.get("strip", 0), max_bytes=limit)
            except PetsError as error:
                if Path(downloads) in Path(path).parents:  # a download of ours: never let it poison later runs
                    Path(path).unlink()
                    raise PetsError(
                        f"{str(error).removesuffix(REDO)}deleted it: the next run downloads it again"
                    ) from None
                raise
        return
    if all(isinstance(error, Unreachable) for error in failures):
        hosts = ", ".join(dict.fromkeys(error.host for error in failures))
        raise PetsError(
            f"no source of dataset {name} could be fetched: no network (cannot reach {hosts}); with a copy of the "
            f"archives on this machine, set their url to its path (datasets.{name} in params.yaml), {OFFLINE_HINT}"
        )
    said = " (the others are above)" if len(failures) > 1 else ""
    raise PetsError(f"no source of dataset {name} could be fetched{said}: {failures[-1]}")


def prepare_folder(name, recipe, target, downloads):
    folder = resolve(recipe["folder"])
    print(f"download: {copy_tree(folder, target, name)} files from {folder}")


# the kinds of pets.config.schema.RECIPE_KINDS
KINDS = {"builtin": prepare_builtin, "sources": prepare_sources, "folder": prepare_folder}


def prepare_dataset(name: str, recipe: dict, target: str | Path, downloads: str | Path | None) -> None:
    """Fill the folder `target` from a checked recipe; nothing is left at `target` unless it all worked."""
    with atomic_folder(target) as tmp:
        tmp.mkdir()
        KINDS[recipe_kind(recipe)](name, recipe, tmp, downloads)
