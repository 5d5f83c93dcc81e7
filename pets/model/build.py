"""Build the classifier params.yaml describes: the arch by name, its weights, and a head for the classes."""

from collections.abc import Sequence

from torch import nn

from pets.config.weights import Weights
from pets.errors import PetsError
from pets.model.archs import resolve
from pets.model.checkpoint import load_checkpoint, load_into


def build_model(
    arch: str,
    classes: Sequence[str],
    weights: Weights | str,
    data_mean: Sequence[float],
    data_std: Sequence[float],
    head: str = "linear",
) -> tuple[nn.Module, Sequence[float], Sequence[float]]:
    """(model, mean, std): the classifier for `classes` and the normalisation its weights expect.

    weights: a config.weights.Weights, or its text in params.yaml: imagenet (the library's ImageNet weights), none
    (random init, normalised with the data's own statistics), or the path of a checkpoint of ours or a state dict
    for `arch`. The head is new unless the weights are a checkpoint for exactly these classes (training goes on).
    """
    weights = Weights.parse(weights)
    spec = resolve(arch)
    if weights.kind == "none":
        model = spec.create(len(classes)) if head == "linear" else spec.replace_head(spec.create(), len(classes), head)
        return model, data_mean, data_std
    if weights.kind == "imagenet":
        return spec.replace_head(spec.imagenet_model(), len(classes), head), spec.mean, spec.std
    checkpoint = load_checkpoint(weights.path)
    if checkpoint.get("arch", arch) != arch:
        raise PetsError(
            f"{weights.path}: a checkpoint of {checkpoint['arch']}, not {arch}; set arch: {checkpoint['arch']}"
        )
    saved_classes = checkpoint.get("classes")
    model = spec.create(len(saved_classes) if saved_classes else None)
    load_into(model, checkpoint["state_dict"], weights.path, arch)
    if saved_classes != list(classes) or head != "linear":
        spec.replace_head(model, len(classes), head)
    return model, checkpoint.get("mean", spec.mean), checkpoint.get("std", spec.std)
