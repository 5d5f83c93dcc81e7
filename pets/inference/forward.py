"""The one forward pass of a trained model: validation, evaluation and prediction all call it."""

import torch
from torch import nn

from pets.data.loader import CachedSplit, batches
from pets.data.presets import Preprocess
from pets.progress import image_batches
from pets.runtime.profile import Runtime


@torch.no_grad()
def log_probabilities(
    model: nn.Module,
    pixels: torch.Tensor,
    preprocess: Preprocess,
    runtime: Runtime,
    tta: bool = False,
    temperature: float = 1.0,
) -> torch.Tensor:
    """(N, classes) float32 log-probabilities of a uint8 NHWC batch already on the runtime's device, of the logits
    divided by `temperature` (pets.inference.calibration); with `tta`, of the probabilities averaged over the
    test-time views."""
    logits = []
    for view in preprocess.views(pixels, tta):
        with runtime.autocast():
            logits.append(model(runtime.input_layout(view)).float() / temperature)  # float32, whatever autocast ran in
    if len(logits) == 1:
        return logits[0].log_softmax(1)
    probs = 0
    for view_logits in logits:
        probs = probs + view_logits.softmax(1)
    return (probs / len(logits)).log()


@torch.no_grad()
def split_log_probabilities(
    model: nn.Module, split: CachedSplit, preprocess: Preprocess, runtime: Runtime, tta: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(log-probabilities, labels) on the device for this process's shard of a CachedSplit, in order."""
    model.eval()
    out, labels = [], []
    loader = batches(split, runtime.inference_batch, shuffle=False, pin_memory=runtime.pin_memory)
    for pixels, batch_labels in image_batches(loader, f"predict {split.path.stem}"):
        pixels, batch_labels = runtime.to_device(pixels, batch_labels)
        out.append(log_probabilities(model, pixels, preprocess, runtime, tta))
        labels.append(batch_labels)
    return torch.cat(out), torch.cat(labels)


def predict_probs(
    model: nn.Module, split: CachedSplit, preprocess: Preprocess, runtime: Runtime, tta: bool = False
) -> torch.Tensor:
    """(N, classes) probabilities of a whole CachedSplit, on the CPU."""
    return split_log_probabilities(model, split, preprocess, runtime, tta)[0].exp().cpu()
