"""Top-k predictions of a trained model for image files and folders, batched at loader speed."""

from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from pets.augment import valid_view
from pets.errors import PetsError
from pets.images import load_image
from pets.index import IMAGE_SUFFIXES
from pets.progress import progress
from pets.train import autocast, prepare_input


def image_paths(inputs):
    """Files as given, and the images below each folder (by suffix), in a stable order."""
    paths = []
    for item in map(Path, inputs):
        if item.is_dir():
            paths += sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif item.is_file():
            paths.append(item)
        else:
            raise PetsError(f"{item}: no such file or folder")
    return paths


class ImageFiles(Dataset):
    """Item i: (uint8 HWC pixels or None, the reason it could not be decoded or '')."""

    def __init__(self, paths, resolution, resize):
        self.paths, self.resolution, self.resize = paths, resolution, resize

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        try:
            return torch.from_numpy(load_image(self.paths[i], self.resolution, self.resize)), ""
        except Exception as error:  # noqa: BLE001 - reported per file, the others go on
            return None, f"not an image ({type(error).__name__}: {' '.join(str(error).split())})"


def _collate(items):
    return items


@torch.no_grad()
def predict_files(model, checkpoint, paths, device, top_k=3, batch_size=64, workers=2):
    """Yield (path, [(class, probability)] or None, error) per path, in order."""
    model.eval().to(device)
    classes, size = checkpoint["classes"], checkpoint["size"]
    dataset = ImageFiles(paths, checkpoint["resolution"], checkpoint["resize"])
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=min(workers, len(paths)), collate_fn=_collate)
    done = 0
    for items in progress(loader, desc="predict", unit=" batch"):
        good = [pixels for pixels, error in items if pixels is not None]
        if good:
            batch = torch.stack(good).to(device)
            with autocast(device):
                logits = model(prepare_input(valid_view(batch, size), checkpoint["mean"], checkpoint["std"], device))
            top = logits.float().softmax(1).topk(min(top_k, len(classes)), dim=1)
            results = iter(zip(top.values.tolist(), top.indices.tolist()))
        for pixels, error in items:
            path = paths[done]
            done += 1
            if pixels is None:
                yield path, None, error
            else:
                probs, indices = next(results)
                yield path, [(classes[i], p) for p, i in zip(probs, indices)], ""
