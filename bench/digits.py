"""Shared set-up for the digits benchmarks: the pipeline's own dataset, index and cache, built with the library."""

import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pets.augment import Augment
from pets.cache import build_cache
from pets.digits import write_digits
from pets.evaluate import predict_probs, summarize
from pets.index import build_index
from pets.loader import CachedSplit
from pets.models import build_model
from pets.train import Recipe, fit, seed_everything

# The digits recipe: what `make digits` passes to `dvc exp run` (see the Makefile and README).
DIGITS_RECIPE = dict(size=32, batch_size=64, epochs=8, epochs_unfrozen=0, lr=2e-3, lr_unfrozen=(1e-6, 1e-4),
                     body_groups=2, weight_decay=0.01, augment=Augment(flip=False), pretrained=False, seed=42)
CPU = torch.device("cpu")


def digits_rows(valid_frac=0.2, seed=42):
    """(dataset folder, index rows, classes) exactly as the download and index stages make them."""
    root = Path(tempfile.mkdtemp(prefix="digits-"))
    write_digits(root)
    rows, classes, _ = build_index(root, "images", "regex", r"^(.+)_\d+$", "labels.csv", "random", valid_frac, seed,
                                   False)
    return root, rows, classes


def raw_pixels(root, rows):
    """The 64 raw pixels of each row's 8x8 image, scaled to [0, 1], for the classical models."""
    return np.stack([np.asarray(Image.open(root / row["path"]), dtype=np.float64).ravel() / 255 for row in rows])


def cache(root, rows, classes, resolution=32):
    out = Path(tempfile.mkdtemp(prefix="digits-cache-"))
    build_cache(rows, classes, root, out, resolution, "squish", max_bad_frac=0)
    return CachedSplit(out, "train"), CachedSplit(out, "valid")


def train_and_score(train_split, valid_split, arch="resnet18", weights="none", **recipe_changes):
    """(model, validation metrics, history) of the pipeline's training on a cache, on the CPU."""
    recipe = Recipe(**{**DIGITS_RECIPE, **recipe_changes})
    seed_everything(recipe.seed)
    manifest = train_split.manifest
    model, mean, std = build_model(arch, manifest["classes"], weights, manifest["mean"], manifest["std"])
    history = fit(model, train_split, valid_split, recipe, mean, std, CPU, log=lambda line: None)
    probs = predict_probs(model, valid_split, recipe.size, mean, std, CPU)
    return model, summarize(probs, valid_split.labels.tolist()), history
