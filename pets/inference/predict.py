"""Top-k predictions of a trained model for image files and folders, batched at loader speed."""

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from pets.data.images import load_image
from pets.inference.answers import top_classes
from pets.inference.forward import log_probabilities
from pets.model.checkpoint import load_classifier
from pets.model.classifier import Classifier
from pets.progress import progress
from pets.runtime.profile import Runtime


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
    classifier: Classifier, paths: Sequence[Path], *, runtime: Runtime, top_k: int = 3, workers: int = 2
) -> Iterator[tuple[Path, list[tuple[str, float]] | None, str]]:
    """Yield (path, [(class, calibrated probability)] or None, error) per path, in order."""
    runtime.place(classifier.module).eval()
    classes = classifier.classes
    loader = DataLoader(
        ImageFiles(paths, classifier.preprocess),
        batch_size=runtime.inference_batch,
        num_workers=min(workers, len(paths)),
        collate_fn=_collate,
    )
    done = 0
    for items in progress(loader, desc="predict", unit=" img", total=len(paths), count=len):
        good = [pixels for pixels, error in items if pixels is not None]
        if good:
            (batch,) = runtime.to_device(torch.stack(good))
            probs = log_probabilities(classifier, batch, runtime, calibrated=True).exp()
            top = probs.topk(min(top_k, len(classes)), dim=1)
            results = iter(zip(top.values.tolist(), top.indices.tolist()))
        for pixels, error in items:
            path = paths[done]
            done += 1
            if pixels is None:
                yield path, None, error
            else:
                probs, indices = next(results)
                yield path, [(classes[i], p) for p, i in zip(probs, indices)], ""


class TorchClassifier:
    """models/model.pt behind OnnxClassifier's interface (pets.inference.onnx_model), for the served page."""

    def __init__(self, path: str | Path, runtime: Runtime):
        self.classifier, self.runtime = load_classifier(path), runtime
        self.classes, self.arch, self.preprocess = (
            self.classifier.classes,
            self.classifier.name,
            self.classifier.preprocess,
        )
        runtime.place(self.classifier.module).eval()

    def load(self, source) -> np.ndarray:
        return load_image(source, self.preprocess.resolution, self.preprocess.resize)

    @torch.no_grad()
    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        (batch,) = self.runtime.to_device(torch.from_numpy(np.ascontiguousarray(pixels)))
        return log_probabilities(self.classifier, batch, self.runtime, calibrated=True).exp().cpu().numpy()

    def top(self, probs: np.ndarray, k: int) -> list[tuple[str, float]]:
        return top_classes(probs, self.classes, k)
