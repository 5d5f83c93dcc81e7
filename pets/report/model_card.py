"""models/MODEL_CARD.md: what the run knows about its model, written by the export stage beside model.onnx."""

import csv
import json

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


def model_card(*, params: dict, checkpoint: dict, metrics: dict, per_class: list[dict], export: dict) -> str:
    """The card in Markdown: model, data, params, metrics per split, weakest classes, calibration, use, limits."""
    recipe = params["datasets"][params["data"]]
    train, calibration = params["train"], metrics["calibration"]
    splits = [name for name in ("train", "valid", "test") if name in metrics]
    classes = checkpoint["classes"]
    missed = [row for row in per_class if row["accuracy"] and float(row["accuracy"]) < 1]  # no accuracy: no images
    worst = sorted(missed, key=lambda row: (float(row["accuracy"]), row["class"]))[:WORST]
    at_08 = next((row for row in calibration["coverage_risk"] if row["threshold"] == 0.8), None)
    lines = [
        f"# Model card: {checkpoint['arch']} on {params['data']}",
        "",
        "Written by the export stage (`dvc repro export`) from this run's params, metrics and model; regenerated "
        "with the model. Files: `models/model.pt` (PyTorch) and `models/model.onnx` (onnxruntime, the same "
        f"probabilities within {export['max_abs_difference']:.1e} on {export['images']} validation images).",
        "",
        "## Model",
        f"- Architecture: `{checkpoint['arch']}`; initial weights: `{params['weights']}`.",
        f"- Input: {checkpoint['resolution']} px squares ({checkpoint['resize']}), resized to {checkpoint['size']} px,"
        f" normalised with mean {checkpoint['mean']} and std {checkpoint['std']}.",
        f"- Output: probabilities over {len(classes)} classes, calibrated by temperature "
        f"{checkpoint.get('temperature', 1.0):.3f}.",
        "",
        "## Data",
        f"- Recipe `{params['data']}`: `{json.dumps(recipe)}`.",
        "- Images: " + ", ".join(f"{metrics[name]['count']} {name}" for name in splits) + ".",
        f"- Labels: {params['index']['label']} rule; split: {params['index']['split']} "
        f"(seed {params['index']['seed']}).",
        f"- Classes ({len(classes)}): " + ", ".join(classes) + ".",
        "",
        "## Training",
        f"- {params['size']} px, batch {train['batch_size']}, {_epochs(train['epochs'])} with the body frozen at lr "
        f"{train['lr']}, then {_epochs(train['epochs_unfrozen'])} unfrozen at {train['lr_unfrozen']}; weight decay "
        f"{train['weight_decay']}, seed {train['seed']}.",
        "",
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
        "",
        "## Calibration",
        (
            f"- Temperature {calibration['temperature']:.3f}, fitted on {calibration['fitted_on']}; measured on "
            if "not_fitted" not in calibration
            else f"- No temperature (1, the softmax as trained): {calibration['not_fitted']}; measured on "
        )
        + f"{calibration['measured_on']}: expected calibration error ({calibration['bins']} bins) "
        f"{calibration['ece_before']:.3f} before, {calibration['ece_after']:.3f} after; NLL "
        f"{calibration['nll_before']:.3f} before, {calibration['nll_after']:.3f} after.",
        *(
            [
                f"- Answering only at probability 0.8 or more: {_percent(at_08['coverage'])} of images answered, "
                f"{_percent(at_08['error_rate'])} of those wrong (metrics/coverage_risk.tsv has every threshold)."
            ]
            if at_08
            else []
        ),
        "",
        "## Use",
        "```",
        "python -m pets predict photo.jpg [--min-confidence 0.8]              # model.pt, in this project",
        "python -m pets predict --model models/model.onnx photo.jpg            # onnxruntime, no torch",
        "python -m pets serve                                                  # a page to try it: 127.0.0.1:8000",
        "```",
        "Elsewhere, with numpy, Pillow and onnxruntime: copy `models/model.onnx` and `pets/errors.py`, "
        "`pets/data/images.py`, `pets/inference/answers.py`, `pets/inference/onnx_model.py` (keeping their paths), "
        "then `python -m pets.inference.onnx_model model.onnx photo.jpg`. The graph takes uint8 RGB pixels, NHWC, "
        f"({checkpoint['resolution']} x {checkpoint['resolution']}), as `load_image` makes them.",
        "",
        "## Limits",
        f"- It knows only these {len(classes)} classes, from the {params['data']} images: every picture gets one of "
        "them, whatever it shows. A picture unlike the training ones (another kind of subject, a drawing, a "
        "screenshot, odd light or framing) gets an answer that means little; `--min-confidence` makes it say "
        "unsure instead when its probability is low, but a confident mistake on such a picture is possible.",
        f"- The figures above come from {sum(metrics[name]['count'] for name in splits if name != 'train')} held-out "
        "images of the same source as the training ones; on pictures from elsewhere expect a higher error rate.",
        "",
    ]
    return "\n".join(lines)
