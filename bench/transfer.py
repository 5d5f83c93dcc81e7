"""Transfer learning, measured: digits 5-9 from k labelled images per class, with and without a body
pretrained on digits 0-4, on the same budget.

    python -m bench.transfer [--seeds 3]
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench.digits import cache, digits_rows, train_and_score
from pets.models import save_checkpoint

FIRST, SECOND = [str(d) for d in range(5)], [str(d) for d in range(5, 10)]
BUDGET = dict(batch_size=16, epochs=10, epochs_unfrozen=10)  # the same number of steps for both ways


def few_shot_rows(rows, k, seed):
    """Digits 5-9 only: k training images per class, the rest of them for validation."""
    rng = np.random.default_rng(seed)
    chosen = set()
    for label in SECOND:
        paths = sorted(r["path"] for r in rows if r["label"] == label)
        chosen.update(rng.choice(paths, size=k, replace=False).tolist())
    return [{**r, "split": "train" if r["path"] in chosen else "valid"} for r in rows if r["label"] in SECOND]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    root, rows, _ = digits_rows()

    pretrain_rows = [r for r in rows if r["label"] in FIRST]
    train_split, valid_split = cache(root, pretrain_rows, FIRST)
    model, metrics, _ = train_and_score(train_split, valid_split)
    checkpoint = Path(tempfile.mkdtemp()) / "model.pt"
    manifest = train_split.manifest
    save_checkpoint(checkpoint, model, arch="resnet18", classes=FIRST, size=32, mean=manifest["mean"],
                    std=manifest["std"], resolution=32, resize="squish")
    print(f"body: resnet18 trained from scratch on digits 0-4, validation error_rate {metrics['error_rate']:.4f}")

    print("| k per class | (a) from the 0-4 body: frozen, then unfrozen | (b) from scratch | (a) / (b) |")
    print("| --- | --- | --- | --- |")
    for k in (10, 30):
        errors = {"a": [], "b": []}
        for seed in range(args.seeds):
            few_train, few_valid = cache(root, few_shot_rows(rows, k, seed), SECOND)
            errors["a"].append(train_and_score(few_train, few_valid, weights=str(checkpoint), pretrained=True,
                                               lr=1e-2, lr_unfrozen=(1e-4, 1e-3), seed=seed, **BUDGET)[1]["error_rate"])
            errors["b"].append(train_and_score(few_train, few_valid, weights="none", pretrained=False,
                                               seed=seed, **{**BUDGET, "epochs": 20, "epochs_unfrozen": 0})[1]["error_rate"])
        a, b = np.array(errors["a"]), np.array(errors["b"])
        print(f"| {k} | {a.mean():.4f} ± {a.std():.4f} | {b.mean():.4f} ± {b.std():.4f} | {a.mean() / b.mean():.2f} |")


if __name__ == "__main__":
    main()
