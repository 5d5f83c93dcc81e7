"""What the local files the params name look like now, so that DVC notices one replaced in place.

DVC re-runs a stage when its deps or params change; a local mirror (`file://` or a path) or a weights file named
by `weights` is neither, so the `sources` stage, which DVC runs every time, writes these records, and the stages
that read the files (download, train) depend on them.
"""

from pets.config.weights import Weights
from pets.data.fetch import local_path


def local_files(recipe):
    """[{url, size, mtime_ns}] of each archive of `recipe` that is a local file, in order ({url, missing: true}
    for one that is not there)."""
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
