"""What the local files a dataset recipe names look like now, so that DVC notices one replaced in place.

DVC re-runs a stage when its deps or params change; a local mirror (`file://` or a path) is neither, so the
`sources` stage, which DVC runs every time, writes this record, and the download stage depends on it.
"""

from pets.fetch import local_path


def local_files(recipe):
    """[{url, size, mtime_ns}] of each archive of `recipe` that is a local file, in order ({url, missing: true}
    for one that is not there)."""
    records = []
    for url in archive_urls(recipe):
        path = local_path(url)
        if path is None:
            continue
        try:
            status = path.stat()
        except OSError:
            records.append({"url": url, "missing": True})
            continue
        records.append({"url": url, "size": status.st_size, "mtime_ns": status.st_mtime_ns})
    return records


def archive_urls(recipe):
    """The URL of every archive in the recipe's sources. Anything malformed is skipped: the download stage checks
    the recipe and says what is wrong in one line."""
    sources = recipe.get("sources") if isinstance(recipe, dict) else None
    for source in sources if isinstance(sources, list) else []:
        archives = source.get("archives") if isinstance(source, dict) else None
        for archive in archives if isinstance(archives, list) else []:
            if isinstance(archive, dict) and isinstance(archive.get("url"), str):
                yield archive["url"]
