"""The trained model's scores: the log-probabilities (fp32, before the temperature) of every image of every split of
the pixel cache, in the cache's order, computed once by the train stage with the model still on its device.
Evaluate's metrics, calibration and pictures, and the export stage's check of the ONNX model, read them instead of
loading the model again (torch and the model code take seconds to import). Beside them, the trained body's features of
the training images (pets.inference.probe), from which the label audit scores them out of fold
(pets.inference.out_of_fold). NumPy only."""

import io
import json
from pathlib import Path

import numpy as np

from pets.atomic import atomic_path
from pets.errors import PetsError

TRAIN_FEATURES = "features_train"


def write_scores(
    path: str | Path,
    scores: dict[str, np.ndarray],
    classes: list[str],
    temperature: float,
    train_features: np.ndarray,
    seed: int,
) -> None:
    """{split: (N, classes) log-probabilities} with the classes and the temperature they go with, and the training
    images' (N, features) with the seed their folds are drawn with, atomically."""
    buffer = io.BytesIO()
    arrays = {f"split_{name}": np.asarray(values, np.float32) for name, values in scores.items()}
    arrays[TRAIN_FEATURES] = np.asarray(train_features, np.float32)
    meta = {"classes": list(classes), "temperature": float(temperature), "seed": int(seed)}
    np.savez(buffer, **arrays, meta=np.array(json.dumps(meta)))
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


def read_train_features(path: str | Path, manifest: dict) -> tuple[np.ndarray, int]:
    """(the training images' features, the seed of their folds) of a scores file read_scores accepts."""
    read_scores(path, manifest)
    with np.load(path) as saved:
        return saved[TRAIN_FEATURES], json.loads(str(saved["meta"]))["seed"]
