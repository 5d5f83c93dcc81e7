"""Unpack .tar (any compression, detected from the bytes) and .zip archives, refusing unsafe members."""

import posixpath
import tarfile
import zipfile
import zlib
from pathlib import Path

from pets.config.schema import DEFAULT_MAX_UNPACKED_GB
from pets.errors import PetsError
from pets.progress import progress

REDO = "delete it and run again"


def _safe_name(archive, name, strip):
    """The member's path inside the target with `strip` leading folders removed, or None to skip it."""
    if name.startswith("/") or name.startswith("\\") or (len(name) > 1 and name[1] == ":"):
        raise PetsError(f"{archive}: member {name!r} has an absolute path; refusing to unpack")
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    if ".." in parts:
        raise PetsError(f"{archive}: member {name!r} points outside the archive ('..'); refusing to unpack")
    parts = parts[strip:]
    return "/".join(parts) if parts else None


def _check_link(archive, member_name, link_target, is_hard):
    base = "" if is_hard else posixpath.dirname(member_name)
    resolved = posixpath.normpath(posixpath.join(base, link_target))
    if link_target.startswith("/") or resolved == ".." or resolved.startswith("../"):
        raise PetsError(
            f"{archive}: link {member_name!r} points outside the archive ({link_target!r}); refusing to unpack"
        )


def _from_root(name):
    """A member's (or link target's) path from the archive's root, normalised: '' for the root itself."""
    path = posixpath.normpath(name.replace("\\", "/")).lstrip("/")
    return "" if path == "." else path


def _check_loops(archive, links, folders):
    """Refuse a symbolic link that leads, directly or through other links, to a folder it is in (or to itself): the
    unpacked tree would have no end, and whatever walks it (DVC hashing data/raw) fails far from here. `links` maps
    each link's path to its target's, from the archive's root."""
    for name in links:
        seen, current = {name}, links[name]
        while current in links:
            if current in seen:
                raise PetsError(f"{archive}: link {name!r} is part of a cycle of links; refusing to unpack")
            seen.add(current)
            current = links[current]
        if current in folders | {""} and (current == "" or name == current or name.startswith(current + "/")):
            raise PetsError(
                f"{archive}: link {name!r} points to {current or '.'!r}, a folder it is in (a symlink loop); "
                "refusing to unpack"
            )


def _nothing_left(archive, names, strip):
    deepest = max(names, key=lambda name: name.strip("/").count("/"))
    depth = deepest.strip("/").count("/")
    raise PetsError(
        f"{archive}: nothing is left to unpack with strip: {strip}: its members are at most {depth} folder(s) deep "
        f"(e.g. {deepest!r}); lower strip (datasets.<name>.sources in params.yaml)"
    )


def unpack(
    archive: str | Path, target: str | Path, strip: int = 0, max_bytes: int = DEFAULT_MAX_UNPACKED_GB * 10**9
) -> None:
    """Unpack `archive` into the existing folder `target`."""
    archive = Path(archive)
    if zipfile.is_zipfile(archive):
        _unpack_zip(archive, Path(target), strip, max_bytes)
        return
    try:
        tar = tarfile.open(archive, mode="r:*")
    except (tarfile.TarError, OSError) as error:
        raise PetsError(f"{archive}: not a tar or zip archive ({' '.join(str(error).split())}); {REDO}") from None
    with tar:
        _unpack_tar(archive, tar, Path(target), strip, max_bytes)


def _check_complete(archive, tar):
    """Python's tarfile takes a cut or damaged header for the end of the archive and stops quietly: prove that
    the member list ended at the end-of-archive block, and that the (compressed) stream after it is whole too;
    reading it to its end makes gzip check its CRC and length, and bz2 and xz their end markers."""
    stream = tar.fileobj
    stream.seek(tar.offset)
    if stream.read(tarfile.BLOCKSIZE) != tarfile.NUL * tarfile.BLOCKSIZE:
        raise PetsError(
            f"{archive}: the archive is cut short or damaged after {len(tar.members)} member(s) "
            f"(no end-of-archive block where the members end); {REDO}"
        )
    while stream.read(1 << 20):
        pass


def _unpack_tar(archive, tar, target, strip, max_bytes):
    members, total = [], 0
    try:
        all_members = tar.getmembers()
        _check_complete(archive, tar)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise PetsError(f"{archive}: damaged archive ({error}); {REDO}") from None
    links, folders = {}, set()
    for member in all_members:
        if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
            raise PetsError(f"{archive}: member {member.name!r} is a device or special file; refusing to unpack")
        if member.issym() or member.islnk():
            _check_link(archive, member.name, member.linkname, member.islnk())
        path = _from_root(member.name)
        if member.issym():
            links[path] = _from_root(posixpath.join(posixpath.dirname(path), member.linkname))
        elif member.isdir():
            folders.add(path)
        parts = path.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
        name = _safe_name(archive, member.name, strip)
        if name is None:
            continue
        if member.islnk():  # hard links name their target from the archive's root
            member.linkname = _safe_name(archive, member.linkname, strip)
        total += member.size
        if total > max_bytes:
            raise PetsError(
                f"{archive}: unpacks to more than {max_bytes:,} bytes (at member {member.name!r}); refusing"
            )
        member.name = name
        members.append(member)
    _check_loops(archive, links, folders)
    if all_members and not members:
        _nothing_left(archive, [member.name for member in all_members], strip)
    try:
        for member in progress(members, desc=f"unpack {archive.name}", unit=" files"):
            tar.extract(member, target, filter="data")
    except (tarfile.TarError, EOFError, OSError) as error:
        raise PetsError(f"{archive}: damaged archive ({error}); {REDO}") from None


def _unpack_zip(archive, target, strip, max_bytes):
    with zipfile.ZipFile(archive) as zf:
        infos, total = [], 0
        for info in zf.infolist():
            kind = (info.external_attr >> 16) & 0o170000
            if kind not in (0, 0o100000, 0o040000):  # only plain files and folders, no links or devices
                raise PetsError(f"{archive}: member {info.filename!r} is a link or special file; refusing to unpack")
            name = _safe_name(archive, info.filename, strip)
            if name is None:
                continue
            total += info.file_size
            if total > max_bytes:
                raise PetsError(
                    f"{archive}: unpacks to more than {max_bytes:,} bytes (at member {info.filename!r}); refusing"
                )
            infos.append((info, name))
        if zf.infolist() and not infos:
            _nothing_left(archive, [info.filename for info in zf.infolist()], strip)
        try:
            for info, name in progress(infos, desc=f"unpack {archive.name}", unit=" files"):
                path = target / name
                if info.is_dir():
                    path.mkdir(parents=True, exist_ok=True)
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(path, "wb") as dst:
                    while block := src.read(1 << 20):
                        dst.write(block)
        except (zipfile.BadZipFile, OSError) as error:
            raise PetsError(f"{archive}: damaged archive ({error}); {REDO}") from None
