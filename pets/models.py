"""Build any torchvision classifier by name, load its weights, swap its head, freeze its body, save it."""

import difflib
import os
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn

from pets.atomic import atomic_path
from pets.augment import IMAGENET_MEAN, IMAGENET_STD
from pets.errors import PetsError


def classification_archs():
    return torchvision.models.list_models(module=torchvision.models)


def check_arch(arch):
    archs = classification_archs()
    if arch not in archs:
        close = difflib.get_close_matches(arch, archs, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}?" if close else "see torchvision.models.list_models()"
        raise PetsError(f"params.yaml: arch {arch!r} is not a torchvision classification model; {hint}")


def head_name(model):
    """The name of the last Linear layer: the classifier every torchvision architecture ends with."""
    names = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not names:
        raise PetsError(f"{type(model).__name__} has no Linear classifier to replace")
    return names[-1]


def replace_head(model, n_classes):
    name = head_name(model)
    old = model.get_submodule(name)
    parent, _, attribute = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, attribute, nn.Linear(old.in_features, n_classes))
    return model


def imagenet_state_dict(arch):
    """torchvision's default ImageNet weights for `arch`, from the torch hub cache or downloaded into it."""
    weights = torchvision.models.get_model_weights(arch).DEFAULT
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    try:
        return weights.get_state_dict(progress=True, check_hash=True)
    except (OSError, RuntimeError) as error:  # URLError is an OSError
        raise PetsError(
            f"ImageNet weights for {arch} are not in {cached} and could not be downloaded ({error}); "
            f"either train from scratch with `dvc exp run -S weights=none`, or place {weights.url} at {cached}"
        ) from None


def load_checkpoint(path):
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


def _load_into(model, state_dict, source, arch):
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as error:
        first = str(error).splitlines()[1].strip() if len(str(error).splitlines()) > 1 else str(error)
        raise PetsError(f"{source}: these weights do not fit {arch} ({first})") from None


def build_model(arch, classes, weights, data_mean, data_std):
    """(model, mean, std): the classifier for `classes` and the normalisation its weights expect.

    weights: 'imagenet' (torchvision's default weights), 'none' (random init, normalised with the
    data's own statistics), or a path to a checkpoint of ours or a state dict for `arch`. The head
    is new unless the weights are a checkpoint for exactly these classes (training goes on).
    """
    check_arch(arch)
    if weights == "none":
        return torchvision.models.get_model(arch, num_classes=len(classes)), data_mean, data_std
    if weights == "imagenet":
        model = torchvision.models.get_model(arch)
        _load_into(model, imagenet_state_dict(arch), "ImageNet weights", arch)
        return replace_head(model, len(classes)), IMAGENET_MEAN, IMAGENET_STD
    checkpoint = load_checkpoint(weights)
    if checkpoint.get("arch", arch) != arch:
        raise PetsError(f"{weights}: a checkpoint of {checkpoint['arch']}, not {arch}; set arch: {checkpoint['arch']}")
    saved_classes = checkpoint.get("classes")
    model = torchvision.models.get_model(arch, **({"num_classes": len(saved_classes)} if saved_classes else {}))
    _load_into(model, checkpoint["state_dict"], weights, arch)
    if saved_classes != list(classes):
        replace_head(model, len(classes))
    return model, checkpoint.get("mean", IMAGENET_MEAN), checkpoint.get("std", IMAGENET_STD)


def body_parameters(model):
    head = {id(p) for p in model.get_submodule(head_name(model)).parameters()}
    return [p for p in model.parameters() if id(p) not in head]


def layer_groups(model, n_body_groups):
    """Parameter lists, first layers first: the body cut into `n_body_groups` contiguous groups, then the head."""
    body = body_parameters(model)
    cuts = np.array_split(np.arange(len(body)), min(n_body_groups, len(body)))
    return [[body[i] for i in cut] for cut in cuts] + [list(model.get_submodule(head_name(model)).parameters())]


def set_body_frozen(model, frozen):
    for parameter in body_parameters(model):
        parameter.requires_grad_(not frozen)


def freeze_batchnorm_stats(model):
    """Put the frozen body's BatchNorm layers in eval mode, so their ImageNet running statistics stay as they are."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(p.requires_grad for p in module.parameters()):
            module.eval()


def save_checkpoint(path, model, *, arch, classes, size, mean, std, resolution=None, resize="crop"):
    """Everything needed to rebuild and use the model without params.yaml; written atomically.

    New images are prepared as the cache prepared the training ones: made square by `resize`
    (crop or squish) at `resolution`, then resized to `size` and normalised with `mean` and `std`.
    """
    checkpoint = {
        "arch": arch, "classes": list(classes), "size": size, "mean": list(mean), "std": list(std),
        "resolution": resolution or size, "resize": resize,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)


def model_from_checkpoint(path):
    """(model in eval mode, checkpoint metadata) from a models/model.pt."""
    checkpoint = load_checkpoint(path)
    if "arch" not in checkpoint or "classes" not in checkpoint:
        raise PetsError(f"{path}: not a pets model (it has no arch and class list)")
    model = torchvision.models.get_model(checkpoint["arch"], num_classes=len(checkpoint["classes"]))
    _load_into(model, checkpoint["state_dict"], path, checkpoint["arch"])
    return model.eval(), checkpoint
