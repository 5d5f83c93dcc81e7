"""Stage evaluate: score models/model.pt on the training, validation (and test) split, and measure how well its
temperature calibrates it (pets.inference.calibration); writes metrics/."""

import json

from pets.atomic import write_json, write_text
from pets.config import layout
from pets.config.params import load_params
from pets.data.cache import read_manifest
from pets.data.loader import CachedSplit
from pets.errors import report_errors
from pets.inference.forward import split_log_probabilities
from pets.model.checkpoint import load_classifier
from pets.report.calibration import calibration_metrics
from pets.report.interpret import write_interpretation
from pets.report.metrics import summarize
from pets.report.predictions import HELD_OUT, prediction_rows, predictions_csv
from pets.runtime.profile import runtime


@report_errors
def main():
    params = load_params()
    active = runtime(params.threads)
    classifier = load_classifier(layout.MODEL)
    active.place(classifier.module)
    metrics, predictions, scores = {}, [], {}
    # the training images too, seen as the validation ones are (no augmentation): over-fitting shows beside valid
    for name in [s for s in ("train", "valid", "test") if s in read_manifest(layout.CACHE)["splits"]]:
        split = CachedSplit(layout.CACHE, name)
        labels = split.labels.tolist()
        log_probs, label_tensor = (t.cpu() for t in split_log_probabilities(classifier, split, active))
        probs = log_probs.exp()
        scores[name] = log_probs, label_tensor
        metrics[name] = summarize(probs, labels)
        if params.evaluate.tta:
            tta_probs = split_log_probabilities(classifier, split, active, tta=True)[0].exp().cpu()
            metrics[name]["tta_error_rate"] = summarize(tta_probs, labels)["error_rate"]
        if name in HELD_OUT:
            predictions += prediction_rows(name, split.files, probs, labels, classifier.classes)
        if name == "valid":
            write_interpretation(probs, labels, classifier.classes, split, layout.METRICS, params.evaluate.top_losses)
    metrics["calibration"] = calibration_metrics(
        scores, classifier.temperature, reliability_png=layout.RELIABILITY_PNG, coverage_tsv=layout.COVERAGE_RISK
    )
    write_text(layout.PREDICTIONS, predictions_csv(predictions))
    write_json(layout.METRICS_JSON, metrics)
    print("evaluate: " + json.dumps(metrics))


if __name__ == "__main__":
    main()
