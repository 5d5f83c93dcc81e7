"""Shared set-up for the digits benchmarks: the pipeline's own dataset, index and cache, built with the library."""

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.recipes import PARAMS, quick_start_params
from pets.data.cache import build_cache
from pets.data.digits import write_digits
from pets.data.index import build_index
from pets.data.loader import CachedSplit
from pets.data.presets import Preprocess
from pets.inference.forward import predict_probs
from pets.model.build import build_model
from pets.report.metrics import summarize
from pets.runtime.profile import Runtime
from pets.train.loop import fit, seed_everything

CPU = Runtime.cpu(threads=torch.get_num_threads())


def digits_rows(valid_frac=0.2, seed=42):
    """(dataset folder, index rows, classes) exactly as the download and index stages make them."""
    root = Path(tempfile.mkdtemp(prefix="digits-"))
    write_digits(root)
    rows, classes, _ = build_index(root, replace(PARAMS.index, split="random", valid_frac=valid_frac, seed=seed))
    return root, rows, classes


def raw_pixels(root, rows):
    """The 64 raw pixels of each row's 8x8 image, scaled to [0, 1], for the classical models."""
    return np.stack([np.asarray(Image.open(root / row["path"]), dtype=np.float64).ravel() / 255 for row in rows])


def cache(root, rows, classes, resolution=32, resize="squish"):
    """The train and valid splits of the pixel cache the cache stage builds from `rows`."""
    out = Path(tempfile.mkdtemp(prefix="cache-"))
    build_cache(rows, classes, root, out, resolution=resolution, resize=resize, max_bad_frac=0)
    return CachedSplit(out, "train"), CachedSplit(out, "valid")


def train_and_score(train_split, valid_split, params=None, weights="none"):
    """(validation probabilities, validation metrics, history) of the pipeline's training on a cache, on the CPU;
    by default with the params of `make digits`."""
    params = params or quick_start_params("digits")
    seed_everything(params.train.seed)
    manifest = train_split.manifest
    classifier = build_model(
        params.arch, manifest["classes"], weights, Preprocess.of_cache(manifest, params.size), head=params.train.head
    )
    history = fit(
        classifier,
        train_split=train_split,
        valid_split=valid_split,
        settings=params.train,
        runtime=CPU,
        log=lambda line: None,
    )
    probs = predict_probs(classifier, valid_split, CPU).numpy()  # pets.report.metrics works on NumPy arrays
    return probs, summarize(probs, valid_split.labels.tolist()), history
