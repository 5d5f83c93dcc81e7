"""The format of models/model.pt: the weights with everything needed to rebuild and use the model without
params.yaml (arch, classes, the eval preset: size, mean, std, resolution, resize; and the temperature that
calibrates its probabilities)."""

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from pets.atomic import atomic_path
from pets.config import layout
from pets.data.presets import PRESET_KEYS, Preprocess
from pets.errors import PetsError
from pets.model.archs import load_into, resolve


def load_checkpoint(path: str | Path) -> dict:
    """A checkpoint of ours ({'arch', 'classes', 'state_dict', ...}) or a bare state dict, loaded safely."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise PetsError(f"{path}: weights file not found (params.yaml: weights)") from None
    except Exception as error:  # noqa: BLE001 - pickle, zip and format errors all mean "not a checkpoint"
        raise PetsError(f"{path}: not a PyTorch checkpoint or state dict ({type(error).__name__})") from None
    if not isinstance(checkpoint, dict):
        raise PetsError(f"{path}: not a PyTorch checkpoint or state dict")
    return checkpoint if "state_dict" in checkpoint else {"state_dict": checkpoint}


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    *,
    arch: str,
    classes: Sequence[str],
    preprocess: Preprocess,
    temperature: float = 1.0,
) -> None:
    """The model, its arch and classes, how new images are prepared for it (`preprocess`) and the temperature its
    logits are divided by (pets.inference.calibration); written atomically."""
    checkpoint = {
        "arch": arch,
        "classes": list(classes),
        **preprocess.to_checkpoint(),
        "temperature": float(temperature),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)


def temperature_of(checkpoint: dict) -> float:
    """The checkpoint's calibration temperature: 1 (the softmax as trained) for models saved before it was fitted."""
    return float(checkpoint.get("temperature", 1.0))


def model_from_checkpoint(path: str | Path) -> tuple[nn.Module, dict, Preprocess]:
    """(model in eval mode, checkpoint metadata, Preprocess) from a models/model.pt."""
    if not Path(path).is_file():
        raise PetsError(f"{path}: no such model (dvc repro trains models/model.pt; --model names another)")
    checkpoint = load_checkpoint(path)
    if set(checkpoint.get("state_dict", {})) == {"sha256", "payload"}:  # pets.train.resume's wrapper
        raise PetsError(
            f"{path} is the resume checkpoint of an unfinished training run, not a model: the trained model is "
            f"{layout.MODEL}"
        )
    missing = [key for key in ("arch", "classes", *PRESET_KEYS) if key not in checkpoint]
    if missing:
        raise PetsError(f"{path}: not a pets model (it has no {', '.join(missing)})")
    try:
        spec = resolve(checkpoint["arch"])
    except PetsError as error:
        raise PetsError(f"{path}: a model of an architecture this installation does not have ({error})") from None
    model = spec.create(len(checkpoint["classes"]))
    load_into(model, checkpoint["state_dict"], path, checkpoint["arch"])
    return model.eval(), checkpoint, Preprocess.from_checkpoint(checkpoint)
