"""Write outputs under a temporary name and rename at the end, so an interrupted run leaves nothing half-written.

A file is written where a file (or nothing) is: a folder in its place is refused, never removed, since nothing the
project writes may remove what it did not make. Only a stage's own output folder (data/raw, data/index, data/cache)
is replaced whole, by atomic_folder."""

import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from pets.errors import PetsError


@contextlib.contextmanager
def _beside(final: Path):
    """A temporary folder beside `final`, removed at the end (with what a killed run left there before)."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise PetsError(f"cannot write {final}: {_file_above(final)} is a file, not a folder") from None
    except PermissionError as error:
        raise PetsError(f"{final.parent}: cannot make this folder ({error.strerror})") from None
    try:
        for stale in final.parent.glob(f".{final.name}.*.tmp"):  # left by a run that was killed
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    except PermissionError as error:  # read-only, immutable (chattr +i) or someone else's folder
        raise PetsError(
            f"{final.parent}: cannot write {final.name} there ({error.strerror}); make the folder writable"
        ) from None
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _file_above(path: Path) -> Path:
    return next(parent for parent in path.parents if parent.exists() and not parent.is_dir())


_writing = [0.0]  # seconds this process spent writing files through atomic_path (pets.runtime.clock reports them)


def seconds_writing() -> float:
    return _writing[0]


@contextlib.contextmanager
def atomic_path(final):
    """Yield a temporary path beside the file `final`; on success it replaces `final`. A folder at `final` is refused
    in one line, and left as it is."""
    final = Path(final)
    if final.is_dir():
        raise PetsError(f"cannot write the file {final}: a folder is there (it is left as it is); name another path")
    started = time.perf_counter()
    try:
        with _beside(final) as tmp:
            yield tmp / final.name
            os.replace(tmp / final.name, final)
    finally:
        _writing[0] += time.perf_counter() - started


@contextlib.contextmanager
def atomic_folder(final):
    """Yield a temporary path beside the folder `final`, a stage's own output; on success it replaces `final`."""
    final = Path(final)
    with _beside(final) as tmp:
        yield tmp / final.name
        if final.is_dir() and not final.is_symlink():
            shutil.rmtree(final)
        os.replace(tmp / final.name, final)


def write_json(path, data):
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def write_text(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text)
