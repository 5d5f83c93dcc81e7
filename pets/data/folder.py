"""A plain local folder of pictures as a dataset (a recipe `folder: PATH`): its state, and a copy of it in data/raw.

The user's folder is only read: the copy is made of hard links where the filesystem allows (no second copy of the
bytes while the stage runs), else of copies. DVC then stores data/raw in its cache as copies of its own (measured:
the user's files keep their inode, mode and mtime), so nothing DVC does later reaches the user's files.
"""

import os
import shutil
import stat
from pathlib import Path

from pets.data.images import IMAGE_SUFFIXES
from pets.errors import PetsError

FIX = "(params.yaml: datasets.{name}.folder)"


def resolve(folder: str) -> Path:
    """The folder a recipe names: absolute, `~`-expanded, or relative to the project (the stages' working folder)."""
    return Path(os.path.expanduser(folder)).absolute()


def tree_state(folder: Path, name: str) -> list[list]:
    """[relative POSIX name, size, mtime_ns] of every file below `folder` (links followed), sorted; names that start
    with a dot (.DS_Store, .git, ...) are left out. Raises PetsError, in one line, for a folder that is missing, a
    file, unreadable, holds a symlink loop or a broken link, or holds no images."""
    where = FIX.format(name=name)
    if not folder.exists():
        raise PetsError(f"{folder}: no such folder {where}")
    if not folder.is_dir():
        raise PetsError(f"{folder} is a file, not a folder of pictures {where}")
    project_data = Path("data").absolute()
    if folder.is_relative_to(project_data) or project_data.is_relative_to(folder):
        raise PetsError(f"{folder} holds this project's data/ folder: name a folder of pictures outside it {where}")
    files = []
    _walk(folder, "", {_identity(os.stat(folder))}, files)
    if not files:
        raise PetsError(f"{folder} holds no files {where}")
    if not any(Path(relative).suffix.lower() in IMAGE_SUFFIXES for relative, _, _ in files):
        shown = ", ".join(relative for relative, _, _ in files[:3])
        raise PetsError(
            f"{folder} holds {len(files)} file(s) but no images ({', '.join(sorted(IMAGE_SUFFIXES))}), e.g. {shown}"
        )
    return sorted(files)


def _identity(status):
    return status.st_dev, status.st_ino


def _walk(path, relative, ancestors, files):
    try:
        entries = sorted(os.scandir(path), key=lambda entry: entry.name)
    except PermissionError:
        raise PetsError(f"{path}: cannot read this folder (permission denied); make it readable (chmod u+rx)") from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        name = f"{relative}{entry.name}"
        try:
            status = entry.stat()  # follows links
        except FileNotFoundError:
            raise PetsError(f"{entry.path} is a link to {os.readlink(entry.path)}, which does not exist") from None
        except OSError as error:
            raise PetsError(f"{entry.path}: cannot read it ({error.strerror})") from None
        if stat.S_ISDIR(status.st_mode):
            if _identity(status) in ancestors:
                raise PetsError(
                    f"{entry.path} is a link to {os.path.realpath(entry.path)}, a folder it is in: a symlink loop"
                )
            _walk(entry.path, f"{name}/", ancestors | {_identity(status)}, files)
        elif stat.S_ISREG(status.st_mode):
            files.append([name, status.st_size, status.st_mtime_ns])


def copy_tree(folder: Path, target: Path, name: str) -> int:
    """Hard-link (else copy) every file of `folder` into `target`, keeping the layout; return the file count. Fails,
    keeping nothing, when the folder changes while it is copied."""
    before = tree_state(folder, name)
    for relative, _, _ in before:
        source, copy = folder / relative, target / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, copy)
        except OSError:  # another filesystem, or one without hard links
            try:
                shutil.copy2(source, copy)
            except OSError as error:
                raise PetsError(f"{source}: cannot read it ({error.strerror})") from None
    after = tree_state(folder, name)
    if after != before:
        changed = sorted({tuple(f) for f in before} ^ {tuple(f) for f in after})[0][0]
        raise PetsError(
            f"{folder} changed while download copied it ({changed}); nothing was kept: run `dvc repro` again "
            "when nothing is writing to the folder"
        )
    return len(before)
