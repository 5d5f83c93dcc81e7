"""Training on several devices: one process per device under torchrun (DistributedDataParallel).

Each process trains on its own shard of every epoch's batches and the gradients are averaged, so the
effective batch is `train.batch_size` times the number of processes; the learning rates are not
scaled. Sums (losses, errors) are added up across processes; process 0 writes the outputs.
"""

import os
import sys

import torch
import torch.distributed as dist


def world():
    """(rank, number of processes): (0, 1) when not distributed."""
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def is_main():
    return world()[0] == 0


def sum_across(tensor):
    """The tensor added up over every process (in place); unchanged when not distributed."""
    if dist.is_initialized():
        dist.all_reduce(tensor)
    return tensor


def device_count(devices):
    """The number of processes `train.devices` asks for: an integer (checked by pets.config.schema), or auto (every
    GPU, or 1 on the CPU)."""
    return max(1, torch.cuda.device_count()) if devices == "auto" else devices


def relaunch_under_torchrun(processes, module):
    """Replace this process with torchrun running `module` in `processes` processes on this machine."""
    os.execv(
        sys.executable,
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}", "-m", module],
    )


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
