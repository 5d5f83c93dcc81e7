"""Sharing the machine with the experiments that `dvc queue start -j N` runs beside this one.

On a CPU, two runs that each use every core are 3-5x slower than the same runs with half the cores each (OpenMP
threads spin at barriers while another process holds their core); on a machine with several GPUs, every queued
run would otherwise take GPU 0. A DVC queue worker is a `dvc exp queue-worker dvc-exp-<queue>-<n>@localhost`
process, an ancestor of the stage: that is how a stage tells its slot and how many workers share the machine.
"""

import os
import re

import psutil

WORKER_NODE = re.compile(r"(dvc-exp-\w+)-(\d+)@")


def _worker_node(cmdline):
    """The (queue, number) match of a DVC queue worker's command line, else None."""
    if "queue-worker" not in cmdline[:-1]:
        return None
    return WORKER_NODE.match(cmdline[cmdline.index("queue-worker") + 1])


def queue_slot():
    """(slot, workers): this run's DVC queue worker number counted from 0, and how many workers of its queue are
    running; (0, 1) when no queue worker started it."""
    try:
        node = next(filter(None, (_worker_node(parent.cmdline()) for parent in psutil.Process().parents())), None)
        if node is None:
            return 0, 1
        workers = 0
        for process in psutil.process_iter(["cmdline"]):
            other = _worker_node(process.info["cmdline"] or [])
            workers += bool(other and other.group(1) == node.group(1))
    except psutil.Error:  # a process table this process may not read: behave as if alone
        return 0, 1
    return int(node.group(2)) - 1, max(1, workers)


def cores():
    """The cores this process may run on (fewer than the machine's in a container or under taskset)."""
    return len(os.sched_getaffinity(0))


def thread_budget(threads="auto"):
    """`threads` (params.yaml); for auto, OMP_NUM_THREADS when it is set, else this run's share of the cores: all of
    them, divided by the DVC queue workers running beside it."""
    if threads != "auto":
        return threads
    if os.environ.get("OMP_NUM_THREADS", "").isdigit() and int(os.environ["OMP_NUM_THREADS"]) > 0:
        return int(os.environ["OMP_NUM_THREADS"])
    return max(1, cores() // queue_slot()[1])
