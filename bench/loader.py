"""Feeding the step: the pipeline's loader (from the uint8 cache) against the naive JPEG pipeline.

    python -m bench.loader [--images 2000] [--size 224] [--batches 30]

naive: a Dataset that opens each JPEG with Pillow and applies torchvision's RandomResizedCrop, flip,
rotation, ColorJitter, ToTensor and Normalize, in a DataLoader with 2 workers.
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from bench.photos import make_photos
from bench.recipes import quick_start_params
from pets.data.augment import IMAGENET_MEAN, IMAGENET_STD, train_view
from pets.data.cache import build_cache
from pets.data.loader import CachedSplit, batches


class NaiveJpegs(Dataset):
    def __init__(self, paths, size):
        self.paths = paths
        self.transform = transforms.Compose(
            [
                transforms.RandomResizedCrop(size, scale=(0.75, 1.0)),
                transforms.RandomHorizontalFlip(),
                transforms.RandomRotation(10),
                transforms.ColorJitter(0.2, 0.2),
                transforms.ToTensor(),
                transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
            ]
        )

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with Image.open(self.paths[i]) as image:
            return self.transform(image.convert("RGB")), 0


def images_per_second(loader, n_batches, work=lambda batch: None, warm_up=5):
    """Images/s over `n_batches` batches after `warm_up` batches (start-up and first allocations not counted)."""
    iterator = iter(loader)
    for _ in range(warm_up):
        work(next(iterator)[0])
    count, started = 0, time.perf_counter()
    for _ in range(n_batches):
        batch = next(iterator)[0]
        work(batch)
        count += len(batch)
    return count / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=25)
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = make_photos(tmp / "images", args.images)
        rows = [{"path": p.relative_to(tmp).as_posix(), "label": "a", "split": "train"} for p in paths]
        build_cache(rows, ["a"], tmp, tmp, resolution=round(args.size * 1.28), resize="crop", max_bad_frac=0)
        split = CachedSplit(tmp, "train")
        for path in [*paths, tmp / "train.npy"]:  # both start from a warm page cache
            path.read_bytes()

        naive = images_per_second(
            DataLoader(
                NaiveJpegs(paths, args.size),
                batch_size=args.batch_size,
                shuffle=True,
                num_workers=2,
                persistent_workers=True,
            ),
            args.batches,
        )
        feed = images_per_second(batches(split, args.batch_size, shuffle=True), args.batches)
        generator, augment = torch.Generator().manual_seed(0), quick_start_params("photos").train.augment

        def augmented(backend):
            return lambda batch: train_view(batch, args.size, augment, IMAGENET_MEAN, IMAGENET_STD, generator, backend)

        cpu = images_per_second(batches(split, args.batch_size, shuffle=True), args.batches, augmented("opencv"))
        # what the GPU's path would cost on the CPU
        cpu_float = images_per_second(
            batches(split, args.batch_size, shuffle=True), args.batches, augmented("grid_sample")
        )

    print(
        f"{args.images} JPEGs of about 500x375, size {args.size}, batch {args.batch_size}; naive: 2 loader workers, "
        "pipeline: one read-ahead thread"
    )
    print("| loader | images/s | vs naive |\n| --- | --- | --- |")
    print(f"| naive: JPEG + torchvision transforms per image | {naive:.0f} | 1.00x |")
    print(f"| pipeline, augmentation on the training device (host cost only) | {feed:.0f} | {feed / naive:.1f}x |")
    print(
        f"| pipeline, augmentation on the CPU too (OpenCV uint8 warp + lookup table) | {cpu:.0f} | {cpu / naive:.1f}x |"
    )
    print(
        f"| (for comparison) the GPU's float grid_sample run on the CPU | {cpu_float:.0f} | {cpu_float / naive:.1f}x |"
    )


if __name__ == "__main__":
    main()
