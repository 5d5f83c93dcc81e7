"""What only a GPU can say, in one table: one prepared script for a machine with a GPU (under 8 minutes on one).

    python -m bench.gpu            # on the GPU machine, from a commit of the project (make photos runs in a clone)
    python -m bench.gpu --smoke    # the same steps, tiny, on whatever device is here: checks the script itself

Rows: the pipeline's training step (bench.train's pipeline_rate) for resnet34 and resnet50 at 224 px, batch 256,
with the Runtime's accelerator choices (bf16 autocast, channels_last, grid_sample augmentation on the device),
eager and under torch.compile: images/s, the share of time waiting for data, peak GPU memory; DDP's step on every
GPU of the machine (bench.ddp: its defaults against the bucket views the train stage uses there, and against the
CPU's rank-order sum), where there are two or more; then `make photos` end to end on the GPU:
seconds and error_rate, and each stage's start-up, work and writing (bench.stages).
"""

import argparse
import tempfile
from pathlib import Path

import torch

from bench import ddp, stages
from bench.train import photo_cache, pipeline_rate
from pets.runtime.profile import runtime


def peak_memory_gib(device):
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")


def training_rows(active, *, archs, size, batch_size, images, steps, seconds):
    with tempfile.TemporaryDirectory() as tmp:
        _, split = photo_cache(Path(tmp), images, size)
        for arch in archs:
            for compiled in (False, True):
                if active.device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(active.device)
                rate, wait = pipeline_rate(
                    arch,
                    split,
                    size=size,
                    batch_size=batch_size,
                    active=active,
                    compile_model=compiled,
                    steps=steps,
                    seconds=seconds,
                )
                yield (
                    f"bench.train {arch} {size}px batch {batch_size}{' torch.compile' if compiled else ''}",
                    f"{rate:.0f} images/s",
                    f"data wait {wait:.0%}",
                    f"peak {peak_memory_gib(active.device):.1f} GiB",
                )


def ddp_rows(smoke):
    """bench.ddp's variants on every GPU here (one process each), against DDP's defaults."""
    gpus = torch.cuda.device_count()
    if smoke:  # tiny, on whatever is here: 2 CPU processes, or each GPU
        tiny = ["--size", "32", "--steps", "2", "--warmup", "1", "--rounds", "1"]
        args = ddp.options(["--processes", str(gpus or 2), *tiny])
    elif gpus >= 2:
        args = ddp.options(["--processes", str(gpus), "--arch", "resnet50", "--size", "224", "--batch-size", "64"])
    else:
        yield ("bench.ddp", f"not measured: {gpus} GPU here, DDP needs 2 or more", "", "")
        return
    for memory_format, rates in ddp.rows(args):
        for variant in ddp.VARIANTS:
            ratio = rates[variant] / rates["plain"]
            what = f"bench.ddp {args.processes} x {args.arch} {args.size}px {variant} {memory_format}"
            yield (what, f"{rates[variant]:.0f} images/s", f"{ratio:.2f}x DDP's defaults", "")


def photos_rows(smoke):
    """`make photos` (its values in quickstarts.yaml) in a clone of the last commit, and where its time went, stage
    by stage (bench.stages); smaller when `smoke`."""
    with tempfile.TemporaryDirectory() as tmp:
        smaller = {"train.epochs": 1, "train.epochs_unfrozen": 0, "size": 64, "cache.resolution": 80}
        run = stages.quick_start_run(Path(tmp), "photos", smaller if smoke else None)
    label = "make photos end to end" + (" (smoke: 1 epoch, 64 px)" if smoke else "")
    spent = run["stages"]
    return [(label, f"{run['total']:.0f} s", f"error_rate {run['error_rate']:.4f}", "")] + [
        (
            f"make photos: {stage}",
            f"{spent[stage]['wall']:.1f} s",
            f"start-up {spent[stage]['start_up']:.1f} s, work {spent[stage]['work']:.1f} s, "
            f"writing {spent[stage]['writing']:.1f} s",
            "",
        )
        for stage in stages.STAGES
        if stage in spent
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, any device: check the script runs")
    args = parser.parse_args()
    active = runtime()
    settings = dict(archs=["resnet34", "resnet50"], size=224, batch_size=256, images=2000, steps=30, seconds=40.0)
    if args.smoke:
        settings = dict(archs=["resnet18"], size=32, batch_size=8, images=40, steps=2, seconds=5.0)
    print(f"{active}")
    print("| what | speed | | memory |\n| --- | --- | --- | --- |")
    for row in [*training_rows(active, **settings), *ddp_rows(args.smoke), *photos_rows(args.smoke)]:
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
