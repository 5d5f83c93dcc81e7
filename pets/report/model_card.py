"""models/MODEL_CARD.md: what the run knows about its model, written by the export stage beside model.onnx."""

import csv
import json

from pets.config.settings import Params
from pets.data.index import SPLITS
from pets.model.classifier import Classifier

WORST = 5  # classes named as the weakest


def _percent(value):
    return "-" if value is None else f"{100 * value:.1f} %"


def _epochs(count):
    return f"{count} epoch{'' if count == 1 else 's'}"


def per_class_rows(tsv_text: str) -> list[dict]:
    return list(csv.DictReader(tsv_text.splitlines(), delimiter="\t"))


def weakest_line(worst):
    if not worst:
        return "Every class is right on every validation image."
    return (
        "Weakest classes (validation accuracy): "
        + ", ".join(f"{row['class']} {_percent(float(row['accuracy']))}" for row in worst)
        + "."
    )


def calibration_lines(calibration: dict) -> list[str]:
    fitted = (
        f"- Temperature {calibration['temperature']:.3f}, fitted on {calibration['fitted_on']}"
        if "not_fitted" not in calibration
        else f"- No temperature (1, the softmax as trained): {calibration['not_fitted']}"
    )
    if "not_measured" in calibration:
        return [f"{fitted}; calibration not measured: {calibration['not_measured']}."]
    lines = [
        f"{fitted}; measured on {calibration['measured_on']}: expected calibration error ({calibration['bins']} bins) "
        f"{calibration['ece_before']:.3f} before, {calibration['ece_after']:.3f} after; NLL "
        f"{calibration['nll_before']:.3f} before, {calibration['nll_after']:.3f} after."
    ]
    at_08 = next((row for row in calibration["coverage_risk"] if row["threshold"] == 0.8), None)
    if at_08:
        lines.append(
            f"- Answering only at probability 0.8 or more: {_percent(at_08['coverage'])} of images answered, "
            f"{_percent(at_08['error_rate'])} of those wrong (metrics/coverage_risk.tsv has every threshold)."
        )
    return lines


def model_lines(params: Params, classifier: Classifier, export: dict) -> list[str]:
    preprocess = classifier.preprocess
    return [
        f"# Model card: {classifier.name} on {params.data}",
        "",
        "Written by the export stage (`dvc repro export`) from this run's params, metrics and model; regenerated "
        "with the model. Files: `models/model.pt` (PyTorch) and `models/model.onnx` (onnxruntime, the same "
        f"probabilities within {export['max_abs_difference']:.1e} on the {export['images']} validation images checked, "
        f"of {export['of']}).",
        "",
        "## Model",
        f"- Architecture: `{classifier.name}`, {classifier.head} head; initial weights: `{params.value('weights')}`.",
        f"- Input: {preprocess.resolution} px squares ({preprocess.resize}), resized to {preprocess.size} px,"
        f" normalised with mean {list(preprocess.mean)} and std {list(preprocess.std)}.",
        f"- Output: probabilities over {len(classifier.classes)} classes, calibrated by temperature "
        f"{classifier.temperature:.3f}.",
    ]


def data_lines(params: Params, classifier: Classifier, metrics: dict, splits: list[str]) -> list[str]:
    train = params.train
    return [
        "## Data",
        f"- Recipe `{params.data}`: `{json.dumps(params.recipe)}`.",
        "- Images: " + ", ".join(f"{metrics[name]['count']} {name}" for name in splits) + ".",
        f"- Labels: {params.index.label} rule; split: {params.index.split} (seed {params.index.seed}).",
        f"- Classes ({len(classifier.classes)}): " + ", ".join(classifier.classes) + ".",
        "",
        "## Training",
        f"- {params.size} px, batch {train.batch_size}, {_epochs(train.epochs)} with the body frozen at lr "
        f"{train.lr}, then {_epochs(train.epochs_unfrozen)} unfrozen at {list(train.lr_unfrozen)}; weight decay "
        f"{train.weight_decay}, seed {train.seed}.",
    ]


def metrics_lines(metrics: dict, per_class: list[dict], splits: list[str]) -> list[str]:
    missed = [row for row in per_class if row["accuracy"] and float(row["accuracy"]) < 1]  # no accuracy: no images
    worst = sorted(missed, key=lambda row: (float(row["accuracy"]), row["class"]))[:WORST]
    return [
        "## Metrics",
        "| split | images | error rate | accuracy | loss |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(
            f"| {name} | {metrics[name]['count']} | {_percent(metrics[name]['error_rate'])} | "
            f"{_percent(metrics[name]['accuracy'])} | {metrics[name]['loss']:.4f} |"
            for name in splits
        ),
        "",
        weakest_line(worst),
    ]


def use_and_limits_lines(params: Params, classifier: Classifier, held_out: int) -> list[str]:
    resolution, classes = classifier.preprocess.resolution, classifier.classes
    return [
        "## Use",
        "```",
        "python -m pets predict photo.jpg [--min-confidence 0.8]              # model.pt, in this project",
        "python -m pets predict --model models/model.onnx photo.jpg            # onnxruntime, no torch",
        "python -m pets serve                                                  # a page to try it: 127.0.0.1:8000",
        "```",
        "Elsewhere, with numpy, Pillow and onnxruntime: copy `models/model.onnx` and `pets/errors.py`, "
        "`pets/data/images.py`, `pets/inference/answers.py`, `pets/inference/onnx_model.py` (keeping their paths), "
        "then `python -m pets.inference.onnx_model model.onnx photo.jpg`. The graph takes uint8 RGB pixels, NHWC, "
        f"({resolution} x {resolution}), as `load_image` makes them.",
        "",
        "## Limits",
        f"- It knows only these {len(classes)} classes, from the {params.data} images: every picture gets one of "
        "them, whatever it shows. A picture unlike the training ones (another kind of subject, a drawing, a "
        "screenshot, odd light or framing) gets an answer that means little; `--min-confidence` makes it say "
        "unsure instead when its probability is low, but a confident mistake on such a picture is possible.",
        f"- The figures above come from {held_out} held-out images of the same source as the training ones; on "
        "pictures from elsewhere expect a higher error rate.",
    ]


def model_card(*, params: Params, classifier: Classifier, metrics: dict, per_class: list[dict], export: dict) -> str:
    """The card in Markdown: model, data, params, metrics per split, weakest classes, calibration, use, limits."""
    splits = [name for name in SPLITS if name in metrics]
    held_out = sum(metrics[name]["count"] for name in splits if name != "train")
    sections = [
        model_lines(params, classifier, export),
        data_lines(params, classifier, metrics, splits),
        metrics_lines(metrics, per_class, splits),
        ["## Calibration", *calibration_lines(metrics["calibration"])],
        use_and_limits_lines(params, classifier, held_out),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"
