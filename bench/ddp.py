"""Images/s of DistributedDataParallel's training step, side by side for each way of handling the gradients.

    python -m bench.ddp                      # 2 processes on the CPU (gloo), resnet18 at 64 px, batch 16 each
    python -m bench.ddp --processes 8 --size 224 --batch-size 64 --arch resnet50   # on a machine with 8 GPUs

Variants, each in a torchrun world of its own, in turn, for --rounds rounds (the median is printed):
- find_unused: `find_unused_parameters=True`, what the train stage used before: a graph walk after every forward;
- plain: DDP's defaults (the gradients copied into its buckets);
- bucket_view: `gradient_as_bucket_view=True`, the gradients are views of the buckets (the accelerator's choice);
- rank_order: bucket views and pets.runtime.distributed's `sum_in_rank_order` hook, all-gather then a sum in rank
  order (the CPU's choice: bit-exact whatever the bucket layout).
Each in both memory formats: in channels_last, a convolution whose output is 1x1 gets a gradient of other strides
than its bucket view (DDP's "grad strides do not match" warning), which DDP then copies.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

VARIANTS = ("find_unused", "plain", "bucket_view", "rank_order")
FORMATS = ("contiguous", "channels_last")


def worker(args):
    """One world's measurement (run under torchrun): rank 0 prints its images/s as JSON."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from pets.model.archs import build, resolve
    from pets.runtime import distributed

    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    device = torch.device("cuda", int(os.environ["LOCAL_RANK"])) if cuda else torch.device("cpu")
    torch.manual_seed(0)
    layout = torch.channels_last if args.format == "channels_last" else torch.contiguous_format
    model = build(resolve(args.arch), 37).to(device, memory_format=layout)
    if args.variant in ("find_unused", "plain"):
        net = DistributedDataParallel(model, find_unused_parameters=args.variant == "find_unused")
    else:
        net = distributed.wrap(model, exact=args.variant == "rank_order")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    images = torch.randn(args.batch_size, 3, args.size, args.size, device=device).to(memory_format=layout)
    labels = torch.randint(0, 37, (args.batch_size,), device=device)
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            if cuda:
                torch.cuda.synchronize(device)
            started = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(net(images), labels)
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        optimizer.step()
    if cuda:
        torch.cuda.synchronize(device)
    rate = args.steps * args.batch_size * dist.get_world_size() / (time.perf_counter() - started)
    if dist.get_rank() == 0:
        print(json.dumps({"rate": rate}), flush=True)
    dist.destroy_process_group()


def world_rate(args, variant, memory_format) -> float:
    """images/s of one variant in a torchrun world of --processes processes, launched from here."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={args.processes}",
               "-m", "bench.ddp", "--worker", "--variant", variant, "--format", memory_format, "--arch", args.arch,
               "--size", str(args.size), "--batch-size", str(args.batch_size), "--steps", str(args.steps),
               "--warmup", str(args.warmup)]  # fmt: skip
    threads = max(1, (os.cpu_count() or 1) // args.processes)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["rate"]


def rows(args):
    """(format, {variant: median images/s}) for each memory format, the variants measured in turn each round."""
    for memory_format in FORMATS:
        rates = {variant: [] for variant in VARIANTS}
        for _ in range(args.rounds):
            for variant in VARIANTS:
                rates[variant].append(world_rate(args, variant, memory_format))
        yield memory_format, {variant: statistics.median(found) for variant, found in rates.items()}


def options(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16, help="images per process and step")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--format", choices=FORMATS, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main():
    args = options()
    if args.worker:
        return worker(args)
    print(f"{args.processes} processes, {args.arch} at {args.size} px, batch {args.batch_size} each, {args.steps} "
          f"steps after {args.warmup}, median of {args.rounds} rounds (images/s, and against find_unused)")  # fmt: skip
    print("| memory format | " + " | ".join(VARIANTS) + " |\n| --- |" + " --- |" * len(VARIANTS))
    for memory_format, rates in rows(args):
        base = rates["find_unused"]
        cells = [f"{rates[v]:.1f} ({rates[v] / base:.2f}x)" for v in VARIANTS]
        print(f"| {memory_format} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
