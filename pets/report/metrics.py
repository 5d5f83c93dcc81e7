"""What predictions say: error rate, accuracy, confusions, the worst mistakes. NumPy only: the evaluate stage reads
the scores train wrote and never imports torch."""

from collections import Counter
from collections.abc import Sequence

import numpy as np


def summarize(probs: np.ndarray, labels: Sequence[int]) -> dict:
    """error_rate, accuracy, top-5 accuracy (with more than 5 classes: else it is always 1), mean loss and count
    for probabilities and true labels."""
    labels = np.asarray(labels)
    accuracy = float((probs.argmax(1) == labels).mean())
    summary = {"error_rate": round(1 - accuracy, 6), "accuracy": round(accuracy, 6)}
    if probs.shape[1] > 5:
        top5 = np.argsort(-probs, axis=1, kind="stable")[:, :5]
        summary["top5_accuracy"] = round(float((top5 == labels[:, None]).any(1).mean()), 6)
    return {**summary, "loss": round(float(per_image_loss(probs, labels).mean()), 6), "count": len(labels)}


def per_image_loss(probs: np.ndarray, labels: Sequence[int]) -> np.ndarray:
    """The cross-entropy of each image: -log of its label's probability."""
    return -np.log(np.clip(probs[np.arange(len(probs)), np.asarray(labels)], 1e-12, None))


def confusion_records(predicted, labels, classes):
    """One {'actual', 'predicted'} record per image, for DVC's confusion template."""
    return [{"actual": classes[a], "predicted": classes[p]} for a, p in zip(labels, predicted.tolist())]


def most_confused(
    predicted: np.ndarray, labels: Sequence[int], classes: Sequence[str], min_count: int = 2
) -> list[dict]:
    """[(actual, predicted, count)] of off-diagonal pairs seen at least `min_count` times, most frequent first."""
    pairs = Counter((classes[a], classes[p]) for a, p in zip(labels, predicted.tolist()) if a != p)
    ranked = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))
    return [{"actual": a, "predicted": p, "count": n} for (a, p), n in ranked if n >= min_count]


PER_CLASS_COLUMNS = ("class", "count", "accuracy", "most_confused_with")


def per_class_table(predicted, labels, classes):
    """Rows of class, count, accuracy and the most frequent wrong guess."""
    rows = []
    for number, name in enumerate(classes):
        guesses = [p for a, p in zip(labels, predicted.tolist()) if a == number]
        wrong = Counter(classes[p] for p in guesses if p != number)
        rows.append(
            {
                "class": name,
                "count": len(guesses),
                "accuracy": round(sum(p == number for p in guesses) / len(guesses), 4) if guesses else None,
                "most_confused_with": wrong.most_common(1)[0][0] if wrong else "",
            }
        )
    return rows


def top_losses(probs: np.ndarray, labels: Sequence[int], k: int) -> list[int]:
    """Indices of the k images with the highest loss, worst first (the earlier image first among equal losses)."""
    return np.argsort(-per_image_loss(probs, labels), kind="stable")[:k].tolist()
