"""What the local files the params name look like now, so that DVC notices one replaced in place.

DVC re-runs a stage when its deps or params change; a local mirror (`file://` or a path), a folder of pictures, a
weights file named by `weights` or the label fixes named by `index.fixes` is neither, so the `sources` stage, which
DVC runs every time, writes these records, and the stages that read the files (download, index, train) depend on
them.
"""

from pathlib import Path

from pets.config import layout
from pets.config.schema import recipe_kind
from pets.config.weights import Weights
from pets.data.fetch import local_path
from pets.data.folder import resolve, tree_state
from pets.digest import file_sha256
from pets.errors import PetsError


def local_files(name, recipe, memo):
    """[{url, size, sha256}] of each archive of `recipe` that is a local file, in order ({url, missing: true}
    for one that is not there); for a folder recipe, [{folder, path, files: [[name, size, mtime_ns], ...]}]: adding,
    removing or replacing a picture changes it (and raises PetsError for a folder that cannot be used). `memo`
    holds the hashes already computed (content_state)."""
    if recipe_kind(recipe) == "folder":
        path = resolve(recipe["folder"])
        return [{"folder": recipe["folder"], "path": str(path), "files": tree_state(path, name)}]
    records = []
    for url in archive_urls(recipe):
        path = local_path(url)
        if path is not None:  # a remote URL is recorded by its param already
            records.append({"url": url, **content_state(path, memo)})
    return records


def weights_file(weights: Weights, memo):
    """{weights, size, sha256} of the file the `weights` param names; just {weights} for the library's own. Raises
    PetsError, from the first stage, for a file that is not there or that DVC will delete (models/model.pt)."""
    if weights.kind != "file":
        return {"weights": weights.kind}
    parsed, weights = weights, str(weights.path)
    if parsed.path.absolute() == layout.MODEL.absolute():
        raise PetsError(
            f"params.yaml: weights is {weights}, the train stage's own output, which DVC deletes before the stage "
            f"runs; copy it aside (cp {layout.MODEL} models/start.pt) and set weights: models/start.pt"
        )
    state = content_state(parsed.path, memo)
    if state.get("missing"):
        hint = f"; did you mean {weights.lower()}?" if weights.lower() in ("imagenet", "none") else ""
        raise PetsError(
            f"params.yaml: weights is {weights!r}: no such file{hint} (allowed: imagenet, none, or a file's path)"
        )
    return {"weights": weights, **state}


def fixes_file(fixes):
    """{fixes, sha256} of the labels_fix.csv the `index.fixes` param names (read whole: it is small, and a fix edited
    within the same second must not be missed); just {fixes} when there is none."""
    if not fixes:
        return {"fixes": fixes}
    try:
        return {"fixes": fixes, "sha256": file_sha256(fixes)}
    except FileNotFoundError:
        raise PetsError(
            f"{fixes}: label fixes not found (params.yaml: index.fixes); write it (rows file,label or file,-) "
            "or set index.fixes: ''"
        ) from None
    except OSError as error:
        raise PetsError(f"{fixes}: cannot read it ({error.strerror}) (params.yaml: index.fixes)") from None


def content_state(path, memo):
    """{size, sha256} of a file, or {missing: true}. The content, not the modification time: a file replaced by
    another of the same size with the old mtime (touch -r, rsync -t, a restore) is noticed. The hash is read from
    `memo` ({path: [size, mtime_ns, ctime_ns, inode, sha256]}) while the file's status is unchanged, so a run with
    nothing changed reads no file; the ctime, which no tool sets back, changes with any write or replacement."""
    try:
        status = Path(path).stat()
    except OSError:
        return {"missing": True}
    key, identity = str(Path(path).absolute()), [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino]
    if key not in memo or memo[key][:4] != identity:
        try:
            memo[key] = [*identity, file_sha256(path)]
        except OSError as error:
            raise PetsError(f"{path}: cannot read it ({error.strerror})") from None
    return {"size": status.st_size, "sha256": memo[key][4]}


def archive_urls(recipe):
    """The URL of every archive in the recipe's sources. Anything malformed is skipped: the download stage checks
    the recipe and says what is wrong in one line."""
    sources = recipe.get("sources") if isinstance(recipe, dict) else None
    for source in sources if isinstance(sources, list) else []:
        archives = source.get("archives") if isinstance(source, dict) else None
        for archive in archives if isinstance(archives, list) else []:
            if isinstance(archive, dict) and isinstance(archive.get("url"), str):
                yield archive["url"]
