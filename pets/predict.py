"""Top-k predictions of a trained model for image files and folders, batched at loader speed."""

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from pets.data.images import IMAGE_SUFFIXES, load_image
from pets.data.presets import Preprocess
from pets.errors import PetsError
from pets.infer import log_probabilities
from pets.progress import progress
from pets.runtime.profile import Runtime


def image_paths(inputs: Sequence[str | Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """(files as given and the images below each folder by suffix, in a stable order; (folder, reason) of every
    folder that could not be read, which Path.rglob would skip without a word)."""
    paths, unreadable = [], []
    for item in map(Path, inputs):
        if item.is_dir():

            def refused(error, where=unreadable):
                where.append((Path(error.filename), error.strerror or type(error).__name__))

            found = [Path(top) / name for top, _, names in os.walk(item, onerror=refused) for name in names]
            paths += sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif item.is_file():
            paths.append(item)
        elif item.exists():
            raise PetsError(f"{item}: not a file or folder of images (a device, FIFO or socket)")
        else:
            raise PetsError(f"{item}: no such file or folder")
    return paths, unreadable


class ImageFiles(Dataset):
    """Item i: (uint8 HWC pixels or None, the reason it could not be decoded or '')."""

    def __init__(self, paths, preprocess):
        self.paths, self.preprocess = paths, preprocess

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        try:
            return torch.from_numpy(load_image(self.paths[i], self.preprocess.resolution, self.preprocess.resize)), ""
        except Exception as error:  # noqa: BLE001 - reported per file, the others go on
            return None, f"not an image ({type(error).__name__}: {' '.join(str(error).split())})"


def _collate(items):
    return items


@torch.no_grad()
def predict_files(
    model: nn.Module,
    *,
    classes: Sequence[str],
    preprocess: Preprocess,
    paths: Sequence[Path],
    runtime: Runtime,
    top_k: int = 3,
    workers: int = 2,
) -> Iterator[tuple[Path, list[tuple[str, float]] | None, str]]:
    """Yield (path, [(class, probability)] or None, error) per path, in order."""
    runtime.place(model).eval()
    loader = DataLoader(
        ImageFiles(paths, preprocess),
        batch_size=runtime.inference_batch,
        num_workers=min(workers, len(paths)),
        collate_fn=_collate,
    )
    done = 0
    for items in progress(loader, desc="predict", unit=" img", total=len(paths), count=len):
        good = [pixels for pixels, error in items if pixels is not None]
        if good:
            (batch,) = runtime.to_device(torch.stack(good))
            top = log_probabilities(model, batch, preprocess, runtime).exp().topk(min(top_k, len(classes)), dim=1)
            results = iter(zip(top.values.tolist(), top.indices.tolist()))
        for pixels, error in items:
            path = paths[done]
            done += 1
            if pixels is None:
                yield path, None, error
            else:
                probs, indices = next(results)
                yield path, [(classes[i], p) for p, i in zip(probs, indices)], ""
