"""Stage evaluate: what the trained model's scores of the training, validation (and test) images say, and how well
its temperature calibrates it; writes metrics/. The scores are train's (models/scores.npz): no model is loaded and
torch is not imported, but for test-time augmentation (evaluate.tta), which needs the model."""

import functools
import json

import numpy as np

from pets.atomic import write_json, write_text
from pets.config import layout
from pets.config.params import load_params
from pets.data.cache import cached_pixels, read_manifest
from pets.errors import report_errors
from pets.inference.scores import read_scores
from pets.report.calibration import calibration_metrics
from pets.report.interpret import write_interpretation
from pets.report.metrics import summarize
from pets.report.predictions import HELD_OUT, prediction_rows, predictions_csv
from pets.runtime.clock import timed


def tta_scores(threads):
    """{split: log-probabilities} averaged over the test-time views, with the model."""
    from pets.inference.forward import score_splits
    from pets.model.checkpoint import load_classifier
    from pets.runtime.profile import runtime

    return score_splits(load_classifier(layout.MODEL), layout.CACHE, runtime(threads), tta=True)


@report_errors
@timed("evaluate")
def main():
    params = load_params()
    manifest = read_manifest(layout.CACHE)
    scores, temperature = read_scores(layout.SCORES, manifest)
    tta = tta_scores(params.threads) if params.evaluate.tta else {}
    classes, metrics, predictions, calibration = manifest["classes"], {}, [], {}
    # the training images too, seen as the validation ones are (no augmentation): over-fitting shows beside valid
    for name, log_probs in scores.items():
        split = manifest["splits"][name]
        probs, labels = np.exp(log_probs), split["labels"]
        calibration[name] = log_probs, np.asarray(labels)
        metrics[name] = summarize(probs, labels)
        if name in tta:
            metrics[name]["tta_error_rate"] = summarize(np.exp(tta[name]), labels)["error_rate"]
        if name in HELD_OUT:
            predictions += prediction_rows(name, split["files"], probs, labels, classes)
        if name == "valid":
            pixels = functools.partial(cached_pixels, layout.CACHE, name)
            write_interpretation(probs, labels, classes, pixels, layout.METRICS, params.evaluate.top_losses)
    metrics["calibration"] = calibration_metrics(
        calibration, temperature, reliability_png=layout.RELIABILITY_PNG, coverage_tsv=layout.COVERAGE_RISK
    )
    write_text(layout.PREDICTIONS, predictions_csv(predictions))
    write_json(layout.METRICS_JSON, metrics)
    print("evaluate: " + json.dumps(metrics))


if __name__ == "__main__":
    main()
