"""Stage evaluate: score models/model.pt on the training, validation (and test) split, and measure how well its
temperature calibrates it (pets.inference.calibration); writes metrics/."""

import json

from pets.atomic import write_json, write_text
from pets.config import layout
from pets.config.params import load_params
from pets.data.cache import read_manifest
from pets.data.loader import CachedSplit
from pets.errors import report_errors
from pets.inference.calibration import (
    THRESHOLDS,
    calibration_report,
    calibration_sets,
    coverage_risk,
    describe,
    scaled,
    why_not_fitted,
)
from pets.inference.forward import split_log_probabilities
from pets.model.checkpoint import model_from_checkpoint, temperature_of
from pets.report.calibration import coverage_risk_tsv, reliability_diagram
from pets.report.interpret import write_interpretation
from pets.report.metrics import summarize
from pets.report.predictions import SPLITS, prediction_rows, predictions_csv
from pets.runtime.profile import runtime


@report_errors
def main():
    params = load_params()
    p = params["evaluate"]
    active = runtime(params["threads"])
    model, checkpoint, preprocess = model_from_checkpoint(layout.MODEL)
    active.place(model)
    metrics, predictions, scores = {}, [], {}
    # the training images too, seen as the validation ones are (no augmentation): over-fitting shows beside valid
    for name in [s for s in ("train", "valid", "test") if s in read_manifest(layout.CACHE)["splits"]]:
        split = CachedSplit(layout.CACHE, name)
        labels = split.labels.tolist()
        log_probs, label_tensor = (t.cpu() for t in split_log_probabilities(model, split, preprocess, active))
        probs = log_probs.exp()
        scores[name] = log_probs, label_tensor
        metrics[name] = summarize(probs, labels)
        if p["tta"]:
            tta_probs = split_log_probabilities(model, split, preprocess, active, tta=True)[0].exp().cpu()
            metrics[name]["tta_error_rate"] = summarize(tta_probs, labels)["error_rate"]
        if name in SPLITS:
            predictions += prediction_rows(name, split.files, probs, labels, checkpoint["classes"])
        if name == "valid":
            write_interpretation(probs, labels, checkpoint["classes"], split, layout.METRICS, p["top_losses"])
    metrics["calibration"] = calibration(scores, temperature_of(checkpoint))
    write_text(layout.PREDICTIONS, predictions_csv(predictions))
    write_json(layout.METRICS_JSON, metrics)
    print("evaluate: " + json.dumps(metrics))


def calibration(scores, temperature):
    """The temperature's effect on the images it was not fitted on: ECE and NLL before and after, the reliability
    diagram, and the coverage-risk trade-off of the calibrated probabilities (what predict --min-confidence uses)."""
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
    if reason := why_not_fitted(fit_log_probs, fit_labels):  # the train stage kept temperature 1, for this reason
        report["not_fitted"] = reason
    before, after = log_probs.softmax(1).double().numpy(), scaled(log_probs.double(), temperature).numpy()
    reliability_diagram(before, after, labels.numpy(), report, layout.RELIABILITY_PNG)
    report["coverage_risk"] = coverage_risk(after, labels.numpy(), THRESHOLDS)
    write_text(layout.COVERAGE_RISK, coverage_risk_tsv(report["coverage_risk"]))
    return report


if __name__ == "__main__":
    main()
