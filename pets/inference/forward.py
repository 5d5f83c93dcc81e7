"""The one forward pass of a trained model: validation, evaluation and prediction all call it."""

import torch

from pets.data.cache import read_manifest
from pets.data.loader import CachedSplit, batches
from pets.model.classifier import Classifier
from pets.progress import image_batches
from pets.runtime.profile import Runtime


@torch.no_grad()
def log_probabilities(
    classifier: Classifier, pixels: torch.Tensor, runtime: Runtime, tta: bool = False, calibrated: bool = False
) -> torch.Tensor:
    """(N, classes) float32 log-probabilities of a uint8 NHWC batch already on the runtime's device, prepared as the
    classifier's Preprocess says; `calibrated`: of the logits divided by its temperature (pets.inference.calibration);
    with `tta`, of the probabilities averaged over the test-time views."""
    temperature = classifier.temperature if calibrated else 1.0
    logits = []
    for view in classifier.preprocess.views(pixels, tta):
        with runtime.autocast():
            logits.append(classifier.module(runtime.input_layout(view)).float() / temperature)  # float32 always
    if len(logits) == 1:
        return logits[0].log_softmax(1)
    probs = 0
    for view_logits in logits:
        probs = probs + view_logits.softmax(1)
    return (probs / len(logits)).log()


@torch.no_grad()
def split_log_probabilities(
    classifier: Classifier, split: CachedSplit, runtime: Runtime, tta: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(log-probabilities, labels) on the device for this process's shard of a CachedSplit, in order."""
    classifier.module.eval()
    out, labels = [], []
    loader = batches(split, runtime.inference_batch, shuffle=False, pin_memory=runtime.pin_memory)
    for pixels, batch_labels in image_batches(loader, f"predict {split.path.stem}"):
        pixels, batch_labels = runtime.to_device(pixels, batch_labels)
        out.append(log_probabilities(classifier, pixels, runtime, tta))
        labels.append(batch_labels)
    return torch.cat(out), torch.cat(labels)


def predict_probs(classifier: Classifier, split: CachedSplit, runtime: Runtime, tta: bool = False) -> torch.Tensor:
    """(N, classes) probabilities of a whole CachedSplit, on the CPU."""
    return split_log_probabilities(classifier, split, runtime, tta)[0].exp().cpu()


def score_splits(classifier: Classifier, cache, runtime: Runtime, tta: bool = False) -> dict:
    """{split: (N, classes) log-probabilities as a NumPy array} of every split of the pixel cache at `cache`, in its
    order (with `tta`, of the test-time views): what pets.inference.scores keeps of a trained model."""
    return {
        name: split_log_probabilities(classifier, CachedSplit(cache, name), runtime, tta)[0].cpu().numpy()
        for name in read_manifest(cache)["splits"]
    }
