"""Build a classifier by name (torchvision or timm), load its weights, swap its head, freeze its body, save it."""

import os
from pathlib import Path

import huggingface_hub.constants
import torch
import torchvision
from torch import nn

from pets import lite0
from pets.archs import TimmArch, body_parameters, resolve
from pets.atomic import atomic_path
from pets.errors import PetsError

OFFLINE_WEIGHTS = (f"offline, use -S arch={lite0.ARCH} (ImageNet weights from the {lite0.PACKAGE} package), "
                   "-S weights=none, or -S weights=<path of a state dict>")


def imagenet_model(arch):
    """The architecture's 1000-class model with ImageNet weights: torchvision's from the torch hub cache, timm's
    from its hub cache (both downloaded into it when missing), tf_efficientnet_lite0's from its package."""
    if isinstance(arch, TimmArch):
        if arch.timm_name == lite0.ARCH:
            model = arch.create()
            _load_into(model, lite0.imagenet_state_dict(), f"the {lite0.PACKAGE} package's weights", arch.name)
            return model
        try:
            return arch.create(pretrained=True)
        except (OSError, RuntimeError, ValueError) as error:  # network, cache and hub errors alike
            where = (f"{huggingface_hub.constants.HF_HUB_CACHE} ({arch.config.get('hf_hub_id')})"
                     if arch.config.get("hf_hub_id") else Path(torch.hub.get_dir()) / "checkpoints")
            raise PetsError(f"ImageNet weights for {arch.name} are not in {where} and could not be downloaded "
                            f"({type(error).__name__}); {OFFLINE_WEIGHTS}") from None
    weights = torchvision.models.get_model_weights(arch.name).DEFAULT
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    try:
        return arch.create(weights=weights)  # the builder loads them: auxiliary classifiers in, then out again
    except (OSError, RuntimeError) as error:  # URLError is an OSError
        raise PetsError(
            f"ImageNet weights for {arch.name} are not in {cached} and could not be downloaded ({error}); "
            f"either train from scratch with `dvc exp run -S weights=none`, or place {weights.url} at {cached}; "
            f"{OFFLINE_WEIGHTS}"
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

    weights: 'imagenet' (the library's ImageNet weights), 'none' (random init, normalised with the
    data's own statistics), or a path to a checkpoint of ours or a state dict for `arch`. The head
    is new unless the weights are a checkpoint for exactly these classes (training goes on).
    """
    spec = resolve(arch)
    if weights == "none":
        return spec.create(len(classes)), data_mean, data_std
    if weights == "imagenet":
        return spec.replace_head(imagenet_model(spec), len(classes)), spec.mean, spec.std
    checkpoint = load_checkpoint(weights)
    if checkpoint.get("arch", arch) != arch:
        raise PetsError(f"{weights}: a checkpoint of {checkpoint['arch']}, not {arch}; set arch: {checkpoint['arch']}")
    saved_classes = checkpoint.get("classes")
    model = spec.create(len(saved_classes) if saved_classes else None)
    _load_into(model, checkpoint["state_dict"], weights, arch)
    if saved_classes != list(classes):
        spec.replace_head(model, len(classes))
    return model, checkpoint.get("mean", spec.mean), checkpoint.get("std", spec.std)


def layer_groups(model, arch, n_body_groups):
    """Parameter lists, first layers first: the body cut into `n_body_groups` groups, then the head."""
    spec = resolve(arch)
    return spec.body_groups(model, n_body_groups) + [list(spec.head(model).parameters())]


def set_body_frozen(model, arch, frozen):
    for parameter in body_parameters(model, resolve(arch).head(model)):
        parameter.requires_grad_(not frozen)


def freeze_batchnorm_stats(model, everywhere=False):
    """Put BatchNorm layers in eval mode, so that they normalise with their running (ImageNet) statistics and
    keep them as they are: the frozen body's layers, or `everywhere` also those that train."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and (
                everywhere or not any(p.requires_grad for p in module.parameters())):
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
    try:
        spec = resolve(checkpoint["arch"])
    except PetsError as error:
        raise PetsError(f"{path}: a model of an architecture this installation does not have "
                        f"({str(error).removeprefix('params.yaml: ')})") from None
    model = spec.create(len(checkpoint["classes"]))
    _load_into(model, checkpoint["state_dict"], path, checkpoint["arch"])
    return model.eval(), checkpoint
