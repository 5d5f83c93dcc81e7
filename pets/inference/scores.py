"""The trained model's scores: the log-probabilities (fp32, before the temperature) of every image of every split of
the pixel cache, in the cache's order, computed once by the train stage with the model still on its device.
Evaluate's metrics, calibration and pictures, and the export stage's check of the ONNX model, read them instead of
loading the model again (torch and the model code take seconds to import). Beside them, the training images'
out-of-sample log-probabilities (pets.inference.probe), which the label audit ranks them by. NumPy only."""

import io
import json
from pathlib import Path

import numpy as np

from pets.atomic import atomic_path
from pets.errors import PetsError

OUT_OF_FOLD = "out_of_fold_train"


def write_scores(
    path: str | Path,
    scores: dict[str, np.ndarray],
    classes: list[str],
    temperature: float,
    out_of_fold: np.ndarray | None = None,
) -> None:
    """{split: (N, classes) log-probabilities} with the classes and the temperature they go with, and the training
    split's out-of-fold log-probabilities when there are any, atomically."""
    buffer = io.BytesIO()
    arrays = {f"split_{name}": np.asarray(values, np.float32) for name, values in scores.items()}
    if out_of_fold is not None:
        arrays[OUT_OF_FOLD] = np.asarray(out_of_fold, np.float32)
    np.savez(buffer, **arrays, meta=np.array(json.dumps({"classes": list(classes), "temperature": float(temperature)})))
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def read_scores(path: str | Path, manifest: dict) -> tuple[dict[str, np.ndarray], float]:
    """({split: log-probabilities}, temperature) of a scores file, refused in one line unless it scores exactly the
    classes and images of the cache whose `manifest` is given."""
    try:
        with np.load(path) as saved:
            meta = json.loads(str(saved["meta"]))
            scores = {key.removeprefix("split_"): saved[key] for key in saved.files if key.startswith("split_")}
    except FileNotFoundError:
        raise PetsError(f"{path} not found: the train stage writes it (dvc repro train)") from None
    except (OSError, ValueError, KeyError) as error:
        raise PetsError(f"{path}: not a scores file of the train stage ({type(error).__name__})") from None
    counts = {name: len(split["labels"]) for name, split in manifest["splits"].items()}
    if meta["classes"] != manifest["classes"] or {name: len(s) for name, s in scores.items()} != counts:
        raise PetsError(f"{path} scores another cache than data/cache: run `dvc repro` to train on this one")
    return scores, meta["temperature"]


def read_out_of_fold(path: str | Path, manifest: dict) -> np.ndarray | None:
    """The training split's out-of-fold log-probabilities of a scores file read_scores accepts, or None (a class
    with too few training images to cross-validate)."""
    read_scores(path, manifest)
    with np.load(path) as saved:
        return saved[OUT_OF_FOLD] if OUT_OF_FOLD in saved.files else None
