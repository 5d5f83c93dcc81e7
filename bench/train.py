"""The training step: the pipeline's loop against a plain reference loop on the same device.

    python -m bench.train                                     # CPU: resnet18/34/50 at 128 px
    python -m bench.train --size 224 --batch-size 256 --compile  # on a GPU (cuda is used when present)

pipeline: batches from the uint8 cache, augmentation on the device, bf16 autocast and channels_last
on CUDA. reference: JPEGs decoded and augmented per image by torchvision in 2 loader workers, fp32,
NCHW. Each run stops after --steps steps or --seconds seconds, whichever comes first.
"""

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch.utils.data import DataLoader

from bench.loader import NaiveJpegs
from bench.photos import make_photos
from bench.recipes import quick_start_params
from pets.data.augment import IMAGENET_MEAN, IMAGENET_STD
from pets.data.cache import build_cache
from pets.data.loader import CachedSplit, batches
from pets.data.presets import Preprocess
from pets.model.archs import resolve
from pets.model.classifier import Classifier
from pets.runtime.profile import runtime
from pets.train.loop import training_step


def measure(step, loader, steps, seconds, device):
    """(images/s, share of the time spent waiting for data) after two warm-up steps."""
    iterator = iter(loader)
    for _ in range(2):
        step(next(iterator))
    if device.type == "cuda":
        torch.cuda.synchronize()
    waited, images, done = 0.0, 0, 0
    started = time.perf_counter()
    while done < steps and time.perf_counter() - started < seconds:
        before = time.perf_counter()
        batch = next(iterator)
        waited += time.perf_counter() - before
        step(batch)
        images += len(batch[0])
        done += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    total = time.perf_counter() - started
    return images / total, waited / total


def pipeline_step(model, raw, arch, optimizer, split, size, active):
    """The pipeline's own training step (pets.train.loop.training_step) with `make photos`' augmentation, on batches
    from the cache; `model` is `raw` or its compiled form."""
    augment = quick_start_params("photos", {"arch": arch, "size": size, "weights": "none"}).train.augment
    preprocess = replace(Preprocess.of_cache(split.manifest, size), mean=IMAGENET_MEAN, std=IMAGENET_STD)
    classifier = Classifier(raw, resolve(arch), "linear", split.manifest["classes"], preprocess)
    generator = torch.Generator(device=active.device).manual_seed(0)
    return lambda batch: training_step(
        classifier, model, *batch, optimizer=optimizer, augment=augment, runtime=active, generator=generator
    )


def reference_step(model, optimizer, device):
    def step(batch):
        images, labels = batch[0].to(device), batch[1].to(device)
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def new_model(arch, device, channels_last=False, compile_model=False):
    torch.manual_seed(0)
    model = torchvision.models.get_model(arch, num_classes=37).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return (torch.compile(model) if compile_model else model), model


def photo_cache(folder, images, size):
    """(JPEG paths, the cache split of them) of `images` photo-like JPEGs, cached at a little above `size`."""
    paths = make_photos(folder / "images", images)
    rows = [{"path": p.relative_to(folder).as_posix(), "label": p.stem.split("_")[0], "split": "train"} for p in paths]
    classes = sorted({r["label"] for r in rows})
    build_cache(rows, classes, folder, folder, resolution=round(size * 1.28), resize="crop", max_bad_frac=0)
    return paths, CachedSplit(folder, "train")


def pipeline_rate(arch, split, *, size, batch_size, active, compile_model, steps, seconds):
    """(images/s, data wait share) of the pipeline's training step for `arch` with the runtime's choices."""
    model, raw = new_model(arch, active.device, channels_last=active.channels_last, compile_model=compile_model)
    loader = batches(split, batch_size, shuffle=True, pin_memory=active.pin_memory)
    step = pipeline_step(model, raw, arch, torch.optim.AdamW(raw.parameters()), split, size, active)
    return measure(step, loader, steps, seconds, active.device)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default="resnet18,resnet34,resnet50")
    parser.add_argument("--size", type=int, default=None, help="default: 224 on CUDA, 128 on the CPU")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 256 on CUDA, 32 on the CPU")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--compile", action="store_true", help="torch.compile the pipeline's model")
    args = parser.parse_args()
    active = runtime()
    device = active.device
    size = args.size or (224 if device.type == "cuda" else 128)
    batch_size = args.batch_size or (256 if device.type == "cuda" else 32)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths, split = photo_cache(tmp, args.images, size)
        print(f"device {device}, size {size}, batch {batch_size}, up to {args.steps} steps or {args.seconds:g} s a run")
        print("| arch | pipeline images/s | data wait | reference images/s | data wait | speed-up |")
        print("| --- | --- | --- | --- | --- | --- |")
        for arch in args.archs.split(","):
            ours, our_wait = pipeline_rate(
                arch,
                split,
                size=size,
                batch_size=batch_size,
                active=active,
                compile_model=args.compile,
                steps=args.steps,
                seconds=args.seconds,
            )
            model, raw = new_model(arch, device)
            naive = DataLoader(
                NaiveJpegs(paths, size),
                batch_size=batch_size,
                shuffle=True,
                num_workers=2,
                drop_last=True,
                pin_memory=active.pin_memory,
            )
            theirs, their_wait = measure(
                reference_step(model, torch.optim.AdamW(raw.parameters()), device),
                naive,
                args.steps,
                args.seconds,
                device,
            )
            print(f"| {arch} | {ours:.1f} | {our_wait:.0%} | {theirs:.1f} | {their_wait:.0%} | {ours / theirs:.2f}x |")


if __name__ == "__main__":
    main()
