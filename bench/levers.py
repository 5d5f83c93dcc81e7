"""Where this pipeline's recipe departs from fastai's, each lever measured on its own, over seeds.

    python -m bench.levers [--seeds 5] [--photos-k 10] [--digits-k 30] [--levers name,name]   # 59 min on 2 cores

On the datasets of bench.vs_fastai (the built-in photos, k crops per class; the digits, k per class at 64 px),
`make photos`' recipe on Lite0 with its packaged ImageNet weights, once as the pipeline has it ("pipeline") and
once with one lever changed to fastai's way (or to other rates and epochs). Each seed picks the data and seeds
training; every lever runs on the same caches, so the seeds pair: a lever's effect is the mean of its per-seed
difference to the pipeline's error, given with that difference's standard error. A lever wins only where the
mean difference is below minus one standard error.

The levers that are not the pipeline's way are applied here by patching the library for the duration of one run.
"""

import argparse
import contextlib
import math
import time
from unittest import mock

import numpy as np
import torch
from torch import nn

import bench.digits
import pets.train
from bench.digits import cache, digits_rows, train_and_score
from bench.recipes import quick_start_params, quick_start_recipe
from bench.transfer import DIGITS_SIZE, ON_DIGITS, digits_few_shot_rows, photo_rows
from pets.archs import TimmArch, TorchvisionArch
from pets.models import layer_groups, set_body_frozen

BATCHNORM = nn.modules.batchnorm._BatchNorm


def body_frozen(model):
    return not any(p.requires_grad for m in model.modules() if isinstance(m, nn.Conv2d) for p in m.parameters())


@contextlib.contextmanager
def train_bn():
    """fastai's `train_bn=True`: in the frozen phase the body's BatchNorm layers train (weights at the head's rate,
    running statistics from the batches)."""
    def frozen_but_batchnorm(model, arch, frozen):
        set_body_frozen(model, arch, frozen)
        for module in model.modules():
            if isinstance(module, BATCHNORM):
                module.requires_grad_(True)

    def with_batchnorm(model, arch, peak_lrs, body_groups, weight_decay):
        groups = [{"params": [p for p in params if p.requires_grad], "lr": lr or peak_lrs[-1]}
                  for params, lr in zip(layer_groups(model, arch, body_groups), peak_lrs)]
        return torch.optim.AdamW([g for g in groups if g["params"]], weight_decay=weight_decay)

    def batchnorm_trains_while_frozen(model, recipe):
        model.train()
        if not body_frozen(model):
            pets.train.freeze_batchnorm_stats(model, everywhere=recipe.batchnorm_stats == "pretrained")

    with mock.patch.object(pets.train, "set_body_frozen", frozen_but_batchnorm), \
            mock.patch.object(pets.train, "make_optimizer", with_batchnorm), \
            mock.patch.object(pets.train, "train_mode", batchnorm_trains_while_frozen):
        yield


@contextlib.contextmanager
def cycled_momentum(high=0.95, low=0.85):
    """fastai's `fit_one_cycle` moms=(0.95, 0.85, 0.95): AdamW's beta1 falls as the rate warms up, rises as it
    anneals (both on cosines)."""
    one_cycle = pets.train.one_cycle

    def with_momentum(optimizer, total_steps, warmup=0.25):
        schedule = one_cycle(optimizer, total_steps, warmup)
        warm_steps = max(1, round(warmup * total_steps))
        step = schedule.step

        def beta1(n):
            if n < warm_steps:
                start, end, done = high, low, n / warm_steps
            else:
                start, end, done = low, high, (n - warm_steps) / max(1, total_steps - warm_steps - 1)
            return end + (start - end) * (1 + math.cos(math.pi * min(done, 1.0))) / 2

        def step_with_momentum(*args):
            step(*args)
            for group in optimizer.param_groups:
                group["betas"] = (beta1(schedule.last_epoch), group["betas"][1])

        schedule.step = step_with_momentum
        for group in optimizer.param_groups:
            group["betas"] = (high, group["betas"][1])
        return schedule

    with mock.patch.object(pets.train, "one_cycle", with_momentum):
        yield


@contextlib.contextmanager
def no_decay_on_batchnorm_and_bias():
    """fastai's `wd_bn_bias=False`: no weight decay on BatchNorm weights and biases (every 1-d tensor)."""
    def split_decay(model, arch, peak_lrs, body_groups, weight_decay):
        groups = []
        for params, lr in zip(layer_groups(model, arch, body_groups), peak_lrs):
            if lr > 0:
                groups += [{"params": [p for p in params if p.ndim > 1], "lr": lr},
                           {"params": [p for p in params if p.ndim <= 1], "lr": lr, "weight_decay": 0.0}]
        return torch.optim.AdamW([g for g in groups if g["params"]], weight_decay=weight_decay)

    with mock.patch.object(pets.train, "make_optimizer", split_decay):
        yield


class FastaiHead(nn.Module):
    """fastai's `create_head`: max and average pooling concatenated, BatchNorm, dropout, Linear, ReLU, BatchNorm,
    dropout, Linear."""

    def __init__(self, n_features, n_classes):
        super().__init__()
        self.max, self.avg = nn.AdaptiveMaxPool2d(1), nn.AdaptiveAvgPool2d(1)
        self.layers = nn.Sequential(
            nn.Flatten(), nn.BatchNorm1d(2 * n_features), nn.Dropout(0.25), nn.Linear(2 * n_features, 512, bias=False),
            nn.ReLU(), nn.BatchNorm1d(512), nn.Dropout(0.5), nn.Linear(512, n_classes, bias=False))

    def forward(self, features):
        return self.layers(torch.cat([self.max(features), self.avg(features)], 1))


@contextlib.contextmanager
def fastai_style_head():
    """fastai's head in place of one Linear layer (timm: the classifier after the model's pooling is removed)."""
    build_model = bench.digits.build_model
    freeze_batchnorm_stats = pets.train.freeze_batchnorm_stats

    def with_fastai_head(arch, classes, weights, data_mean, data_std):
        model, mean, std = build_model(arch, classes, weights, data_mean, data_std)
        model.reset_classifier(0, global_pool="")
        model.classifier = FastaiHead(model.num_features, len(classes))
        return model, mean, std

    def not_in_head(model, everywhere=False):  # the head's new BatchNorm layers always learn their statistics
        freeze_batchnorm_stats(model, everywhere)
        model.get_classifier().train(model.training)

    with mock.patch.object(bench.digits, "build_model", with_fastai_head), \
            mock.patch.object(pets.train, "freeze_batchnorm_stats", not_in_head):
        yield


@contextlib.contextmanager
def equal_count_groups():
    """Layer groups as runs of equally many parameter tensors (torchvision archs today) instead of at the stages."""
    with mock.patch.object(TimmArch, "body_groups", TorchvisionArch.body_groups):
        yield


MECHANICS = {"train_bn": train_bn, "momentum cycled": cycled_momentum,
             "no wd on bn/bias": no_decay_on_batchnorm_and_bias, "fastai head": fastai_style_head,
             "equal-count groups": equal_count_groups}
RATES = ("lr x0.5", "lr x2", "lr_unfrozen x10", "lr_unfrozen x100", "epochs 5+5")
LEVERS = ("pipeline", *MECHANICS, *RATES)


def rate_changes(lever, params):
    """A rate or epoch lever as changes by dotted key to the recipe `params` describe."""
    train = params["train"]
    total = train["epochs"] + train["epochs_unfrozen"]
    return {
        "lr x0.5": {"train.lr": train["lr"] / 2}, "lr x2": {"train.lr": train["lr"] * 2},
        "lr_unfrozen x10": {"train.lr_unfrozen": [r * 10 for r in train["lr_unfrozen"]]},
        "lr_unfrozen x100": {"train.lr_unfrozen": [r * 100 for r in train["lr_unfrozen"]]},
        "epochs 5+5": {"train.epochs": total // 2, "train.epochs_unfrozen": total - total // 2},
    }.get(lever, {})


def run(lever, splits, changes):
    patch = MECHANICS[lever]() if lever in MECHANICS else contextlib.nullcontext()
    with patch:
        _, metrics, _ = train_and_score(*splits, quick_start_recipe("PHOTOS", changes), "imagenet")
    return metrics["error_rate"]


def measure(name, seeds, data, base_changes, levers, results):
    params = quick_start_params("PHOTOS", base_changes)
    for seed in range(seeds):
        splits = data(seed)
        errors = {lever: run(lever, splits, {**base_changes, **rate_changes(lever, params), "train.seed": seed})
                  for lever in levers}
        for lever, error in errors.items():
            results.setdefault(name, {}).setdefault(lever, []).append(error)
        print(f"{name} seed {seed}: " + ", ".join(f"{lever} {e:.4f}" for lever, e in errors.items()), flush=True)


def report(results, seeds):
    names = list(results)
    print(f"\nerror_rate, mean ± sd over {seeds} seeds; Δ: mean per-seed difference to the pipeline ± its standard "
          f"error (win: Δ < -se)\n")
    print("| lever | " + " | ".join(f"{name} | Δ" for name in names) + " |")
    print("|" + " --- |" * (1 + 2 * len(names)))
    for lever in next(iter(results.values())):
        cells = []
        for name in names:
            errors, base = np.array(results[name][lever]), np.array(results[name]["pipeline"])
            difference = errors - base
            se = difference.std(ddof=1) / math.sqrt(len(difference)) if len(difference) > 1 else float("nan")
            cells += [f"{errors.mean():.4f} ± {errors.std():.4f}",
                      "" if lever == "pipeline" else f"{difference.mean():+.4f} ± {se:.4f}"]
        print(f"| {lever} | " + " | ".join(cells) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--photos-k", type=int, default=10)
    parser.add_argument("--digits-k", type=int, default=30)
    parser.add_argument("--levers", default=",".join(LEVERS), help="comma-separated, from: " + ", ".join(LEVERS))
    args = parser.parse_args()
    levers = ["pipeline", *[lever for lever in args.levers.split(",") if lever != "pipeline"]]
    unknown = set(levers) - set(LEVERS)
    if unknown:
        parser.error(f"unknown levers: {', '.join(sorted(unknown))}")
    started, results = time.perf_counter(), {}
    resolution = quick_start_params("PHOTOS")["cache"]["resolution"]
    measure(f"photos, k={args.photos_k}", args.seeds,
            lambda seed: cache(*photo_rows(args.photos_k, seed), resolution, "crop"), {}, levers, results)
    root, rows, classes = digits_rows()
    measure(f"digits, k={args.digits_k}", args.seeds,
            lambda seed: cache(root, digits_few_shot_rows(rows, classes, args.digits_k, seed), classes, DIGITS_SIZE,
                               "squish"), ON_DIGITS, levers, results)
    report(results, args.seeds)
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
