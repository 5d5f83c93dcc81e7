"""What many tests share: the repository's params, a small recipe, the CPU runtime, training on a cache."""

from dataclasses import replace
from pathlib import Path

import torch

from pets.config.params import load_params
from pets.data.loader import CachedSplit
from pets.data.presets import Preprocess
from pets.model.build import build_model
from pets.model.checkpoint import save_classifier
from pets.runtime.profile import Runtime
from pets.train.loop import fit

ROOT = Path(__file__).resolve().parents[1]
PARAMS = load_params(ROOT / "params.yaml")
CPU = Runtime.cpu()
DEFAULT_AUGMENT = PARAMS.train.augment
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


def mini_digits(archive):
    """params of a mini digits run: 30 digits a class from a local archive (tests.pets_archive.digits_archive), the
    labels from the names as for the built-in digits, resnet18 from scratch at 16 px, one epoch: a training of about
    a second, where a test is about the pipeline and not about what it learns."""
    return {
        **SHORT,
        "data": "mini",
        "datasets__mini": {"sources": [{"archives": [{"url": str(archive)}]}]},
        "index__min_per_class": 5,
    }


def recipe(**overrides):
    """params.yaml's `train` settings, made small for the 16 px colour cache (batch 8, one frozen epoch)."""
    settings = dict(
        batch_size=8,
        epochs=1,
        epochs_unfrozen=0,
        lr=1e-2,
        lr_unfrozen=(1e-4, 1e-2),
        body_groups=2,
        weight_decay=0.01,
        batchnorm_stats="batch",
        seed=0,
    )
    return replace(PARAMS.train, **{**settings, **overrides})


def splits(cache):
    return CachedSplit(cache, "train"), CachedSplit(cache, "valid")


def data_preprocess(cache, size=16):
    """The cache's images at `size`, normalised with its own statistics (a model from scratch)."""
    return Preprocess.of_cache(CachedSplit(cache, "train").manifest, size)


def classifier_on(cache, arch="resnet18", weights="none", size=16, head="linear", pretrained=True):
    """A seeded `arch` for the cache's classes; `pretrained` as if its body held trained weights (it starts frozen)."""
    torch.manual_seed(0)
    manifest = CachedSplit(cache, "train").manifest
    classifier = build_model(arch, manifest["classes"], weights, data_preprocess(cache, size), head=head)
    classifier.pretrained = pretrained
    return classifier


def fit_on(cache, classifier, settings, runtime=CPU, log=lambda line: None, **options):
    """fit() on the train and valid splits of a cache."""
    train_split, valid_split = splits(cache)
    return fit(
        classifier,
        train_split=train_split,
        valid_split=valid_split,
        settings=settings,
        runtime=runtime,
        log=log,
        **options,
    )


def preprocess(size, mean=(0.5,) * 3, std=(0.25,) * 3, resolution=None, resize="crop"):
    return Preprocess(size=size, mean=tuple(mean), std=tuple(std), resolution=resolution or size, resize=resize)


def save_model(path, arch, classes, size, mean=(0.5,) * 3, std=(0.25,) * 3, head="linear", seed=0):
    """A models/model.pt of a seeded `arch` for `classes`, whose images are prepared at `size` (the cache's
    resolution too, cropped); returns its Classifier."""
    torch.manual_seed(seed)
    classifier = build_model(arch, classes, "none", preprocess(size, mean, std), head=head)
    classifier.module.eval()
    save_classifier(path, classifier)
    return classifier
