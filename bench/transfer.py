"""Transfer learning on real ImageNet features, measured: k labelled images per class, four ways, several seeds.

    python -m bench.transfer [--seeds 5] [--ks 2,5,10] [--digits-k 10]
    python -m bench.transfer --slice [--seeds 5]

On the built-in photos (training and validation crops from disjoint parts of each photograph) and on the
digits (k per class for training, all the other digits for validation), with the same arch and budget:
(a) EfficientNet-Lite0 with its ImageNet weights, `make photos`' recipe (frozen body, then unfrozen with
    discriminative rates); (a') the same with BatchNorm normalising with batch statistics once unfrozen
    (`train.batchnorm_stats: batch`);
(b) the same arch from scratch, every epoch of the budget at the from-scratch rate of `make digits`;
(c) a linear probe: logistic regression on the frozen ImageNet body's pooled features;
(d) an SVC (RBF) on raw pixels: the 8x8 digits, photos as 32x32 RGB thumbnails.
Each seed picks the crops (photos) or the k images per class (digits) and seeds training.
For (a) it also prints which classes its mistakes come from, summed over the seeds.

--slice measures the end-to-end test's slice instead (tests/test_transfer.py): (a) and (b) over the seeds,
to show the test's threshold is safe.
"""

import argparse
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from bench.digits import cache, digits_rows, raw_pixels, train_and_score
from bench.recipes import PARAMS, quick_start_params
from pets.data.augment import normalize_, valid_view
from pets.data.index import build_index
from pets.data.photos import write_photos
from pets.model.archs import resolve
from pets.report.metrics import most_confused

WAYS = (
    "(a) ImageNet body, default recipe",
    "(a') same, batchnorm_stats: batch",
    "(b) from scratch",
    "(c) linear probe on ImageNet features",
    "(d) SVC on raw pixels",
)
DIGITS_SIZE = 64  # the 8x8 digits are cached at 64 px for Lite0, whose body downsamples 32-fold
# what `make photos`' recipe changes on the digits (a mirrored digit is another symbol)
ON_DIGITS = {"size": DIGITS_SIZE, "cache.resolution": DIGITS_SIZE, "train.augment.flip": False}
# tests/test_transfer.py's slice of `make photos`
SLICE = {
    "datasets.photos.train_per_class": 5,
    "datasets.photos.valid_per_class": 5,
    "size": 96,
    "cache.resolution": 128,
    "train.epochs": 4,
    "train.epochs_unfrozen": 1,
}


def photo_rows(k, seed, valid_per_class=20):
    """(dataset folder, index rows, classes) of the built-in photos with k training crops per class, as the download
    and index stages make them."""
    root = Path(tempfile.mkdtemp(prefix="photos-"))
    write_photos(root, train_per_class=k, valid_per_class=valid_per_class, seed=seed)
    rows, classes, _ = build_index(root, replace(PARAMS.index, split="csv"))
    return root, rows, classes


def photo_splits(k, seed, resolution, valid_per_class=20):
    """The built-in photos with k training crops per class, indexed and cached as the stages do it."""
    return cache(*photo_rows(k, seed, valid_per_class), resolution, resize="crop")


@torch.no_grad()
def imagenet_features(split, size):
    """Pooled features of the untouched ImageNet Lite0 body for every image of a split (its validation view)."""
    arch = resolve("tf_efficientnet_lite0")
    model = arch.imagenet_model().eval()
    pixels, _ = split[range(len(split))]
    images = normalize_(valid_view(pixels, size), arch.mean, arch.std)
    return model.forward_head(model.forward_features(images), pre_logits=True).numpy()


def thumbnails(split, size=32):
    pixels, _ = split[range(len(split))]
    return valid_view(pixels, size).flatten(1).numpy()


def error_rates(train_split, valid_split, changes, train_pixels, valid_pixels):
    """({way: validation error_rate} of the five ways on one split, Counter of (a)'s (actual, predicted) mistakes);
    `changes`: of `make photos`' params, by dotted key."""
    recipe = quick_start_params("photos", changes)
    budget = recipe.train.epochs + recipe.train.epochs_unfrozen
    scratch = {"train.epochs": budget, "train.epochs_unfrozen": 0, "train.lr": quick_start_params("digits").train.lr}
    ways = {
        WAYS[0]: (recipe, "imagenet"),
        WAYS[1]: (quick_start_params("photos", {**changes, "train.batchnorm_stats": "batch"}), "imagenet"),
        WAYS[2]: (quick_start_params("photos", {**changes, **scratch, "weights": "none"}), "none"),
    }
    errors, mistakes = {}, Counter()
    for way, (params, weights) in ways.items():
        probs, metrics, _ = train_and_score(train_split, valid_split, params, weights)
        errors[way] = metrics["error_rate"]
        if way == WAYS[0]:
            classes = train_split.manifest["classes"]
            mistakes.update(
                {
                    (m["actual"], m["predicted"]): m["count"]
                    for m in most_confused(probs.argmax(1), valid_split.labels, classes, min_count=1)
                }
            )
    train_features, valid_features = (imagenet_features(s, recipe.size) for s in (train_split, valid_split))
    probe = LogisticRegression(max_iter=5000).fit(train_features, train_split.labels)
    errors[WAYS[3]] = 1 - probe.score(valid_features, valid_split.labels)
    svc = SVC(C=10, gamma="scale").fit(train_pixels, train_split.labels)
    errors[WAYS[4]] = 1 - svc.score(valid_pixels, valid_split.labels)
    return errors, mistakes


def digits_few_shot_rows(rows, classes, k, seed):
    """The digits' index rows re-split: k training images per class, every other image for validation."""
    rng = np.random.default_rng(seed)
    chosen = set()
    for label in classes:
        chosen.update(rng.choice(sorted(r["path"] for r in rows if r["label"] == label), size=k, replace=False))
    return [{**r, "split": "train" if r["path"] in chosen else "valid"} for r in rows]


def digits_few_shot(root, rows, classes, k, seed):
    """All ten digits: k training images per class, every other image for validation; and their raw pixels."""
    rows = digits_few_shot_rows(rows, classes, k, seed)
    train_split, valid_split = cache(root, rows, classes, resolution=DIGITS_SIZE)
    pixels = {split: raw_pixels(root, [r for r in rows if r["split"] == split]) for split in ("train", "valid")}
    return train_split, valid_split, pixels["train"], pixels["valid"]


def record(results, name, k, errors):
    for way, error in errors.items():
        results.setdefault(k, {}).setdefault(way, []).append(error)
    print(f"{name}: " + ", ".join(f"{way.split()[0]} {error:.4f}" for way, error in errors.items()), flush=True)


def where_wrong(title, mistakes, top=8):
    """(a)'s most frequent mistakes, summed over the seeds: which classes its error comes from."""
    for k, counts in mistakes.items():
        pairs = ", ".join(f"{actual} -> {predicted} {n}" for (actual, predicted), n in counts.most_common(top))
        print(f"{title}, k={k}: (a) got {sum(counts.values())} wrong over the seeds; most often {pairs}")


def table(title, results, seeds):
    print(f"\n{title}: error_rate, mean ± sd over {seeds} seeds")
    print("| k per class | " + " | ".join(WAYS) + " | (a) / (b) |\n|" + " --- |" * (len(WAYS) + 2))
    for k, per_way in results.items():
        means = {way: np.mean(values) for way, values in per_way.items()}
        cells = " | ".join(f"{means[way]:.4f} ± {np.std(per_way[way]):.4f}" for way in WAYS)
        print(f"| {k} | {cells} | {means[WAYS[0]] / max(means[WAYS[2]], 1e-9):.3f} |")


def slice_check(seeds):
    """(a) and (b) on the end-to-end test's slice: the worst of (a) bounds the test's threshold from below."""
    errors = {}
    for weights in ("imagenet", "none"):
        for seed in range(seeds):
            params = quick_start_params("photos", {**SLICE, "weights": weights, "train.seed": seed})
            photos = params.recipe
            train_split, valid_split = photo_splits(
                photos["train_per_class"], seed, params.cache.resolution, photos["valid_per_class"]
            )
            _, metrics, _ = train_and_score(train_split, valid_split, params, weights)
            errors.setdefault(weights, []).append(metrics["error_rate"])
    for weights, values in errors.items():
        print(
            f"slice, weights {weights}: error_rate {np.mean(values):.4f} ± {np.std(values):.4f}, "
            f"from {min(values):.4f} to {max(values):.4f} over {seeds} seeds"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--ks", default="2,5,10", help="labelled photos per class")
    parser.add_argument("--digits-k", type=int, default=10)
    parser.add_argument("--slice", action="store_true", help="the end-to-end test's slice only")
    args = parser.parse_args()
    if args.slice:
        slice_check(args.seeds)
        return
    started = time.perf_counter()

    photos, photo_mistakes, resolution = {}, {}, quick_start_params("photos").cache.resolution
    for k in map(int, args.ks.split(",")):
        for seed in range(args.seeds):
            train_split, valid_split = photo_splits(k, seed, resolution)
            errors, mistakes = error_rates(
                train_split,
                valid_split,
                {"train.seed": seed},
                thumbnails(train_split),
                thumbnails(valid_split),
            )
            record(photos, f"photos k={k} seed={seed}", k, errors)
            photo_mistakes.setdefault(k, Counter()).update(mistakes)

    root, rows, classes = digits_rows()
    digits, digit_mistakes = {}, {}
    for seed in range(args.seeds):
        train_split, valid_split, train_pixels, valid_pixels = digits_few_shot(root, rows, classes, args.digits_k, seed)
        errors, mistakes = error_rates(
            train_split,
            valid_split,
            {**ON_DIGITS, "train.seed": seed},
            train_pixels,
            valid_pixels,
        )
        record(digits, f"digits k={args.digits_k} seed={seed}", args.digits_k, errors)
        digit_mistakes.setdefault(args.digits_k, Counter()).update(mistakes)

    table("built-in photos (13 classes, 20 validation crops each), Lite0 at 128 px", photos, args.seeds)
    table(f"digits (10 classes), Lite0 at {DIGITS_SIZE} px", digits, args.seeds)
    print()
    where_wrong("photos", photo_mistakes)
    where_wrong("digits", digit_mistakes)
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
