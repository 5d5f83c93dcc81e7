"""The trained model's scores: the log-probabilities (fp32, before the temperature) of every image of every split of
the pixel cache, in the cache's order, computed once by the train stage with the model still on its device.
Evaluate's metrics, calibration and pictures, and the export stage's check of the ONNX model, read them instead of
loading the model again (torch and the model code take seconds to import). NumPy only."""

import io
import json
from pathlib import Path

import numpy as np

from pets.atomic import atomic_path
from pets.errors import PetsError


def write_scores(path: str | Path, scores: dict[str, np.ndarray], classes: list[str], temperature: float) -> None:
    """{split: (N, classes) log-probabilities} with the classes and the temperature they go with, atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, **{f"split_{name}": np.asarray(values, np.float32) for name, values in scores.items()},
             meta=np.array(json.dumps({"classes": list(classes), "temperature": float(temperature)})))  # fmt: skip
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
