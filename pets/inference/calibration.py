"""Probabilities that mean what they say: one temperature for the logits (Guo et al. 2017, "On Calibration of Modern
Neural Networks"), the expected calibration error, and the trade-off of answering only above a confidence.

A fine-tuned network is over-confident: its softmax says 0.99 where it is right 90 % of the time. Dividing the
logits by one temperature T > 1, fitted to minimise the validation NLL, fixes most of that without changing any
prediction (argmax is unchanged). Fitting and measuring on the same images flatters the result, so the temperature
is fitted on one set and the ECE measured on another (`calibration_sets`). NumPy and SciPy only: train fits the
temperature on the scores it wrote, evaluate measures it on them, neither with another pass of the model.
"""

from collections.abc import Callable

import numpy as np

ECE_BINS = 15  # equal-width confidence bins, as in Guo et al.
THRESHOLDS = tuple(round(0.5 + 0.05 * step, 2) for step in range(10))  # 0.5, 0.55, ..., 0.95
TEMPERATURE_RANGE = (0.05, 20.0)  # beyond these the logits were degenerate (all equal, or one class infinite)
MIN_FIT_IMAGES = 50  # fewer say little about a temperature: the NLL of a handful is minimised anywhere


def calibration_sets(has_test: bool) -> dict:
    """Where the temperature is fitted and where it is measured: the whole validation split and the test split when
    there is one, else the even and the odd positions of the validation split (its order is the index's, not sorted
    by class, so both halves hold every class alike)."""
    if has_test:
        return {"fit": ("valid", slice(None)), "measure": ("test", slice(None))}
    return {"fit": ("valid", slice(0, None, 2)), "measure": ("valid", slice(1, None, 2))}


def describe(split: str, positions: slice, count: int) -> str:
    which = "" if positions == slice(None) else (" (even positions)" if positions.start == 0 else " (odd positions)")
    return f"{split}{which}, {count} images"


def why_not_fitted(log_probs: np.ndarray, labels: np.ndarray) -> str | None:
    """Why these images cannot fit a temperature, or None. With no mistake among them the NLL falls without end as
    T goes to 0: fitted, the model would claim certainty on every image."""
    if len(labels) < MIN_FIT_IMAGES:
        return f"{len(labels)} images are too few to fit a temperature (at least {MIN_FIT_IMAGES})"
    if bool((log_probs.argmax(1) == labels).all()):
        return f"the model is right on all {len(labels)} images: no mistake to calibrate against"
    return None


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(1, keepdims=True))


def scaled(log_probs: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities with the temperature applied (log-probabilities are logits up to a constant per row)."""
    return np.exp(log_softmax(np.asarray(log_probs, np.float64) / temperature))


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None)).mean())


def fit_temperature(log_probs: np.ndarray, labels: np.ndarray) -> float:
    """The T minimising the NLL of softmax(log_probs / T), searched on log T within TEMPERATURE_RANGE (the NLL is
    convex in 1/T, so the bounded search finds its one minimum); 1 (the softmax as trained) when why_not_fitted
    says why."""
    if why_not_fitted(log_probs, labels):
        return 1.0
    log_probs, labels = np.asarray(log_probs, np.float64), np.asarray(labels)
    rows = np.arange(len(labels))

    def loss(log_t):
        return -log_softmax(log_probs / np.exp(log_t))[rows, labels].mean()

    from scipy.optimize import minimize_scalar  # noqa: PLC0415 - the train stage's alone: evaluate never fits

    low, high = np.log(TEMPERATURE_RANGE)
    found = minimize_scalar(loss, bounds=(low, high), method="bounded", options={"xatol": 1e-6})
    return float(np.exp(found.x))


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Per equal-width confidence bin (with images in it): its range, count, mean confidence and accuracy."""
    confidence, right = probs.max(1), probs.argmax(1) == labels
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            rows.append(
                {
                    "low": b / bins,
                    "high": (b + 1) / bins,
                    "count": int(inside.sum()),
                    "confidence": float(confidence[inside].mean()),
                    "accuracy": float(right[inside].mean()),
                }
            )
    return rows


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |accuracy - confidence| over the confidence bins, weighted by how many images each holds."""
    return sum(row["count"] * abs(row["accuracy"] - row["confidence"]) for row in reliability(probs, labels, bins)) / (
        len(labels)
    )


def coverage_risk(probs: np.ndarray, labels: np.ndarray, thresholds=THRESHOLDS) -> list[dict]:
    """For each threshold: the share of images whose top probability reaches it (answered) and the error rate
    among those (None when none is answered, or there are no images)."""
    confidence, wrong = probs.max(1), probs.argmax(1) != labels
    rows = []
    for threshold in thresholds:
        answered = confidence >= threshold
        rows.append(
            {
                "threshold": threshold,
                "coverage": round(float(answered.mean()), 6) if len(labels) else None,
                "error_rate": round(float(wrong[answered].mean()), 6) if answered.any() else None,
            }
        )
    return rows


def calibration_report(log_probs: np.ndarray, labels: np.ndarray, temperature: float) -> dict:
    """ECE and NLL before and after the temperature on one set of images (None of each on no images)."""
    before, after = scaled(log_probs, 1.0), scaled(log_probs, temperature)

    def measured(value):
        return round(value(), 6) if len(labels) else None

    return {
        "temperature": round(temperature, 6),
        "bins": ECE_BINS,
        "ece_before": measured(lambda: expected_calibration_error(before, labels)),
        "ece_after": measured(lambda: expected_calibration_error(after, labels)),
        "nll_before": measured(lambda: nll(before, labels)),
        "nll_after": measured(lambda: nll(after, labels)),
    }


def model_temperature(scores: dict, labels: dict, log: Callable[[str], None]) -> float:
    """The temperature of a trained model, fitted on calibration_sets' images of its scores ({split:
    log-probabilities}, pets.inference.scores; `labels` of each split), or 1 when why_not_fitted says why; each said
    in one line. Evaluate measures it on the others."""
    split, positions = calibration_sets("test" in scores)["fit"]
    log_probs, fit_labels = scores[split][positions], np.asarray(labels[split])[positions]
    images = describe(split, positions, len(fit_labels))
    reason = why_not_fitted(log_probs, fit_labels)
    if reason:
        log(f"calibration: none, the softmax is kept as trained: {reason} ({images})")
        return 1.0
    temperature = fit_temperature(log_probs, fit_labels)
    log(f"calibration: temperature {temperature:.3f}, fitted on {images}")
    return temperature
