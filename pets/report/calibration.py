"""The calibration pictures and tables: a reliability diagram before and after the temperature, and the
coverage-risk table that DVC plots."""

import csv
import io

import matplotlib.pyplot as plt
import numpy as np

from pets.atomic import write_text
from pets.inference.calibration import (
    THRESHOLDS,
    calibration_report,
    calibration_sets,
    coverage_risk,
    describe,
    reliability,
    scaled,
    why_not_fitted,
)
from pets.report.grid import save_figure

COVERAGE_RISK_COLUMNS = ("threshold", "coverage", "error_rate")


def reliability_diagram(probs_before: np.ndarray, probs_after: np.ndarray, labels: np.ndarray, report: dict, path):
    """Accuracy against confidence per bin, as uncalibrated and with the temperature: on the diagonal = calibrated.
    Each bar is labelled, and shaded, by how many images its bin holds."""
    figure, axes = plt.subplots(1, 2, figsize=(9, 4.4), sharey=True)
    measured = "not_measured" not in report
    panels = (
        (axes[0], probs_before, f"softmax as trained: ECE {report['ece_before']:.3f}" if measured else "not measured"),
        (axes[1], probs_after, f"temperature {report['temperature']:.2f}" + (
            f": ECE {report['ece_after']:.3f}" if measured else "")),
    )  # fmt: skip
    for ax, probs, title in panels:
        rows = reliability(probs, labels, report["bins"])
        width = 1 / report["bins"]
        most = max((row["count"] for row in rows), default=1)
        for row in rows:
            shade = 0.3 + 0.7 * row["count"] / most
            ax.bar(row["low"], row["accuracy"], width=width, align="edge", color=(0.2, 0.4, 0.8, shade))
            ax.plot([row["confidence"]] * 2, [row["accuracy"], row["confidence"]], color="crimson", linewidth=1)
            ax.text(row["low"] + width / 2, min(row["accuracy"], 0.93) + 0.01, str(row["count"]), ha="center",
                    fontsize=6)  # fmt: skip
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top probability)", title=title)
    axes[0].set_ylabel("accuracy")
    heading = f"Reliability on {report['measured_on']} (red: the gap to the diagonal)"
    figure.suptitle(heading if measured else f"Reliability not measured: {report['not_measured']}", fontsize=10)
    figure.tight_layout()
    save_figure(figure, path)


def coverage_risk_tsv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, COVERAGE_RISK_COLUMNS, delimiter="\t", lineterminator="\n")
    writer.writeheader()
    writer.writerows(row for row in rows if row["error_rate"] is not None)
    return out.getvalue()


def calibration_metrics(scores: dict, temperature: float, *, reliability_png, coverage_tsv) -> dict:
    """The temperature's effect on the images it was not fitted on: ECE and NLL before and after, the reliability
    diagram, and the coverage-risk trade-off of the calibrated probabilities (what predict --min-confidence uses).
    scores: {split: (log-probabilities, labels)} as NumPy arrays, of the softmax as trained."""
    sets = calibration_sets("test" in scores)
    fit_split, fit_positions = sets["fit"]
    split, positions = sets["measure"]
    log_probs, labels = (scores[split][0][positions], scores[split][1][positions])
    fit_log_probs, fit_labels = scores[fit_split][0][fit_positions], scores[fit_split][1][fit_positions]
    report = {
        **calibration_report(log_probs, labels, temperature),
        "fitted_on": describe(fit_split, fit_positions, len(fit_labels)),
        "measured_on": describe(split, positions, len(labels)),
    }
    if not len(labels):  # one validation image: it is the fitting half, and the measuring half is empty
        report["not_measured"] = f"no image is left to measure it on ({report['fitted_on']} fitted it)"
    if reason := why_not_fitted(fit_log_probs, fit_labels):  # the train stage kept temperature 1, for this reason
        report["not_fitted"] = reason
    before, after = scaled(log_probs, 1.0), scaled(log_probs, temperature)
    reliability_diagram(before, after, labels, report, reliability_png)
    report["coverage_risk"] = coverage_risk(after, labels, THRESHOLDS)
    write_text(coverage_tsv, coverage_risk_tsv(report["coverage_risk"]))
    return report
