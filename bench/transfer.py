"""Transfer learning, measured: digits 5-9 from k labelled images per class, with and without a body
pretrained on digits 0-4, on the same budget.

    python -m bench.transfer [--seeds 10]

(a) fast.ai's fine_tune shape: a short frozen phase that only places the new head, then everything
    unfrozen with discriminative rates up to the from-scratch rate;
(a') lesson 1's shape: a long frozen phase, then low unfrozen rates (what suits an ImageNet body);
(b) from scratch.
A linear probe per ResNet stage of the frozen 0-4 body shows how much of it carries over to 5-9.
Every way sees the same split and training seed, so (a) and (b) are also compared seed by seed. The
spread between seeds is as large as the gap between the ways: use 10 seeds or more (seeds 0-4 alone
give (a)/(b) = 0.75 at k = 10, seeds 0-9 give 0.92).
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from bench.digits import CPU, cache, digits_rows, train_and_score
from pets.augment import valid_view
from pets.models import save_checkpoint
from pets.train import prepare_input

FIRST, SECOND = [str(d) for d in range(5)], [str(d) for d in range(5, 10)]
STAGES = ("layer1", "layer2", "layer3", "layer4")
EPOCHS = 20  # the budget of every way: batch 16, 20 epochs
WAYS = {
    "(a) short frozen phase, then unfrozen": dict(pretrained=True, epochs=2, lr=1e-2, lr_unfrozen=(5e-4, 2e-3)),
    "(a') long frozen phase, then low rates": dict(pretrained=True, epochs=10, lr=1e-2, lr_unfrozen=(1e-4, 1e-3)),
    "(b) from scratch": dict(pretrained=False, epochs=EPOCHS),
}


def few_shot_rows(rows, k, seed):
    """Digits 5-9 only: k training images per class, the rest of them for validation."""
    rng = np.random.default_rng(seed)
    chosen = set()
    for label in SECOND:
        paths = sorted(r["path"] for r in rows if r["label"] == label)
        chosen.update(rng.choice(paths, size=k, replace=False).tolist())
    return [{**r, "split": "train" if r["path"] in chosen else "valid"} for r in rows if r["label"] in SECOND]


@torch.no_grad()
def stage_features(model, split, mean, std):
    """Average-pooled output of every ResNet stage for all images of a split, with the model in eval mode."""
    pooled = {}
    hooks = [getattr(model, stage).register_forward_hook(
        lambda module, inputs, output, stage=stage: pooled.__setitem__(stage, output.mean((2, 3)).numpy()))
        for stage in STAGES]
    pixels, _ = split[range(len(split))]
    model.eval()
    model(prepare_input(valid_view(pixels, 32), mean, std, CPU))
    for hook in hooks:
        hook.remove()
    return pooled


def linear_probe_errors(model, few_train, few_valid, mean, std):
    train, valid = stage_features(model, few_train, mean, std), stage_features(model, few_valid, mean, std)
    return {stage: 1 - LogisticRegression(max_iter=3000).fit(train[stage], few_train.labels)
            .score(valid[stage], few_valid.labels) for stage in STAGES}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    root, rows, _ = digits_rows()

    train_split, valid_split = cache(root, [r for r in rows if r["label"] in FIRST], FIRST)
    body, metrics, _ = train_and_score(train_split, valid_split)
    checkpoint = Path(tempfile.mkdtemp()) / "model.pt"
    mean, std = train_split.manifest["mean"], train_split.manifest["std"]
    save_checkpoint(checkpoint, body, arch="resnet18", classes=FIRST, size=32, mean=mean, std=std, resolution=32,
                    resize="squish")
    print(f"body: resnet18 trained from scratch on digits 0-4 with the digits recipe, "
          f"validation error_rate {metrics['error_rate']:.4f}\n")

    results, probes = {}, []
    for k in (10, 30):
        for seed in range(args.seeds):
            few_train, few_valid = cache(root, few_shot_rows(rows, k, seed), SECOND)
            if k == 10:
                probes.append(linear_probe_errors(body, few_train, few_valid, mean, std))
            for way, changes in WAYS.items():
                weights = str(checkpoint) if changes["pretrained"] else "none"
                _, scores, _ = train_and_score(few_train, few_valid, weights=weights, seed=seed, batch_size=16,
                                               **{"epochs_unfrozen": EPOCHS - changes["epochs"], **changes})
                results.setdefault((k, way), []).append(scores["error_rate"])

    print(f"k = 10: linear probe (logistic regression) on each stage of the frozen 0-4 body, {args.seeds} seeds")
    print("| stage | " + " | ".join(STAGES) + " |\n| --- |" + " --- |" * len(STAGES))
    print("| error_rate | " + " | ".join(f"{np.mean([p[s] for p in probes]):.4f}" for s in STAGES) + " |\n")

    print(f"error_rate on the rest of 5-9, mean ± spread over {args.seeds} seeds (split and training)")
    header = ["k per class", *WAYS, "(a) / (b)", "(a) better on"]
    print("| " + " | ".join(header) + " |\n|" + " --- |" * len(header))
    for k in (10, 30):
        errors = [np.array(results[k, way]) for way in WAYS]
        cells = " | ".join(f"{e.mean():.4f} ± {e.std():.4f}" for e in errors)
        wins = int((errors[0] < errors[-1]).sum())
        print(f"| {k} | {cells} | {errors[0].mean() / errors[-1].mean():.2f} | {wins} of {args.seeds} seeds |")


if __name__ == "__main__":
    main()
