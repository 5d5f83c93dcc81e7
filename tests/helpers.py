"""What many tests share: the repository's params, a small recipe, the CPU runtime, training on a cache."""

from dataclasses import replace
from pathlib import Path

import torch

from pets.config.params import load_params
from pets.data.loader import CachedSplit
from pets.data.presets import Preprocess
from pets.model.build import build_model
from pets.model.checkpoint import save_checkpoint
from pets.runtime.profile import Runtime
from pets.train.loop import fit
from pets.train.recipe import Recipe

ROOT = Path(__file__).resolve().parents[1]
PARAMS = load_params(ROOT / "params.yaml")
CPU = Runtime.cpu()
DEFAULT_AUGMENT = Recipe.from_params(PARAMS).augment
NO_AUGMENT = replace(DEFAULT_AUGMENT, min_scale=1.0, flip=False, max_rotate=0.0, max_zoom=1.0, max_lighting=0.0)
# digits, resnet18 from scratch at 16 px, one epoch: the shortest real run of the pipeline
SHORT = dict(
    data="digits",
    arch="resnet18",
    weights="none",
    size=16,
    cache__resolution=16,
    train__epochs=1,
    train__epochs_unfrozen=0,
    train__augment__flip=False,
)


def recipe(**overrides):
    """params.yaml's recipe, made small for the 16 px colour cache (resnet18, batch 8, one frozen epoch)."""
    settings = dict(
        arch="resnet18",
        size=16,
        batch_size=8,
        epochs=1,
        epochs_unfrozen=0,
        lr=1e-2,
        lr_unfrozen=(1e-4, 1e-2),
        body_groups=2,
        weight_decay=0.01,
        batchnorm_stats="batch",
        pretrained=True,
        seed=0,
    )
    return replace(Recipe.from_params(PARAMS), **{**settings, **overrides})


def splits(cache):
    return CachedSplit(cache, "train"), CachedSplit(cache, "valid")


def model_and_stats(cache):
    torch.manual_seed(0)
    manifest = CachedSplit(cache, "train").manifest
    return build_model("resnet18", manifest["classes"], "none", manifest["mean"], manifest["std"])


def preprocess_of(cache, mean, std, size=16):
    return Preprocess.of_cache(CachedSplit(cache, "train").manifest, size, mean, std)


def fit_on(cache, model, mean, std, recipe, runtime=CPU, log=lambda line: None, **options):
    """fit() on the train and valid splits of a cache, at the recipe's size."""
    train_split, valid_split = splits(cache)
    return fit(
        model,
        train_split=train_split,
        valid_split=valid_split,
        recipe=recipe,
        preprocess=preprocess_of(cache, mean, std, recipe.size),
        runtime=runtime,
        log=log,
        **options,
    )


def save_model(path, model, *, arch, classes, size, mean, std):
    """A models/model.pt of `model` whose images are prepared at `size` (the cache's resolution too, cropped)."""
    save_checkpoint(
        path,
        model,
        arch=arch,
        classes=classes,
        preprocess=Preprocess(size=size, mean=tuple(mean), std=tuple(std), resolution=size, resize="crop"),
    )
