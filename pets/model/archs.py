"""Architectures by name from torchvision or timm: build, load ImageNet weights, swap the head, cut the body into
layer groups.

A name is looked up in torchvision first (so `resnet34` is torchvision's), then in timm; `timm/<name>` asks for
timm's model of that name explicitly (`timm/resnet34`). Which names exist, and what sizes and layer groups each
takes, is in pets/config/archs.tsv, so params are checked without importing model code; `python -m
pets.model.archs` writes that table from the installed libraries.
"""

import functools
import os
import sys
from pathlib import Path
from typing import Protocol

import torch
import torchvision
from torch import nn

from pets.atomic import write_text
from pets.config import archs as table
from pets.data.augment import IMAGENET_MEAN, IMAGENET_STD
from pets.errors import PetsError
from pets.model.parts import OFFLINE_WEIGHTS, body_parameters, equal_runs

# The torchvision families this project builds, each with what its builder needs: without ImageNet weights, no
# auxiliary classifiers (their extra outputs in training mode; the builder drops them after loading weights), and
# for a model made for one input size (its position embeddings, its grid), that size.
WITHOUT_AUXILIARY = {"aux_logits": False, "init_weights": False}
TORCHVISION_FAMILIES = {
    "alexnet": {},
    "convnext": {},
    "densenet": {},
    "efficientnet": {},
    "googlenet": {"random_init": WITHOUT_AUXILIARY},
    "inception": {"random_init": WITHOUT_AUXILIARY},
    "maxvit": {"fixed_size": lambda size: {"input_size": (size, size)}},
    "mnasnet": {},
    "mobilenet": {},
    "regnet": {},
    "resnet": {},
    "resnext": {},
    "shufflenet": {},
    "squeezenet": {},
    "swin": {},
    "vgg": {},
    "vit": {"fixed_size": lambda size: {"image_size": size}},
    "wide_resnet": {},
}


@functools.cache
def torchvision_archs():
    return tuple(torchvision.models.list_models(module=torchvision.models))


def torchvision_family(arch):
    """The family of a torchvision classifier's name (resnet for resnet18, vit for vit_b_16), or None."""
    return next(
        (family for family in sorted(TORCHVISION_FAMILIES, key=len, reverse=True) if arch.startswith(family)), None
    )


class Arch(Protocol):
    """What builds one architecture and cuts it into head and body: TorchvisionArch, or timm's models'
    (pets.model.timm_arch.TimmArch)."""

    library: str
    name: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def create(self, num_classes: int | None = None, **settings) -> nn.Module: ...
    def imagenet_model(self) -> nn.Module: ...
    def settings(self, model: nn.Module) -> dict: ...
    def head(self, model: nn.Module) -> nn.Module: ...
    def replace_head(self, model: nn.Module, num_classes: int, head: str = "linear") -> nn.Module: ...
    def body_groups(self, model: nn.Module, n_groups: int, group_by: str = "stages") -> list[list[nn.Parameter]]: ...


def resolve(arch: str) -> Arch:
    """The Arch that builds the model named `arch`; an unknown name is refused with the closest names."""
    facts = table.lookup(arch)
    if facts is None:
        raise PetsError(table.unknown(arch))
    if facts.library == "torchvision":
        return TorchvisionArch(arch)
    from pets.model.timm_arch import TimmArch  # noqa: PLC0415 - timm and the hub's client, for timm's models only

    return TimmArch(arch, arch.removeprefix(table.TIMM_PREFIX))


class TorchvisionArch:
    """torchvision's classifiers: the head is the last Linear layer (squeezenet's: its last 1x1 convolution)."""

    library = "torchvision"
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    # Builder arguments that change the forward pass and live in no tensor: with ImageNet weights, googlenet's and
    # inception_v3's builders set transform_input (it re-normalises the input as Google's weights expect), which a
    # model rebuilt without weights would lack. A checkpoint records them (Classifier.settings).
    SETTINGS = ("transform_input",)

    def __init__(self, name):
        self.name = name
        family = TORCHVISION_FAMILIES[torchvision_family(name)]
        self.least_size = torchvision.models.get_model_weights(name).DEFAULT.meta["min_size"][0]
        self.fixed_size = self.least_size if "fixed_size" in family else None
        self.size_settings = family["fixed_size"](self.fixed_size) if self.fixed_size else {}
        self.random_init_settings = family.get("random_init", {})

    def create(self, num_classes=None, weights=None, **settings):
        settings = {**self.size_settings, **(self.random_init_settings if weights is None else {}), **settings}
        return torchvision.models.get_model(
            self.name, weights=weights, **settings, **({"num_classes": num_classes} if num_classes else {})
        )

    def settings(self, model):
        """The builder settings of `model` that no tensor holds (SETTINGS), to rebuild it as it is."""
        return {name: getattr(model, name) for name in self.SETTINGS if hasattr(model, name)}

    def imagenet_model(self):
        """The 1000-class model with torchvision's ImageNet weights, from the torch hub cache (downloaded into it
        when missing); the builder loads them: auxiliary classifiers in, then out again."""
        weights = torchvision.models.get_model_weights(self.name).DEFAULT
        cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
        try:
            return self.create(weights=weights)
        except (OSError, RuntimeError) as error:  # URLError is an OSError
            raise PetsError(
                f"ImageNet weights for {self.name} are not in {cached} and could not be downloaded ({error}); "
                f"either train from scratch with `dvc exp run -S weights=none`, or place {weights.url} at {cached}; "
                f"{OFFLINE_WEIGHTS}"
            ) from None

    def head_name(self, model):
        names = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)] or [
            name for name, module in model.named_modules() if isinstance(module, nn.Conv2d)
        ]
        return names[-1]

    def head(self, model):
        return model.get_submodule(self.head_name(model))

    def replace_head(self, model, num_classes, head="linear"):
        if head != "linear":
            raise PetsError(f"the {head} head is for timm models; {self.name} is torchvision's")
        name, old = self.head_name(model), self.head(model)
        parent, _, attribute = name.rpartition(".")
        new = (
            nn.Linear(old.in_features, num_classes)
            if isinstance(old, nn.Linear)
            else nn.Conv2d(old.in_channels, num_classes, kernel_size=1)
        )
        setattr(model.get_submodule(parent) if parent else model, attribute, new)
        return model

    def stages(self, model):
        """None: torchvision's models name no stages."""
        return None

    def body_groups(self, model, n_groups, group_by="stages"):
        """The body's parameter tensors cut into `n_groups` runs of equal length (torchvision models name no
        stages, so both ways of grouping are this one)."""
        return equal_runs(body_parameters(model, self.head(model)), n_groups)


def build(spec, num_classes, head="linear", settings=None):
    """A new `spec` model for `num_classes` classes with a `head` (linear | fastai), its weights random."""
    if head == "linear":
        return spec.create(num_classes, **(settings or {}))
    return spec.replace_head(spec.create(**(settings or {})), num_classes, head)


def facts(spec):
    """The table's row of one Arch: its sizes, how many layer groups its body allows, and which state dicts its body
    takes (the model built on the meta device, without memory or weights, where its builder allows that)."""
    try:
        with torch.device("meta"):
            model = spec.create()
    except (NotImplementedError, RuntimeError):  # a builder that reads tensor values (regnet's widths)
        model = spec.create()
    stages, head = spec.stages(model), spec.head(model)
    prefix = next(name for name, module in model.named_modules() if module is head)
    shapes = {key: tensor.shape for key, tensor in model.state_dict().items()}
    return table.ArchFacts(
        spec.library,
        spec.name,
        spec.fixed_size,
        spec.least_size,
        None if stages is None else len(stages),
        len(body_parameters(model, head)),
        prefix,
        table.body_signature(shapes, prefix),
    )


def installed_archs():
    """Every arch name this installation can build: torchvision's classifiers of the known families, timm's models
    (as timm/<name> where torchvision has the name too)."""
    import timm  # noqa: PLC0415

    from pets.model.timm_arch import TimmArch  # noqa: PLC0415

    torchvision_names = [name for name in torchvision_archs() if torchvision_family(name)]
    specs = [TorchvisionArch(name) for name in torchvision_names]
    specs += [
        TimmArch(f"{table.TIMM_PREFIX}{name}" if name in torchvision_archs() else name, name)
        for name in timm.list_models()
    ]
    return specs


def write_table(path=table.PATH):
    """Write the table of every installed arch that builds as a classifier; the others are printed and left out."""
    rows = []
    for spec in installed_archs():
        try:
            rows.append(facts(spec))
        except Exception as error:  # noqa: BLE001 - an encoder without a classifier, a builder that needs arguments
            print(f"left out {spec.name}: {type(error).__name__}: {str(error)[:100]}")
    header = f"# {table.versions()}: written by python -m pets.model.archs\n"
    write_text(path, header + "\n".join(table.row_text(row) for row in rows) + "\n")
    return rows


if __name__ == "__main__":
    print(f"{len(write_table(Path(sys.argv[1]) if len(sys.argv) > 1 else table.PATH))} archs written")
