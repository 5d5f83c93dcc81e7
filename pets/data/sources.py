"""What the local files the params name look like now, so that DVC notices one replaced in place.

DVC re-runs a stage when its deps or params change; a local mirror (`file://` or a path), a folder of pictures, a
weights file named by `weights` or the label fixes named by `index.fixes` is neither, so the `sources` stage, which
DVC runs every time, writes these records, and the stages that read the files (download, index, train) depend on
them.
"""

import hashlib
from pathlib import Path

from pets.config.schema import recipe_kind
from pets.config.weights import Weights
from pets.data.fetch import local_path
from pets.data.folder import resolve, tree_state
from pets.errors import PetsError


def local_files(name, recipe):
    """[{url, size, mtime_ns}] of each archive of `recipe` that is a local file, in order ({url, missing: true}
    for one that is not there); for a folder recipe, [{folder, path, files: [[name, size, mtime_ns], ...]}]: adding,
    removing or replacing a picture changes it (and raises PetsError for a folder that cannot be used)."""
    if recipe_kind(recipe) == "folder":
        path = resolve(recipe["folder"])
        return [{"folder": recipe["folder"], "path": str(path), "files": tree_state(path, name)}]
    records = []
    for url in archive_urls(recipe):
        path = local_path(url)
        if path is not None:  # a remote URL is recorded by its param already
            records.append({"url": url, **file_state(path)})
    return records


def weights_file(weights):
    """{weights, size, mtime_ns} of the file the `weights` param names ({weights, missing: true} when it is not
    there); just {weights} for the library's own."""
    parsed = Weights.parse(weights)
    return {"weights": weights, **(file_state(parsed.path) if parsed.kind == "file" else {})}


def fixes_file(fixes):
    """{fixes, sha256} of the labels_fix.csv the `index.fixes` param names (read whole: it is small, and a fix edited
    within the same second must not be missed); just {fixes} when there is none."""
    if not fixes:
        return {"fixes": fixes}
    try:
        return {"fixes": fixes, "sha256": hashlib.sha256(Path(fixes).read_bytes()).hexdigest()}
    except FileNotFoundError:
        raise PetsError(
            f"{fixes}: label fixes not found (params.yaml: index.fixes); write it (rows file,label or file,-) "
            "or set index.fixes: ''"
        ) from None
    except OSError as error:
        raise PetsError(f"{fixes}: cannot read it ({error.strerror}) (params.yaml: index.fixes)") from None


def file_state(path):
    try:
        status = path.stat()
    except OSError:
        return {"missing": True}
    return {"size": status.st_size, "mtime_ns": status.st_mtime_ns}


def archive_urls(recipe):
    """The URL of every archive in the recipe's sources. Anything malformed is skipped: the download stage checks
    the recipe and says what is wrong in one line."""
    sources = recipe.get("sources") if isinstance(recipe, dict) else None
    for source in sources if isinstance(sources, list) else []:
        archives = source.get("archives") if isinstance(source, dict) else None
        for archive in archives if isinstance(archives, list) else []:
            if isinstance(archive, dict) and isinstance(archive.get("url"), str):
                yield archive["url"]
