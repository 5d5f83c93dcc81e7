"""How a prediction is told: one line per image (or JSON), and "unsure" below a confidence the user picks. No torch:
the ONNX predictor (pets.inference.onnx_model) prints through it too."""

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

UNSURE = "unsure"


def min_confidence(value: str) -> float:
    """argparse type of --min-confidence: a probability in (0, 1]."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], not {value!r}") from None
    if not 0 < number <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1] (a probability: 0.8 answers above 80 %), not {number}")
    return number


def at_least(low: int):
    """argparse type of a whole number of at least `low` (--top, --batch-size, ...)."""

    def count(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {value!r}") from None
        if number < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {number}")
        return number

    count.__name__ = f"at_least_{low}"
    return count


top_count = at_least(1)  # --top: classes per image


def top_classes(probs: np.ndarray, classes: Sequence[str], k: int) -> list[tuple[str, float]]:
    """The k most probable (class, probability) of one image's probabilities, most probable first."""
    order = np.argsort(-probs, kind="stable")[: min(k, len(classes))]
    return [(classes[i], float(probs[i])) for i in order]


def is_unsure(top: list[tuple[str, float]], threshold: float | None) -> bool:
    """Whether the top class's probability is below the threshold (never, with no threshold)."""
    return threshold is not None and top[0][1] < threshold


def shown(path: str | Path) -> str:
    """A path on one line of its own: quoted as a Python string when it holds a tab, newline or other control."""
    text = str(path)
    return repr(text) if any(ord(c) < 32 or c == "\x7f" for c in text) else text


def answer_line(path: str | Path, top: list[tuple[str, float]], threshold: float | None = None) -> str:
    """`path<TAB>class p, class p, ...`, or `path<TAB>unsure<TAB>class p, ...` below the threshold."""
    classes = ", ".join(f"{name} {p:.3f}" for name, p in top)
    return f"{shown(path)}\t{UNSURE}\t{classes}" if is_unsure(top, threshold) else f"{shown(path)}\t{classes}"


def answer_record(path: str | Path, top: list[tuple[str, float]], threshold: float | None = None) -> dict:
    return {
        "path": str(path),
        "unsure": is_unsure(top, threshold),
        "predictions": [{"class": name, "probability": round(p, 6)} for name, p in top],
    }
