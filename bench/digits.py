"""Shared set-up for the digits benchmarks: the pipeline's own dataset, index and cache, built with the library."""

import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.recipes import quick_start_recipe
from pets.cache import build_cache
from pets.digits import write_digits
from pets.evaluate import predict_probs, summarize
from pets.index import build_index
from pets.loader import CachedSplit
from pets.models import build_model
from pets.train import fit, seed_everything

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


def cache(root, rows, classes, resolution=32, resize="squish"):
    """The train and valid splits of the pixel cache the cache stage builds from `rows`."""
    out = Path(tempfile.mkdtemp(prefix="cache-"))
    build_cache(rows, classes, root, out, resolution, resize, max_bad_frac=0)
    return CachedSplit(out, "train"), CachedSplit(out, "valid")


def train_and_score(train_split, valid_split, recipe=None, weights="none"):
    """(validation probabilities, validation metrics, history) of the pipeline's training on a cache, on the CPU;
    by default with the recipe of `make digits`."""
    recipe = recipe or quick_start_recipe("DIGITS")
    seed_everything(recipe.seed)
    manifest = train_split.manifest
    model, mean, std = build_model(recipe.arch, manifest["classes"], weights, manifest["mean"], manifest["std"])
    history = fit(model, train_split, valid_split, recipe, mean, std, CPU, log=lambda line: None)
    probs = predict_probs(model, valid_split, recipe.size, mean, std, CPU)
    return probs, summarize(probs, valid_split.labels.tolist()), history
