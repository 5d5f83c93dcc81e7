"""The trained body's features of the images the train stage scores (the head's input), kept for the label audit's
out-of-fold probe (pets.inference.out_of_fold)."""

import contextlib

import numpy as np
import torch

from pets.model.classifier import Classifier


@contextlib.contextmanager
def head_inputs(classifier: Classifier):
    """A list that fills with the head's input of every forward pass inside (the body's features, pooled to one
    vector per image, float32 on the CPU), in order."""
    found = []

    def keep(_module, inputs):
        features = inputs[0]
        found.append((features.mean((2, 3)) if features.ndim == 4 else features.flatten(1)).float().cpu())

    handle = classifier.head_module.register_forward_pre_hook(keep)
    try:
        yield found
    finally:
        handle.remove()


def features_by_split(found: list[torch.Tensor], counts: dict[str, int]) -> dict[str, np.ndarray]:
    """The features head_inputs gathered over splits scored one after another, {split: (N, features)}."""
    every = torch.cat(found).numpy()
    bounds = np.cumsum([0, *counts.values()])
    return {name: every[start:end] for name, start, end in zip(counts, bounds[:-1], bounds[1:])}
