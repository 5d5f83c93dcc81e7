"""Stage export: models/model.onnx from models/model.pt, kept only when onnxruntime gives PyTorch's probabilities
(train's scores, models/scores.npz) on a bounded set of validation images (pets.inference.export); then
models/MODEL_CARD.md from what the run knows."""

import json

from pets.atomic import write_json, write_text
from pets.config import layout
from pets.config.params import load_params
from pets.data.cache import read_manifest
from pets.errors import report_errors
from pets.inference.calibration import scaled
from pets.inference.export import Expected, export
from pets.inference.scores import read_scores
from pets.model.checkpoint import load_classifier
from pets.report.model_card import model_card, per_class_rows
from pets.runtime.clock import timed
from pets.runtime.profile import runtime


@report_errors
@timed("export")
def main():
    params = load_params()
    runtime(params.threads)  # the thread budget; the export itself is the CPU's (pets.inference.export)
    manifest = read_manifest(layout.CACHE)
    scores, temperature = read_scores(layout.SCORES, manifest)
    expected = Expected(scaled(scores["valid"], temperature), manifest["splits"]["valid"]["files"], layout.CACHE)
    classifier = load_classifier(layout.MODEL)
    check = export(classifier, model_path=layout.MODEL, onnx_path=layout.ONNX, expected=expected)
    write_json(layout.EXPORT_CHECK, check)
    card = model_card(
        params=params,
        classifier=classifier,
        metrics=json.loads(layout.METRICS_JSON.read_text()),
        per_class=per_class_rows(layout.PER_CLASS.read_text()),
        export=check,
    )
    write_text(layout.MODEL_CARD, card)
    print(
        f"export: {layout.ONNX} (opset {check['opset']}) gives PyTorch's probabilities within "
        f"{check['max_abs_difference']:.1e} on the {check['images']} validation images checked (of "
        f"{check['of']}); {layout.MODEL_CARD} written"
    )


if __name__ == "__main__":
    main()
