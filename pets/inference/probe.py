"""Out-of-sample scores of the training images, for the label audit: a model that trained on a wrong label has
learned it (a misplaced training picture scores its wrong label high), so its own scores of the training images
hide the very errors the audit looks for. A linear probe on the trained body's features, cross-validated, scores
each training image with a probe that never saw it: seconds, no retraining (measured: python -m bench.audit,
docs/pictures.md)."""

import contextlib

import numpy as np
import torch

from pets.model.classifier import Classifier

FOLDS = 5
PROBE_C = 0.1  # L2 strength of the logistic regression on standardized features: less over-fitting of few images


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


def out_of_fold_log_probs(features: np.ndarray, labels: np.ndarray, n_classes: int, seed: int) -> np.ndarray | None:
    """(N, n_classes) log-probabilities of each image from a logistic regression fitted on the other folds (FOLDS,
    stratified); None when a class has fewer images than folds."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - seconds of import, the train stage's end only
    from sklearn.model_selection import StratifiedKFold, cross_val_predict  # noqa: PLC0415
    from sklearn.pipeline import make_pipeline  # noqa: PLC0415
    from sklearn.preprocessing import StandardScaler  # noqa: PLC0415

    labels = np.asarray(labels)
    if np.bincount(labels, minlength=n_classes).min() < FOLDS:
        return None
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=PROBE_C, max_iter=500))
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    probs = cross_val_predict(probe, features, labels, cv=folds, method="predict_proba")
    return np.log(np.clip(probs, 1e-12, 1.0)).astype(np.float32)


def features_by_split(found: list[torch.Tensor], counts: dict[str, int]) -> dict[str, np.ndarray]:
    """The features head_inputs gathered over splits scored one after another, {split: (N, features)}."""
    every = torch.cat(found).numpy()
    bounds = np.cumsum([0, *counts.values()])
    return {name: every[start:end] for name, start, end in zip(counts, bounds[:-1], bounds[1:])}
