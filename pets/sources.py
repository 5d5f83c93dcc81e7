"""What the local files a dataset recipe names look like now, so that DVC notices one replaced in place.

DVC re-runs a stage when its deps or params change; a local mirror (`file://` or a path) is neither, so the
`sources` stage, which DVC runs every time, writes this record, and the download stage depends on it.
"""

from pets.fetch import local_path


def local_files(recipe):
    """[{url, size, mtime_ns}] of each archive of `recipe` that is a local file, in order ({url, missing: true}
    for one that is not there). Anything malformed is skipped here: the download stage checks the recipe."""
    archives = [archive for source in _list(recipe.get("sources") if isinstance(recipe, dict) else None)
                if isinstance(source, dict) for archive in _list(source.get("archives"))
                if isinstance(archive, dict) and isinstance(archive.get("url"), str)]
    records = []
    for archive in archives:
        path = local_path(archive["url"])
        if path is None:
            continue
        try:
            status = path.stat()
        except OSError:
            records.append({"url": archive["url"], "missing": True})
            continue
        records.append({"url": archive["url"], "size": status.st_size, "mtime_ns": status.st_mtime_ns})
    return records


def _list(value):
    return value if isinstance(value, list) else []
