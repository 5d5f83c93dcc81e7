"""The pipeline against scikit-learn's SVC and logistic regression on one and the same digits split.

    python -m bench.digits_vs_sklearn [--seeds 5]

The pipeline runs `make digits`' recipe once per training seed (42, 43, ...); run it with OMP_NUM_THREADS=1
and 2 to see what the thread count changes.
"""

import argparse
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC

from bench.digits import cache, digits_rows, raw_pixels, train_and_score
from bench.recipes import quick_start_params


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1, help="training seeds of the pipeline")
    args = parser.parse_args()
    root, rows, classes = digits_rows()
    train_rows = [r for r in rows if r["split"] == "train"]
    valid_rows = [r for r in rows if r["split"] == "valid"]
    x_train, x_valid = raw_pixels(root, train_rows), raw_pixels(root, valid_rows)
    y_train, y_valid = [r["label"] for r in train_rows], [r["label"] for r in valid_rows]

    started = time.perf_counter()
    svc = GridSearchCV(SVC(kernel="rbf"), {"C": [1, 3, 10, 30, 100], "gamma": ["scale", 0.01, 0.03, 0.1]}, cv=5)
    svc.fit(x_train, y_train)  # C and gamma by cross-validation on the training part only
    svc_error, svc_seconds = 1 - svc.score(x_valid, y_valid), time.perf_counter() - started

    started = time.perf_counter()
    logistic = LogisticRegression(max_iter=5000).fit(x_train, y_train)
    logistic_error, logistic_seconds = 1 - logistic.score(x_valid, y_valid), time.perf_counter() - started

    errors, seconds, first_seed = [], [], quick_start_params("digits").train.seed
    for seed in range(first_seed, first_seed + args.seeds):  # the first is `make digits` itself
        started = time.perf_counter()
        train_split, valid_split = cache(root, rows, classes)
        _, metrics, _ = train_and_score(train_split, valid_split, quick_start_params("digits", {"train.seed": seed}))
        errors.append(metrics["error_rate"])
        seconds.append(time.perf_counter() - started)
    pipeline_error = float(np.mean(errors))

    print(f"digits: {len(train_rows)} training and {len(valid_rows)} validation images (index.seed 42)")
    print("| model | error_rate | wall time (s) |\n| --- | --- | --- |")
    print(
        f"| SVC, RBF (C={svc.best_params_['C']}, gamma={svc.best_params_['gamma']}) "
        f"| {svc_error:.4f} | {svc_seconds:.1f} |"
    )
    print(f"| LogisticRegression | {logistic_error:.4f} | {logistic_seconds:.1f} |")
    print(
        f"| pipeline: resnet18 from scratch, 32 px, 8 epochs (cache + train + evaluate), {args.seeds} seed(s) at "
        f"{torch.get_num_threads()} thread(s) | {pipeline_error:.4f} (range {min(errors):.4f}-{max(errors):.4f}) | "
        f"{np.mean(seconds):.1f} (range {min(seconds):.1f}-{max(seconds):.1f}) |"
    )
    print(f"pipeline error / SVC error: {pipeline_error / svc_error:.2f}" if svc_error else "SVC made no error")


if __name__ == "__main__":
    main()
