"""Write outputs under a temporary name and rename at the end, so an interrupted run leaves nothing half-written."""

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from pets.errors import PetsError


@contextlib.contextmanager
def atomic_path(final):
    """Yield a temporary path beside `final` (file or folder); on success it replaces `final`."""
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        for stale in final.parent.glob(f".{final.name}.*.tmp"):  # left by a run that was killed
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    except PermissionError as error:  # read-only, immutable (chattr +i) or someone else's folder
        raise PetsError(
            f"{final.parent}: cannot write {final.name} there ({error.strerror}); make the folder writable"
        ) from None
    target = tmp / final.name
    try:
        yield target
        if final.is_dir() and not final.is_symlink():
            shutil.rmtree(final)
        os.replace(target, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path, data):
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def write_text(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text)
