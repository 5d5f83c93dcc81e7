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

import contextlib
import json
import logging
import os
import re
import signal
import socket
import sys
import warnings

# c10d's own log lines (a rendezvous retrying, a peer gone, each with C++ stack frames) would bury the one line this
# module gives for each; read when torch loads, so set before; a TORCH_CPP_LOG_LEVEL of the user's is kept
os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "FATAL")
JOIN_SETTINGS = "PETS_JOIN_SETTINGS"  # join's -S, from it to its processes

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

from pets.config.settings import Params  # noqa: E402
from pets.errors import PetsError  # noqa: E402
from pets.runtime.sharing import thread_budget  # noqa: E402


def world():
    """(rank, number of processes): (0, 1) when not distributed."""
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def is_main():
    return world()[0] == 0


def wrap(module, exact: bool):
    """The module to step: under several processes, DistributedDataParallel around it (it averages the gradients,
    into views of its buckets: no copy). `exact` (the CPU's choice, pets.runtime.profile): each gradient is summed in
    the order of the ranks (sum_in_rank_order), so its bits do not depend on how DDP groups the gradients into
    buckets, which it redoes after a wrapper's first step: a run resumed mid-phase, with a new wrapper, ends as an
    uninterrupted one, and M machines of N processes as one of M x N (tests/test_interruptions.py,
    tests/test_machines.py). Otherwise the backend's all-reduce, whose sums with three or more processes change in
    the last bits with the layout (on GPUs nothing is bit-exact anyway)."""
    if world()[1] == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel

    # DDP compares a gradient's strides with its bucket view's literally, so the weight of a convolution whose output
    # is 1x1 (a downsample at small sizes) gets a warning for a layout that is the same: not the user's to act on
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    net = DistributedDataParallel(module, gradient_as_bucket_view=True)
    if exact:
        net.register_comm_hook(None, sum_in_rank_order)
    return net


def sum_in_rank_order(state, bucket):
    """DDP communication hook: every process's gradients (one bucket's) gathered, and their mean computed by adding
    them up in rank order in each process: the same bits for any grouping, at the cost of moving each process's
    gradients to every other (all-gather) instead of summing on the way (all-reduce)."""
    tensor = bucket.buffer()
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]

    def mean(_):
        total = parts[0].clone()
        for part in parts[1:]:
            total += part
        return total.div_(len(parts))

    return dist.all_gather(parts, tensor, async_op=True).get_future().then(mean)


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


@contextlib.contextmanager
def peers_lost():
    """One line, not a traceback, when another process of the run stops (killed, Ctrl-C, a machine down): the
    collective that waited on it fails in every process left, and each machine stops."""
    try:
        yield
    except (dist.DistError, RuntimeError) as error:
        text = " ".join(str(error).split())
        if not under_torchrun() or not any(mark in text for mark in ("gloo", "Connection", "NCCL", "c10d")):
            raise
        said = re.sub(r"\[\S+\.(cc|cpp):\d+\]\s*", "", text)  # without its C++ source line
        raise PetsError(
            f"a process of this run stopped ({said[:160]}): every process of it stops; start the run again (and "
            "python -m pets join on the other machines): it goes on after its last finished epoch"
        ) from None


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
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # each failure is said once, below
    try:
        run(parse_args([*torchrun_args(**where), "-m", module]))
    except (SignalException, KeyboardInterrupt):
        sys.exit(130)
    except ChildFailedError as failed:
        killed = {rank: -f.exitcode for rank, f in failed.failures.items() if f.exitcode < 0}
        if killed:  # a process killed by a signal said nothing itself (the others say their one line)
            rank, number = next(iter(killed.items()))
            print(f"error: process {rank} of this run was killed ({signal_name(number)})", file=sys.stderr)
        sys.exit(1)
    except (dist.DistError, RuntimeError, TimeoutError) as error:  # the rendezvous: the store, its time-out
        raise PetsError(
            f"the machines of this run did not meet at {where.get('endpoint')} within {where.get('timeout')} s "
            f"({type(error).__name__}: {' '.join(str(error).split())[:160]}): start `python -m pets join` on each of "
            f"the other {where.get('nodes', 1) - 1} machine(s), and check that this address reaches this machine "
            "(params.yaml: rendezvous.endpoint)"
        ) from None


def launch_training(params: Params, module: str, node_rank: int = 0, settings: tuple[str, ...] = ()) -> None:
    """The processes of one training run on this machine, node `node_rank` of params.yaml's train.nodes: each with
    its share of the CPU threads params.yaml allows here. `settings` (join's -S, as node 0's `dvc exp run -S` had
    them) reach the processes through their environment: joined_settings()."""
    os.environ[JOIN_SETTINGS] = json.dumps(settings)
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


def joined_settings() -> tuple[str, ...]:
    """The `key=value` settings this process has over params.yaml: those `python -m pets join -S` was given (none
    on the machine where dvc runs, whose `dvc exp run -S` writes them into params.yaml)."""
    return tuple(json.loads(os.environ.get(JOIN_SETTINGS, "[]")))


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


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
