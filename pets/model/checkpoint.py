"""The format of models/model.pt: a Classifier whole (arch, head, classes, the builder's settings, the eval preset:
size, mean, std, resolution, resize; the temperature that calibrates its probabilities; the weights), so that it is
rebuilt and used without params.yaml. Files of earlier versions, which have no head or settings, are models with a
linear head."""

from pathlib import Path

import torch

from pets.atomic import atomic_path
from pets.config import layout
from pets.data.presets import PRESET_KEYS, Preprocess
from pets.errors import PetsError
from pets.model.archs import build, resolve
from pets.model.classifier import Classifier
from pets.model.parts import load_into
from pets.model.weights_file import load_checkpoint


def save_classifier(path: str | Path, classifier: Classifier) -> None:
    """Write the whole Classifier to `path`, atomically."""
    checkpoint = {
        "arch": classifier.name,
        "head": classifier.head,
        "classes": list(classifier.classes),
        "settings": classifier.settings,
        **classifier.preprocess.to_checkpoint(),
        "temperature": float(classifier.temperature),
        "state_dict": {k: v.detach().cpu() for k, v in classifier.module.state_dict().items()},
    }
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)


def classifier_of(checkpoint: dict, source: object) -> Classifier:
    """The Classifier a loaded models/model.pt describes, its weights loaded (in training mode, as built)."""
    missing = [key for key in ("arch", "classes", *PRESET_KEYS) if key not in checkpoint]
    if missing:
        raise PetsError(f"{source}: not a pets model (it has no {', '.join(missing)})")
    try:
        spec = resolve(checkpoint["arch"])
    except PetsError as error:
        raise PetsError(f"{source}: a model of an architecture this installation does not have ({error})") from None
    head, settings = checkpoint.get("head", "linear"), checkpoint.get("settings", {})
    module = build(spec, len(checkpoint["classes"]), head, settings)
    load_into(module, checkpoint["state_dict"], source, checkpoint["arch"])
    return Classifier(
        module,
        spec,
        head,
        list(checkpoint["classes"]),
        Preprocess.from_checkpoint(checkpoint),
        temperature=float(checkpoint.get("temperature", 1.0)),  # 1: saved before temperatures were fitted
        settings=settings,
    )


def load_classifier(path: str | Path) -> Classifier:
    """The Classifier of a models/model.pt, in eval mode."""
    if not Path(path).is_file():
        raise PetsError(f"{path}: no such model (dvc repro trains models/model.pt; --model names another)")
    checkpoint = load_checkpoint(path)
    if set(checkpoint.get("state_dict", {})) == {"sha256", "payload"}:  # pets.train.resume's wrapper
        raise PetsError(
            f"{path} is the resume checkpoint of an unfinished training run, not a model: the trained model is "
            f"{layout.MODEL}"
        )
    classifier = classifier_of(checkpoint, path)
    classifier.module.eval()
    return classifier
