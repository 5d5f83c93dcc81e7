"""Stage export: models/model.onnx from models/model.pt, kept only when onnxruntime gives PyTorch's probabilities on
the validation images (pets.inference.export); then models/MODEL_CARD.md from what the run knows."""

import json

from pets.atomic import write_json, write_text
from pets.config import layout
from pets.config.params import load_params
from pets.data.loader import CachedSplit
from pets.errors import report_errors
from pets.inference.export import export
from pets.model.checkpoint import load_classifier
from pets.report.model_card import model_card, per_class_rows
from pets.runtime.profile import runtime


@report_errors
def main():
    params = load_params()
    runtime(params.threads)  # the thread budget; the export itself is the CPU's (pets.inference.export)
    classifier = load_classifier(layout.MODEL)
    check = export(
        classifier, model_path=layout.MODEL, onnx_path=layout.ONNX, check_split=CachedSplit(layout.CACHE, "valid")
    )
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
        f"{check['max_abs_difference']:.1e} on {check['images']} validation images; {layout.MODEL_CARD} written"
    )


if __name__ == "__main__":
    main()
