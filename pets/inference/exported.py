"""Whether an ONNX file is the export of the models/model.pt beside it (the export stage records its sha256)."""

from pathlib import Path

from pets.digest import file_sha256
from pets.errors import PetsError
from pets.inference.onnx_model import OnnxClassifier


def check_exported_from(classifier: OnnxClassifier, model_path: Path) -> None:
    """Refuse an ONNX file exported from another model.pt than the one at model_path, when there is one: the
    pipeline retrained it and the ONNX is stale. (Not in onnx_model, which must run outside the project.)"""
    if not model_path.is_file():
        return
    now = file_sha256(model_path)
    if now != classifier.model_sha256:
        raise PetsError(
            f"{classifier.path} was exported from another {model_path} than the one there now (sha256 "
            f"{classifier.model_sha256[:12]}, now {now[:12]}): run dvc repro export to export it again"
        )
