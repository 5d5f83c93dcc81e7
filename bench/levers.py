"""Where this pipeline's recipe departs from fastai's, each lever measured on its own, over seeds.

    python -m bench.levers [--seeds 5] [--photos-k 10] [--digits-k 30]   # 59 min on 2 cores
    python -m bench.levers --datasets photos --levers 'train_bn,momentum cycled'   # a part of it

On the datasets of bench.vs_fastai (the built-in photos, k crops per class; the digits, k per class at 64 px),
`make photos`' recipe on Lite0 with its packaged ImageNet weights, once as the pipeline has it ("pipeline") and
once with one lever changed to fastai's way (or to other rates and epochs). Each seed picks the data and seeds
training; every lever runs on the same caches, so the seeds pair: a lever's effect is the mean of its per-seed
difference to the pipeline's error, given with that difference's standard error. A lever wins only where the
mean difference is below minus one standard error.

Each lever is a change of params (fastai's ways are options of the recipe: train.train_bn, train.momentum,
train.head, train.group_by), so a user can run any of them with `dvc exp run -S`.
"""

import argparse
import math
import time

import numpy as np

from bench.digits import cache, digits_rows, train_and_score
from bench.recipes import quick_start_params
from bench.transfer import DIGITS_SIZE, ON_DIGITS, digits_few_shot_rows, photo_rows

# fastai's ways, each a change of the recipe's options (params.yaml's train section)
MECHANICS = {
    "train_bn": {"train.train_bn": True},  # the frozen body's BatchNorm layers train, at the head's rate
    "momentum cycled": {"train.momentum": [0.95, 0.85]},  # fit_one_cycle's moms=(0.95, 0.85, 0.95)
    "no wd on bn/bias": {"train.decay_bn_bias": False},  # fastai's wd_bn_bias=False
    "fastai head": {"train.head": "fastai"},  # create_head: concat pool, BN, dropout, Linear, ReLU, BN, dropout, Linear
    "equal-count groups": {"train.group_by": "count"},  # runs of equally many parameter tensors, not timm's stages
}
RATES = ("lr x0.5", "lr x2", "lr_unfrozen x10", "lr_unfrozen x100", "epochs 5+5")
LEVERS = ("pipeline", *MECHANICS, *RATES)


def rate_changes(lever, params):
    """A rate or epoch lever as changes by dotted key to the recipe `params` describe."""
    train = params.train
    total = train.epochs + train.epochs_unfrozen
    return {
        "lr x0.5": {"train.lr": train.lr / 2},
        "lr x2": {"train.lr": train.lr * 2},
        "lr_unfrozen x10": {"train.lr_unfrozen": [r * 10 for r in train.lr_unfrozen]},
        "lr_unfrozen x100": {"train.lr_unfrozen": [r * 100 for r in train.lr_unfrozen]},
        "epochs 5+5": {"train.epochs": total // 2, "train.epochs_unfrozen": total - total // 2},
    }.get(lever, MECHANICS.get(lever, {}))


def run(splits, changes):
    _, metrics, _ = train_and_score(*splits, quick_start_params("photos", changes), "imagenet")
    return metrics["error_rate"]


def measure(name, seeds, data, base_changes, levers, results):
    params = quick_start_params("photos", base_changes)
    for seed in range(seeds):
        splits = data(seed)
        errors = {
            lever: run(splits, {**base_changes, **rate_changes(lever, params), "train.seed": seed}) for lever in levers
        }
        for lever, error in errors.items():
            results.setdefault(name, {}).setdefault(lever, []).append(error)
        print(f"{name} seed {seed}: " + ", ".join(f"{lever} {e:.4f}" for lever, e in errors.items()), flush=True)


def report(results, seeds):
    names = list(results)
    print(
        f"\nerror_rate, mean ± sd over {seeds} seeds; Δ: mean per-seed difference to the pipeline ± its standard "
        f"error (win: Δ < -se)\n"
    )
    print("| lever | " + " | ".join(f"{name} | Δ" for name in names) + " |")
    print("|" + " --- |" * (1 + 2 * len(names)))
    for lever in next(iter(results.values())):
        cells = []
        for name in names:
            errors, base = np.array(results[name][lever]), np.array(results[name]["pipeline"])
            difference = errors - base
            se = difference.std(ddof=1) / math.sqrt(len(difference)) if len(difference) > 1 else float("nan")
            cells += [
                f"{errors.mean():.4f} ± {errors.std():.4f}",
                "" if lever == "pipeline" else f"{difference.mean():+.4f} ± {se:.4f}",
            ]
        print(f"| {lever} | " + " | ".join(cells) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--photos-k", type=int, default=10)
    parser.add_argument("--digits-k", type=int, default=30)
    parser.add_argument("--levers", default=",".join(LEVERS), help="comma-separated, from: " + ", ".join(LEVERS))
    parser.add_argument("--datasets", default="photos,digits", help="comma-separated: photos, digits")
    args = parser.parse_args()
    levers = ["pipeline", *[lever for lever in args.levers.split(",") if lever != "pipeline"]]
    unknown = set(levers) - set(LEVERS)
    if unknown:
        parser.error(f"unknown levers: {', '.join(sorted(unknown))}")
    started, results = time.perf_counter(), {}
    if "photos" in args.datasets:
        resolution = quick_start_params("photos")["cache"]["resolution"]
        measure(
            f"photos, k={args.photos_k}",
            args.seeds,
            lambda seed: cache(*photo_rows(args.photos_k, seed), resolution, "crop"),
            {},
            levers,
            results,
        )
    if "digits" in args.datasets:
        root, rows, classes = digits_rows()
        measure(
            f"digits, k={args.digits_k}",
            args.seeds,
            lambda seed: cache(
                root, digits_few_shot_rows(rows, classes, args.digits_k, seed), classes, DIGITS_SIZE, "squish"
            ),
            ON_DIGITS,
            levers,
            results,
        )
    report(results, args.seeds)
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
