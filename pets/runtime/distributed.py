"""Training on several devices: one process per device under torchrun (DistributedDataParallel).

Each process trains on its own shard of every epoch's batches and the gradients are averaged, so the
effective batch is `train.batch_size` times the number of processes; the learning rates are not
scaled. Sums (losses, errors) are added up across processes; process 0 writes the outputs.
"""

import logging
import os
import sys

import torch
import torch.distributed as dist


def world():
    """(rank, number of processes): (0, 1) when not distributed."""
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def is_main():
    return world()[0] == 0


def wrap(module):
    """The module to step: under several processes, DistributedDataParallel around it (it averages the gradients).
    find_unused_parameters keeps DDP's gradient buckets in their first layout: DDP otherwise regroups them after a
    wrapper's first step, and with three or more processes the order of the all-reduce's sums changes the last bits,
    so a run resumed mid-phase (a new wrapper) would part from an uninterrupted one (tests/test_interruptions.py)."""
    if world()[1] == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(module, find_unused_parameters=True)


def sum_across(tensor):
    """The tensor added up over every process (in place); unchanged when not distributed."""
    if dist.is_initialized():
        dist.all_reduce(tensor)
    return tensor


def device_count(devices):
    """The number of processes `train.devices` asks for: an integer (checked by pets.config.schema), or auto (every
    GPU, or 1 on the CPU)."""
    return max(1, torch.cuda.device_count()) if devices == "auto" else devices


def run_under_torchrun(processes, module):
    """Run `module` in `processes` processes on this machine under torchrun, launched from this process. The workers
    report their own errors, and a Ctrl-C once (process 0: pets.errors); this process adds no traceback of
    torchrun's, and no warning of its about shutting workers down."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    logging.getLogger("torch.distributed.elastic").setLevel(logging.ERROR)
    try:
        run(parse_args(["--standalone", f"--nproc-per-node={processes}", "-m", module]))
    except (SignalException, KeyboardInterrupt):
        sys.exit(130)
    except ChildFailedError:
        sys.exit(1)


def under_torchrun():
    return "LOCAL_RANK" in os.environ


def start():
    """Join the process group torchrun set up; return this process's device."""
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    if cuda:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
        return device
    return torch.device("cpu")


def stop():
    if dist.is_initialized():
        dist.destroy_process_group()
