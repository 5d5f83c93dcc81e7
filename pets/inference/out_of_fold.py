"""Out-of-sample scores of the training images, for the label audit: a model that trained on a wrong label has
learned it (a misplaced training picture scores its wrong label high), so its own scores of the training images
hide the very errors the audit looks for. A linear probe on the trained body's features (pets.inference.probe, kept
in the scores file), cross-validated, scores each training image with a probe that never saw it: seconds, no
retraining, and only when the audit asks (measured: python -m bench.audit, docs/pictures.md). NumPy and scikit-learn,
no torch."""

import numpy as np

FOLDS = 5
PROBE_C = 0.1  # L2 strength of the logistic regression on standardized features: less over-fitting of few images


def out_of_fold_log_probs(features: np.ndarray, labels: np.ndarray, n_classes: int, seed: int) -> np.ndarray | None:
    """(N, n_classes) log-probabilities of each image from a logistic regression fitted on the other folds (FOLDS,
    stratified); None when a class has fewer images than folds."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - seconds of import, the audit's only
    from sklearn.model_selection import StratifiedKFold, cross_val_predict  # noqa: PLC0415
    from sklearn.pipeline import make_pipeline  # noqa: PLC0415
    from sklearn.preprocessing import StandardScaler  # noqa: PLC0415

    labels = np.asarray(labels)
    if np.bincount(labels, minlength=n_classes).min() < FOLDS:
        return None
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=PROBE_C, max_iter=500))
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    probs = cross_val_predict(probe, features, labels, cv=folds, method="predict_proba")
    return np.log(np.clip(probs, 1e-12, 1.0)).astype(np.float32)
