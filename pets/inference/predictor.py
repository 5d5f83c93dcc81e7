"""A model file as a predictor, whichever its format: models/model.pt through PyTorch, or a model.onnx through
onnxruntime, with no torch imported (`python -m pets predict` and `serve` take either). The answers are told by
pets.inference.answers."""

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from pets.config import layout
from pets.data.images import IMAGE_SUFFIXES, image_paths
from pets.errors import PetsError
from pets.inference.answers import answer_line, answer_record, shown

Answers = Iterator[tuple[Path, list[tuple[str, float]] | None, str]]


def is_onnx(model: str | Path) -> bool:
    return str(model).lower().endswith(".onnx")


def onnx_classifier(path: str | Path):
    """The OnnxClassifier of a model.onnx; the project's own export (models/model.onnx) is refused when models/model.pt
    was trained again since. A copy elsewhere is used as it is."""
    from pets.inference.exported import check_exported_from  # noqa: PLC0415 - onnxruntime, only for an ONNX model
    from pets.inference.onnx_model import OnnxClassifier  # noqa: PLC0415

    if not os.path.isfile(path):
        raise PetsError(f"{path}: no such model (dvc repro export writes {layout.ONNX})")
    classifier = OnnxClassifier(path)
    if Path(path).resolve() == layout.ONNX.resolve():
        check_exported_from(classifier, layout.MODEL)
    return classifier


def loaded_classifier(model: str | Path):
    """The model behind OnnxClassifier's interface (classes, arch, load, probabilities, top), for the served page."""
    if is_onnx(model):
        return onnx_classifier(model)
    from pets.inference.predict import TorchClassifier  # noqa: PLC0415 - torch, only for a PyTorch model
    from pets.runtime.profile import runtime  # noqa: PLC0415

    return TorchClassifier(model, runtime())


def predictor(model: str | Path, top: int, batch_size: int | None) -> Callable[[Sequence[Path]], Answers]:
    """A function from image paths to (path, [(class, probability)] or None, why not) per path, in order."""
    if is_onnx(model):
        from pets.inference.onnx_model import predict_files  # noqa: PLC0415

        classifier = onnx_classifier(model)
        return lambda paths: predict_files(classifier, paths, top_k=top, batch_size=batch_size or 32)
    import dataclasses  # noqa: PLC0415

    from pets.inference.predict import predict_files  # noqa: PLC0415
    from pets.model.checkpoint import load_classifier  # noqa: PLC0415
    from pets.runtime.profile import runtime  # noqa: PLC0415

    classifier, active = load_classifier(model), runtime()
    if batch_size:
        active = dataclasses.replace(active, inference_batch=batch_size)
    return lambda paths: predict_files(classifier, paths, runtime=active, top_k=top)


def predict(inputs: Sequence[str], *, model: str, top: int, batch_size: int | None, as_json: bool,
            min_confidence: float | None) -> None:  # fmt: skip
    """Print the top classes of every image of `inputs` (files and folders) on stdout, one line each or JSON; what
    cannot be read is named on stderr, and then a PetsError ends the command with status 1."""
    answer = predictor(model, top, batch_size)  # the model first: a wrong one is said before any image is read
    paths, unreadable = image_paths(inputs)
    for folder, reason in unreadable:
        print(f"{shown(folder)}: cannot read this folder ({reason})", file=sys.stderr)
    if not paths and not unreadable:
        raise PetsError(f"no images (by suffix: {', '.join(sorted(IMAGE_SUFFIXES))}) in {', '.join(inputs)}")
    records, failed = [], 0
    for path, answers, error in answer(paths) if paths else []:
        if answers is None:
            failed += 1
            print(f"{shown(path)}: {error}", file=sys.stderr)
        elif as_json:
            records.append(answer_record(path, answers, min_confidence))
        else:
            print(answer_line(path, answers, min_confidence))
    if as_json:
        print(json.dumps(records, indent=1))
    if failed or unreadable:
        folders = f" and {len(unreadable)} folder(s) could not be read" if unreadable else ""
        raise PetsError(f"{failed} of {len(paths)} input(s) could not be read as images{folders} (listed above)")
