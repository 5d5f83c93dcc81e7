"""Training on several devices and machines: one process per device under PyTorch's torchrun
(DistributedDataParallel).

Each process trains on its own shard of every epoch's batches and the gradients are averaged, so the effective batch
is `train.batch_size` times the number of processes; the learning rates are not scaled. Sums (losses, errors) are
added up across processes; process 0 writes the outputs.

Several machines (train.nodes > 1): the train stage, which DVC runs on the first machine, starts torchrun there as
node 0 of a static rendezvous it hosts at `rendezvous.endpoint`; every other machine joins with `python -m pets join`
as node 1, 2, ... Node ranks are given, not drawn (torchrun's c10d rendezvous ranks machines by host name and process
id), so global rank 0, the one writer, is always on the machine where DVC records the run. The same world of
processes gives the same model, however the processes are spread over machines.
"""

import logging
import os
import socket
import sys

import torch
import torch.distributed as dist

from pets.config.settings import Params
from pets.errors import PetsError
from pets.runtime.sharing import thread_budget


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


def from_main(value):
    """Process 0's `value` in every process (itself when not distributed): what only the first machine has, such as
    the resume checkpoint in its workspace."""
    if not dist.is_initialized():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def refuse_differing(fingerprint: str) -> None:
    """PetsError in every process unless every process of the run has process 0's fingerprint (its params, data and
    code, pets.train.resume): a machine with another commit, params.yaml or cache would train another model."""
    if not dist.is_initialized():
        return
    mine = (fingerprint, socket.gethostname(), int(os.environ.get("GROUP_RANK", 0)), os.getcwd())
    everyone = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    first, others = everyone[0], [peer for peer in everyone if peer[0] != everyone[0][0]]
    if others:
        _, host, node, folder = others[0]
        raise PetsError(
            f"the machines of this run differ: node {node} ({host}, {folder}) has other params, data or code than "
            f"node 0 ({first[1]}, {first[3]}): check out the same commit and params.yaml there and bring its "
            "data/cache up to date (dvc pull, or dvc repro cache), then start both again"
        )


def device_count(devices):
    """The number of processes `train.devices` asks for on this machine: an integer (checked by
    pets.config.schema), or auto (every GPU, or 1 on the CPU)."""
    return max(1, torch.cuda.device_count()) if devices == "auto" else devices


def torchrun_args(*, nodes: int, processes: int, node_rank: int = 0, endpoint: str = "", timeout: int = 0) -> list:
    """torchrun's options for `processes` processes on this machine, node `node_rank` of `nodes`."""
    args = [f"--nproc-per-node={processes}", "--max-restarts=0"]
    if nodes == 1:
        return [*args, "--standalone"]
    return [*args, f"--nnodes={nodes}", f"--node-rank={node_rank}", "--rdzv-backend=static",
            f"--rdzv-endpoint={endpoint}", f"--rdzv-conf=timeout={timeout}"]  # fmt: skip


def launch(module: str, threads: int, **where) -> None:
    """Run `module` under torchrun, launched from this process, in the processes torchrun_args(**where) says, each
    with `threads` CPU threads (as OMP_NUM_THREADS, which torchrun would otherwise set to 1 with a banner). The
    workers report their own errors, and a Ctrl-C once (pets.errors); this process adds no traceback of torchrun's,
    and one line when the machines never met."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    os.environ["OMP_NUM_THREADS"] = str(threads)
    logging.getLogger("torch.distributed.elastic").setLevel(logging.ERROR)
    try:
        run(parse_args([*torchrun_args(**where), "-m", module]))
    except (SignalException, KeyboardInterrupt):
        sys.exit(130)
    except ChildFailedError:
        sys.exit(1)
    except (dist.DistError, RuntimeError, TimeoutError) as error:  # the rendezvous: the store, its time-out
        raise PetsError(
            f"the machines of this run did not meet at {where.get('endpoint')} within {where.get('timeout')} s "
            f"({type(error).__name__}: {' '.join(str(error).split())[:160]}): start `python -m pets join` on each of "
            f"the other {where.get('nodes', 1) - 1} machine(s), and check that this address reaches this machine "
            "(params.yaml: rendezvous.endpoint)"
        ) from None


def launch_training(params: Params, module: str, node_rank: int = 0) -> None:
    """The processes of one training run on this machine, node `node_rank` of params.yaml's train.nodes: each with
    its share of the CPU threads params.yaml allows here."""
    processes = device_count(params.train.devices)
    launch(
        module,
        max(1, thread_budget(params.threads) // processes),
        nodes=params.train.nodes,
        processes=processes,
        node_rank=node_rank,
        endpoint=params.rendezvous.endpoint,
        timeout=params.rendezvous.timeout,
    )


def under_torchrun():
    return "LOCAL_RANK" in os.environ


def worker_threads() -> int:
    """The CPU threads of one of torchrun's processes: what the launch gave each (OMP_NUM_THREADS)."""
    return int(os.environ["OMP_NUM_THREADS"])


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
