"""Build the Classifier params.yaml describes: the arch by name, its starting weights, and a head for the classes."""

from collections.abc import Sequence
from dataclasses import replace

from torch import nn

from pets.config.weights import Weights
from pets.data.presets import Preprocess
from pets.errors import PetsError
from pets.model.archs import build, resolve
from pets.model.checkpoint import classifier_of
from pets.model.classifier import Classifier
from pets.model.parts import look_like
from pets.model.weights_file import is_model, load_checkpoint, refuse_other_arch


def build_model(
    arch: str, classes: Sequence[str], weights: Weights | str, data: Preprocess, head: str = "linear"
) -> Classifier:
    """The Classifier for `classes` that training starts from.

    weights: imagenet (the library's ImageNet weights), none (random init), or the path of a models/model.pt of ours
    or of a state dict for `arch` (its head is left out). data: how the cache's images are prepared at the training
    size, normalised with the training split's own statistics; pretrained weights bring their own normalisation.
    The head is new unless the weights are a model of ours for exactly these classes and this head (training goes on).
    """
    weights = Weights.parse(weights)
    spec, classes = resolve(arch), list(classes)
    if weights.kind == "none":
        return Classifier(build(spec, len(classes), head), spec, head, classes, data, pretrained=False)
    if weights.kind == "file":
        return _from_file(spec, classes, weights.path, data, head)
    module = spec.replace_head(spec.imagenet_model(), len(classes), head)
    return Classifier(
        module, spec, head, classes, _normalised(data, spec.mean, spec.std), settings=spec.settings(module)
    )


def _normalised(data: Preprocess, mean, std) -> Preprocess:
    return replace(data, mean=tuple(mean), std=tuple(std))


def _from_file(spec, classes, path, data, head) -> Classifier:
    checkpoint = load_checkpoint(path)
    if is_model(checkpoint):
        refuse_other_arch(checkpoint, spec.name, path)
        start = classifier_of(checkpoint, path)
        if start.classes != classes or start.head != head:
            start.new_head(classes, head)
        start.preprocess, start.temperature = _normalised(data, start.preprocess.mean, start.preprocess.std), 1.0
        return start
    module = spec.create()
    _refuse_unfit(checkpoint["state_dict"], spec, path, module)
    module.load_state_dict({key: checkpoint["state_dict"][key] for key in body_keys(module, spec.head(module))},
                           strict=False)  # fmt: skip
    spec.replace_head(module, len(classes), head)
    return Classifier(
        module, spec, head, classes, _normalised(data, spec.mean, spec.std), settings=spec.settings(module)
    )


def _refuse_unfit(state_dict: dict, spec, source: object, module: nn.Module) -> None:
    """PetsError unless a state dict holds every tensor of `module`'s body in its shape (its head's may differ or be
    missing), naming the first that does not (the sources stage checked the same against archs.tsv, without a
    model)."""
    why = body_mismatch(module, spec.head(module), {key: tensor.shape for key, tensor in state_dict.items()})
    if why:
        raise PetsError(f"{source}: these weights do not fit {spec.name}{look_like(state_dict, spec.name)} ({why})")


def body_keys(module: nn.Module, head: nn.Module) -> list[str]:
    """The state-dict keys of `module` outside its head."""
    in_head = {id(tensor) for tensor in head.state_dict(keep_vars=True).values()}
    return [key for key, tensor in module.state_dict(keep_vars=True).items() if id(tensor) not in in_head]


def body_mismatch(module: nn.Module, head: nn.Module, shapes: dict) -> str | None:
    """Why a state dict's tensors (`shapes`: key -> shape) cannot be the body of `module`, or None when they can: it
    must have each tensor of the body in its shape, and no tensor the model has not (another arch's deeper body
    holds every tensor of a shallower one: resnet34's, resnet18's); the head's may differ, or be missing."""
    expected = module.state_dict()
    for key in body_keys(module, head):
        if key not in shapes:
            return f"no tensor {key}"
        if tuple(shapes[key]) != tuple(expected[key].shape):
            return f"{key} is {list(shapes[key])}, the model's {list(expected[key].shape)}"
    unknown = [key for key in shapes if key not in expected]
    if unknown:
        return f"{len(unknown)} tensor(s) the model has not, e.g. {unknown[0]}"
    return None
