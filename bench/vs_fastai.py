"""This pipeline's training against fastai's, on the same images, split, body, weights, size, batch and epochs.

    pip install -r bench/requirements.txt    # fastai, for this benchmark only
    python -m bench.vs_fastai [--seeds 5]

Three ways for each dataset and seed, back to back in one process:
(p) this pipeline: the cache stage's pixel cache, train's `fit` and evaluate's scoring, `make photos`' recipe;
(l) fastai, lesson 1's calls: `vision_learner`, `fit_one_cycle(frozen epochs)`, `unfreeze()`,
    `fit_one_cycle(unfrozen epochs, lr_max=slice(1e-6, 1e-4))`;
(f) fastai's `fine_tune` with its defaults (one frozen epoch, the rest of the budget unfrozen).
Both systems get tf_efficientnet_lite0 with the packaged ImageNet weights (pets/model/packaged.py). fastai reads the
image files through its DataLoaders: `Resize` to the cache's resolution, `aug_transforms` with the pipeline's
augmentation settings (no warp: the pipeline has none), `Normalize` with Lite0's statistics.
Datasets: the built-in photos at k = 5 and 10 labelled crops per class (20 validation crops each), and the digits
at k = 30 per class (the other 1497 for validation) at 64 px. Each seed picks the crops or digits and seeds training.
Training seconds are the wall time of the fit calls (validation after each epoch included, for both systems);
images/s are the training images stepped over (full batches, every epoch) per such second.
"""

import argparse
import time

import numpy as np
import pandas as pd
import torch

from bench.digits import cache, digits_rows, train_and_score
from bench.recipes import quick_start_params
from bench.transfer import DIGITS_SIZE, ON_DIGITS, digits_few_shot_rows, photo_rows
from pets.model import packaged
from pets.model.archs import resolve

LITE0 = "tf_efficientnet_lite0"
WAYS = ("(p) this pipeline", "(l) fastai, lesson 1's calls", "(f) fastai, fine_tune")
LESSON_1_UNFROZEN_RATES = slice(1e-6, 1e-4)


def images_stepped(n_train, recipe):
    return (
        n_train
        // recipe.train.batch_size
        * recipe.train.batch_size
        * (recipe.train.epochs + recipe.train.epochs_unfrozen)
    )


def pipeline(root, rows, classes, recipe, resolution, resize):
    """(error_rate, training seconds) of the pipeline's stages: cache, train, evaluate."""
    train_split, valid_split = cache(root, rows, classes, resolution, resize)
    _, metrics, history = train_and_score(train_split, valid_split, recipe, "imagenet")
    return metrics["error_rate"], sum(row["seconds"] for row in history)


def fastai_learner(root, rows, recipe, resolution):
    """A fastai Learner on the same files and split, with Lite0's packaged ImageNet weights in its body, frozen."""
    from fastai.vision.all import ImageDataLoaders, Normalize, Resize, aug_transforms, set_seed, vision_learner

    set_seed(recipe.train.seed, reproducible=True)
    table = pd.DataFrame(
        {
            "path": [r["path"] for r in rows],
            "label": [r["label"] for r in rows],
            "is_valid": [r["split"] == "valid" for r in rows],
        }
    )
    a, arch = recipe.train.augment, resolve(LITE0)
    dls = ImageDataLoaders.from_df(
        table,
        path=root,
        fn_col="path",
        label_col="label",
        valid_col="is_valid",
        bs=recipe.train.batch_size,
        seed=recipe.train.seed,
        item_tfms=Resize(resolution),
        batch_tfms=[
            *aug_transforms(
                size=recipe.size,
                min_scale=a.min_scale,
                do_flip=a.flip,
                max_rotate=a.max_rotate,
                max_zoom=a.max_zoom,
                max_lighting=a.max_lighting,
                max_warp=0.0,
            ),
            Normalize.from_stats(arch.mean, arch.std),
        ],
    )
    learn = vision_learner(dls, LITE0, pretrained=False)  # the weights come from the package, below
    missing, unexpected = learn.model[0].model.load_state_dict(packaged.imagenet_state_dict(LITE0), strict=False)
    assert not missing and sorted(unexpected) == ["classifier.bias", "classifier.weight"], (missing, unexpected)
    learn.freeze()  # what vision_learner does for pretrained=True
    return learn


def fastai_run(root, rows, recipe, resolution, way):
    """(error_rate, training seconds) of fastai with lesson 1's calls or fine_tune."""
    learn = fastai_learner(root, rows, recipe, resolution)
    started = time.perf_counter()
    with learn.no_bar(), learn.no_logging():
        if way == WAYS[1]:
            learn.fit_one_cycle(recipe.train.epochs)
            learn.unfreeze()
            learn.fit_one_cycle(recipe.train.epochs_unfrozen, lr_max=LESSON_1_UNFROZEN_RATES)
        else:
            learn.fine_tune(recipe.train.epochs + recipe.train.epochs_unfrozen - 1)
        seconds = time.perf_counter() - started
        probs, targets = learn.get_preds()
    return (probs.argmax(1) != targets).float().mean().item(), seconds


def compare(name, root, rows, classes, recipe, resolution, resize, results):
    n_train = sum(r["split"] == "train" for r in rows)
    runs = {WAYS[0]: pipeline(root, rows, classes, recipe, resolution, resize)}
    for way in WAYS[1:]:
        runs[way] = fastai_run(root, rows, recipe, resolution, way)
    for way, (error, seconds) in runs.items():
        results.setdefault(name, {}).setdefault(way, []).append(
            (error, seconds, images_stepped(n_train, recipe) / seconds)
        )
    print(
        f"{name} seed {recipe.train.seed}: "
        + ", ".join(f"{way.split()[0]} {error:.4f} in {seconds:.0f}s" for way, (error, seconds) in runs.items()),
        flush=True,
    )


def report(results, seeds):
    print(f"\nerror_rate and training speed, mean ± sd over {seeds} seeds, {torch.get_num_threads()} torch threads:\n")
    print(
        "| data | "
        + " | ".join(f"{way}: error_rate" for way in WAYS)
        + " | "
        + " | ".join(f"{way.split()[0]} s, images/s" for way in WAYS)
        + " | (p) images/s / fastai's best |"
    )
    print("|" + " --- |" * (2 * len(WAYS) + 2))
    for name, per_way in results.items():
        errors = {way: [e for e, _, _ in runs] for way, runs in per_way.items()}
        speeds = {way: [s for _, _, s in runs] for way, runs in per_way.items()}
        seconds = {way: [t for _, t, _ in runs] for way, runs in per_way.items()}
        cells = [f"{np.mean(errors[w]):.4f} ± {np.std(errors[w]):.4f}" for w in WAYS]
        cells += [f"{np.mean(seconds[w]):.1f}, {np.mean(speeds[w]):.1f}" for w in WAYS]
        ratio = np.mean(speeds[WAYS[0]]) / max(np.mean(speeds[w]) for w in WAYS[1:])
        print(f"| {name} | " + " | ".join(cells) + f" | {ratio:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--ks", default="5,10", help="labelled photos per class")
    parser.add_argument("--digits-k", type=int, default=30)
    args = parser.parse_args()
    started, results = time.perf_counter(), {}
    resolution = quick_start_params("photos")["cache"]["resolution"]
    for k in map(int, args.ks.split(",")):
        for seed in range(args.seeds):
            compare(
                f"photos, k={k}",
                *photo_rows(k, seed),
                quick_start_params("photos", {"train.seed": seed}),
                resolution,
                "crop",
                results,
            )
    root, rows, classes = digits_rows()
    for seed in range(args.seeds):
        compare(
            f"digits, k={args.digits_k}",
            root,
            digits_few_shot_rows(rows, classes, args.digits_k, seed),
            classes,
            quick_start_params("photos", {**ON_DIGITS, "train.seed": seed}),
            DIGITS_SIZE,
            "squish",
            results,
        )
    report(results, args.seeds)
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
