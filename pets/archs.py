"""Architectures by name from torchvision or timm: build, swap the head, cut the body into layer groups.

A name is looked up in torchvision first (so `resnet34` is torchvision's), then in timm; `timm/<name>`
asks for timm's model of that name explicitly (`timm/resnet34`).
"""

import difflib
import functools

import numpy as np
import timm
import torchvision
from timm.models import group_parameters
from torch import nn

from pets.augment import IMAGENET_MEAN, IMAGENET_STD
from pets.errors import PetsError

TIMM_PREFIX = "timm/"
# The torchvision families this project builds, each with what its builder needs: without ImageNet weights, no
# auxiliary classifiers (their extra outputs in training mode; the builder drops them after loading weights), and
# for a model made for one input size (its position embeddings, its grid), that size.
WITHOUT_AUXILIARY = {"aux_logits": False, "init_weights": False}
TORCHVISION_FAMILIES = {
    "alexnet": {}, "convnext": {}, "densenet": {}, "efficientnet": {}, "googlenet": {"random_init": WITHOUT_AUXILIARY},
    "inception": {"random_init": WITHOUT_AUXILIARY}, "maxvit": {"fixed_size": lambda size: {"input_size": (size, size)}},
    "mnasnet": {}, "mobilenet": {}, "regnet": {}, "resnet": {}, "resnext": {}, "shufflenet": {}, "squeezenet": {},
    "swin": {}, "vgg": {}, "vit": {"fixed_size": lambda size: {"image_size": size}}, "wide_resnet": {},
}


@functools.cache
def torchvision_archs():
    return tuple(torchvision.models.list_models(module=torchvision.models))


def torchvision_family(arch):
    """The family of a torchvision classifier's name (resnet for resnet18, vit for vit_b_16), or None."""
    return next((family for family in sorted(TORCHVISION_FAMILIES, key=len, reverse=True)
                 if arch.startswith(family)), None)


def resolve(arch):
    """The Arch that builds the model named `arch`; an unknown name is refused with the closest names."""
    if arch.startswith(TIMM_PREFIX) and timm.is_model(arch[len(TIMM_PREFIX):]):
        return TimmArch(arch, arch[len(TIMM_PREFIX):])
    if arch in torchvision_archs():
        if torchvision_family(arch) is None:
            raise PetsError(f"params.yaml: arch {arch} is of a torchvision family this project does not know yet; "
                            f"known: {', '.join(TORCHVISION_FAMILIES)}")
        return TorchvisionArch(arch)
    if timm.is_model(arch):
        return TimmArch(arch, arch)
    name = arch.removeprefix(TIMM_PREFIX)
    close = difflib.get_close_matches(name, torchvision_archs(), n=3, cutoff=0.6)
    close += [f"{TIMM_PREFIX}{m}" if m in torchvision_archs() else m
              for m in difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)]
    hint = f"did you mean {', '.join(dict.fromkeys(close))}?" if close else \
        "see torchvision.models.list_models() and timm.list_models()"
    raise PetsError(f"params.yaml: arch {arch!r} is neither a torchvision classification model nor a timm model; {hint}")


def body_parameters(model, head):
    ids = {id(p) for p in head.parameters()}
    return [p for p in model.parameters() if id(p) not in ids]


class TorchvisionArch:
    """torchvision's classifiers: the head is the last Linear layer (squeezenet's: its last 1x1 convolution)."""

    library = "torchvision"
    mean, std = IMAGENET_MEAN, IMAGENET_STD

    def __init__(self, name):
        self.name = name
        family = TORCHVISION_FAMILIES[torchvision_family(name)]
        self.least_size = torchvision.models.get_model_weights(name).DEFAULT.meta["min_size"][0]
        self.fixed_size = self.least_size if "fixed_size" in family else None
        self.size_settings = family["fixed_size"](self.fixed_size) if self.fixed_size else {}
        self.random_init_settings = family.get("random_init", {})

    def create(self, num_classes=None, weights=None):
        settings = {**self.size_settings, **(self.random_init_settings if weights is None else {})}
        return torchvision.models.get_model(self.name, weights=weights, **settings,
                                            **({"num_classes": num_classes} if num_classes else {}))

    def check_size(self, size):
        """Refuse a size the architecture cannot take: below its smallest (inception_v3: 75), or, for a model
        made for one input size (ViT, MaxViT), any other."""
        if self.fixed_size and size != self.fixed_size:
            raise PetsError(f"params.yaml: size is {size}, but {self.name} takes {self.fixed_size}x{self.fixed_size} "
                            f"images only; set size: {self.fixed_size}")
        if size < self.least_size:
            raise PetsError(f"params.yaml: size is {size}, but {self.name} takes images of at least "
                            f"{self.least_size}x{self.least_size}")

    def head_name(self, model):
        names = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)] or \
                [name for name, module in model.named_modules() if isinstance(module, nn.Conv2d)]
        return names[-1]

    def head(self, model):
        return model.get_submodule(self.head_name(model))

    def replace_head(self, model, num_classes):
        name, old = self.head_name(model), self.head(model)
        parent, _, attribute = name.rpartition(".")
        new = nn.Linear(old.in_features, num_classes) if isinstance(old, nn.Linear) else \
            nn.Conv2d(old.in_channels, num_classes, kernel_size=1)
        setattr(model.get_submodule(parent) if parent else model, attribute, new)
        return model

    def body_groups(self, model, n_groups):
        """The body's parameter tensors cut into `n_groups` runs of equal length, first layers first."""
        body = body_parameters(model, self.head(model))
        if n_groups > len(body):
            raise PetsError(f"params.yaml: train.body_groups is {n_groups}, but {self.name}'s body has only "
                            f"{len(body)} parameter tensors")
        return [[body[i] for i in cut] for cut in np.array_split(np.arange(len(body)), n_groups)]


class TimmArch:
    """timm's models: head and normalisation through timm's own API, layer groups at the model's stages."""

    library = "timm"

    def __init__(self, name, timm_name):
        self.name, self.timm_name = name, timm_name
        config = timm.models.get_pretrained_cfg(timm_name)
        self.config = config.to_dict() if config else {}
        self.mean = tuple(self.config.get("mean", IMAGENET_MEAN))
        self.std = tuple(self.config.get("std", IMAGENET_STD))

    def create(self, num_classes=None, **kwargs):
        return timm.create_model(self.timm_name, **({"num_classes": num_classes} if num_classes else {}), **kwargs)

    def check_size(self, size):
        input_size = self.config.get("input_size", (3, size, size))[1:]
        if self.config.get("fixed_input_size") and tuple(input_size) != (size, size):
            raise PetsError(f"params.yaml: {self.name} takes {input_size[0]}x{input_size[1]} images only; "
                            f"set size: {input_size[0]} (and cache.resolution at least that)")

    def head(self, model):
        return model.get_classifier()

    def replace_head(self, model, num_classes):
        model.reset_classifier(num_classes)
        return model

    def body_groups(self, model, n_groups):
        """The body cut into `n_groups` runs of whole stages (timm's coarse groups: stem, each stage, ...),
        each cut placed at the stage boundary nearest to an equal share of the body's parameters."""
        head = {id(p) for p in self.head(model).parameters()}
        named = dict(model.named_parameters())
        stages = [[named[name] for name in names if id(named[name]) not in head]
                  for names in group_parameters(model, model.group_matcher(coarse=True)).values()]
        stages = [stage for stage in stages if stage]
        if n_groups > len(stages):
            raise PetsError(f"params.yaml: train.body_groups is {n_groups}, but {self.name}'s body has only "
                            f"{len(stages)} stages")
        sizes = np.cumsum([sum(p.numel() for p in stage) for stage in stages])
        cuts, previous = [], 0
        for k in range(1, n_groups):
            nearest = int(np.abs(sizes[:-1] - sizes[-1] * k / n_groups).argmin()) + 1
            previous = min(max(nearest, previous + 1), len(stages) - (n_groups - k))
            cuts.append(previous)
        return [sum(stages[start:stop], []) for start, stop in zip([0, *cuts], [*cuts, len(stages)])]
