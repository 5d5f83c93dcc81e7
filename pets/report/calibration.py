"""The calibration pictures and tables: a reliability diagram before and after the temperature, and the
coverage-risk table that DVC plots."""

import csv
import io

import matplotlib.pyplot as plt
import numpy as np

from pets.inference.calibration import reliability
from pets.report.grid import save_figure

COVERAGE_RISK_COLUMNS = ("threshold", "coverage", "error_rate")


def reliability_diagram(probs_before: np.ndarray, probs_after: np.ndarray, labels: np.ndarray, report: dict, path):
    """Accuracy against confidence per bin, as uncalibrated and with the temperature: on the diagonal = calibrated.
    Each bar is labelled, and shaded, by how many images its bin holds."""
    figure, axes = plt.subplots(1, 2, figsize=(9, 4.4), sharey=True)
    panels = (
        (axes[0], probs_before, f"softmax as trained: ECE {report['ece_before']:.3f}"),
        (axes[1], probs_after, f"temperature {report['temperature']:.2f}: ECE {report['ece_after']:.3f}"),
    )
    for ax, probs, title in panels:
        rows = reliability(probs, labels, report["bins"])
        width = 1 / report["bins"]
        most = max(row["count"] for row in rows)
        for row in rows:
            shade = 0.3 + 0.7 * row["count"] / most
            ax.bar(row["low"], row["accuracy"], width=width, align="edge", color=(0.2, 0.4, 0.8, shade))
            ax.plot([row["confidence"]] * 2, [row["accuracy"], row["confidence"]], color="crimson", linewidth=1)
            ax.text(row["low"] + width / 2, min(row["accuracy"], 0.93) + 0.01, str(row["count"]), ha="center",
                    fontsize=6)  # fmt: skip
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top probability)", title=title)
    axes[0].set_ylabel("accuracy")
    figure.suptitle(f"Reliability on {report['measured_on']} (red: the gap to the diagonal)", fontsize=10)
    figure.tight_layout()
    save_figure(figure, path)


def coverage_risk_tsv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, COVERAGE_RISK_COLUMNS, delimiter="\t", lineterminator="\n")
    writer.writeheader()
    writer.writerows(row for row in rows if row["error_rate"] is not None)
    return out.getvalue()
