"""Stage evaluate: score models/model.pt on the training, validation (and test) split; writes metrics/."""

import json

from pets.atomic import write_json, write_text
from pets.config import layout
from pets.config.params import load_params
from pets.data.cache import read_manifest
from pets.data.loader import CachedSplit
from pets.errors import report_errors
from pets.infer import predict_probs
from pets.model.checkpoint import model_from_checkpoint
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
    metrics, predictions = {}, []
    # the training images too, seen as the validation ones are (no augmentation): over-fitting shows beside valid
    for name in [s for s in ("train", "valid", "test") if s in read_manifest(layout.CACHE)["splits"]]:
        split = CachedSplit(layout.CACHE, name)
        labels = split.labels.tolist()
        probs = predict_probs(model, split, preprocess, active)
        metrics[name] = summarize(probs, labels)
        if p["tta"]:
            tta_probs = predict_probs(model, split, preprocess, active, tta=True)
            metrics[name]["tta_error_rate"] = summarize(tta_probs, labels)["error_rate"]
        if name in SPLITS:
            predictions += prediction_rows(name, split.files, probs, labels, checkpoint["classes"])
        if name == "valid":
            write_interpretation(probs, labels, checkpoint["classes"], split, layout.METRICS, p["top_losses"])
    write_text(layout.PREDICTIONS, predictions_csv(predictions))
    write_json(layout.METRICS_JSON, metrics)
    print("evaluate: " + json.dumps(metrics))


if __name__ == "__main__":
    main()
