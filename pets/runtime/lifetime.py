"""A training run lives no longer than the `dvc` command that started it, and one runs at a time per workspace.

DVC runs a stage's command through a shell; killed with `kill -9`, DVC leaves that shell and its child running, and
torchrun starts its workers in sessions of their own, so neither a killed `dvc repro` nor a killed process group
would stop training: it would go on unseen, write models/model.pt and append to the epoch log beside the next run.
"""

import ctypes
import fcntl
import os
import signal
import threading
import time
from pathlib import Path

import psutil

from pets.errors import PetsError

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_SECONDS = 1.0


def die_with_parent() -> None:
    """This process is killed when its parent (torchrun's launcher) dies, however it dies (Linux's prctl)."""
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0 or os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)  # the parent died before the death signal was armed


def _dvc_ancestor() -> psutil.Process | None:
    """The nearest ancestor running dvc (`dvc repro`, `dvc exp run`, a `dvc queue` worker), else None."""
    try:
        for process in psutil.Process().parents():
            if any(Path(part).name == "dvc" or part == "dvc" for part in process.cmdline()[:3]):
                return process
    except psutil.Error:
        return None
    return None


def exit_with_dvc() -> None:
    """Kill this process (and so, by die_with_parent, its torchrun workers) within a second of the dvc command that
    started it dying; nothing when no dvc started it."""
    dvc = _dvc_ancestor()
    if dvc is None:
        return

    def watch():
        while dvc.is_running() and dvc.status() != psutil.STATUS_ZOMBIE:
            time.sleep(POLL_SECONDS)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="exit-with-dvc", daemon=True).start()


class RunLock:
    """An exclusive lock on `path` for the length of a training run: a second run of the same workspace is refused
    with the first one's pid. The kernel lets it go when the process dies, however it dies: nothing goes stale."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "a+")  # noqa: SIM115 - held open for the run
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.seek(0)
            holder = self.file.read().strip() or "?"
            self.file.close()
            raise PetsError(
                f"another training run of this project is running (pid {holder}, holding {self.path}): wait for it "
                f"to end, or stop it (kill {holder}), then run dvc repro again"
            ) from None
        self.file.truncate(0)
        self.file.write(f"{os.getpid()}\n")
        self.file.flush()
        return self

    def __exit__(self, *exc):
        self.file.close()  # the lock goes with the descriptor
