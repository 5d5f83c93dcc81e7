"""Bring a dataset recipe's data into one folder: fetch each source's archives, unpack, rename into place."""

from pets.archive import MAX_UNPACKED_BYTES, unpack
from pets.atomic import atomic_path
from pets.digits import write_digits
from pets.errors import PetsError
from pets.fetch import fetch

BUILTINS = {"digits": write_digits}
ARCHIVE_KEYS = {"url", "sha256", "size", "strip"}
RECIPE_KEYS = {"builtin", "sources", "max_unpacked_gb"}


def _check_recipe(name, recipe):
    where = f"params.yaml: datasets.{name}"
    if not isinstance(recipe, dict) or ("builtin" in recipe) == ("sources" in recipe):
        raise PetsError(f"{where} must have either `builtin: digits` or a list of `sources`")
    if set(recipe) - RECIPE_KEYS:
        raise PetsError(f"{where}: unknown key(s) {', '.join(sorted(set(recipe) - RECIPE_KEYS))}; "
                        f"allowed: {', '.join(sorted(RECIPE_KEYS))}")
    if "builtin" in recipe:
        if recipe["builtin"] not in BUILTINS:
            raise PetsError(f"{where}.builtin is {recipe['builtin']!r}; allowed: {', '.join(BUILTINS)}")
        return
    for i, source in enumerate(recipe["sources"] or []):
        archives = source.get("archives") if isinstance(source, dict) else None
        if not archives:
            raise PetsError(f"{where}.sources[{i}] must list its archives")
        for archive in archives:
            if not isinstance(archive, dict) or "url" not in archive or set(archive) - ARCHIVE_KEYS:
                raise PetsError(f"{where}.sources[{i}]: each archive needs a url and may have only "
                                f"{', '.join(sorted(ARCHIVE_KEYS))}; got {archive!r}")
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
            BUILTINS[recipe["builtin"]](tmp)
            return
        failures = []
        for source in recipe["sources"]:
            try:
                paths = [fetch(a["url"], downloads, a.get("sha256"), a.get("size")) for a in source["archives"]]
            except PetsError as error:
                failures.append(str(error))
                print(f"source failed: {error}")
                continue
            limit = int(recipe.get("max_unpacked_gb", MAX_UNPACKED_BYTES / 1e9) * 1e9)
            for archive, path in zip(source["archives"], paths):
                unpack(path, tmp, strip=archive.get("strip", 0), max_bytes=limit)
            return
        raise PetsError("no source of dataset " + name + " could be fetched: " + " | ".join(failures))
