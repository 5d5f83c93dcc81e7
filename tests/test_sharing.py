"""Runs that `dvc queue start -j N` starts side by side share the cores and take the GPUs in turn."""

import psutil
import pytest
import torch

from pets.runtime import sharing
from pets.runtime.profile import default_device


class FakeProcess:
    def __init__(self, *cmdline):
        self.info = {"cmdline": list(cmdline)}

    def cmdline(self):
        return self.info["cmdline"]


def worker(node):
    """A DVC queue worker as DVC starts it (dvc/repo/experiments/queue/celery.py: `dvc exp queue-worker <node>`)."""
    return FakeProcess("/venv/bin/python3.11", "/venv/bin/dvc", "exp", "queue-worker", node)


@pytest.fixture
def machine(monkeypatch):
    """Set this process's ancestors and the process table."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(sharing, "cores", lambda: 8)

    def set_up(ancestors, table):
        monkeypatch.setattr(psutil.Process, "parents", lambda self: ancestors)
        monkeypatch.setattr(psutil, "process_iter", lambda attributes: iter(table))

    return set_up


def test_alone_a_run_takes_every_core_and_the_first_gpu(machine, monkeypatch):
    machine([FakeProcess("dvc", "repro"), FakeProcess("bash")], [worker("dvc-exp-aaaaaa-1@localhost")])
    assert sharing.queue_slot() == (0, 1)  # a worker of some queue runs, but not this run's ancestor
    assert sharing.thread_budget("auto") == 8 and sharing.thread_budget(3) == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert sharing.thread_budget("auto") == 2


def test_queued_runs_share_the_cores_among_their_queue_s_workers_and_take_gpus_in_turn(machine, monkeypatch):
    ancestors = [
        FakeProcess("dvc", "exp", "exec-run", "--infofile", "x.run"),
        worker("dvc-exp-757765-2@localhost"),
        FakeProcess("dvc", "queue", "start", "-j", "2"),
    ]
    table = [
        worker("dvc-exp-757765-1@localhost"),
        worker("dvc-exp-757765-2@localhost"),
        worker("dvc-exp-0f0f0f-1@localhost"),  # another project's queue
        FakeProcess("python", "-m", "stages.train"),
        FakeProcess(),
    ]
    machine(ancestors, table)
    assert sharing.queue_slot() == (1, 2)
    assert sharing.thread_budget("auto") == 4 and sharing.thread_budget(6) == 6
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert default_device() == torch.device("cuda", 1)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert default_device() == torch.device("cuda", 0)


def test_a_process_table_it_may_not_read_counts_as_alone(machine, monkeypatch):
    def denied(self):
        raise psutil.AccessDenied(1)

    monkeypatch.setattr(psutil.Process, "parents", denied)
    assert sharing.queue_slot() == (0, 1) and sharing.thread_budget("auto") == 8
