"""One training run at a time per workspace: a second one is refused with the first one's pid."""

import os

import pytest

from pets.errors import PetsError
from pets.runtime.lifetime import RunLock


def test_a_second_run_is_refused_while_the_first_holds_the_lock_and_welcome_after(tmp_path):
    path = tmp_path / "models/train.lock"
    with RunLock(path):
        assert path.read_text() == f"{os.getpid()}\n"
        with pytest.raises(PetsError, match=rf"another training run of this project is running \(pid {os.getpid()}, "):
            with RunLock(path):
                pass
    with RunLock(path):  # let go when the first ended (or died: the kernel drops a dead process's locks)
        pass
