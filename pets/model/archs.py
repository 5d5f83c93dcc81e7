"""Architectures by name from torchvision or timm: build, load ImageNet weights, swap the head, cut the body into
layer groups.

A name is looked up in torchvision first (so `resnet34` is torchvision's), then in timm; `timm/<name>` asks for
timm's model of that name explicitly (`timm/resnet34`). Which names exist, and what sizes and layer groups each
takes, is in pets/config/archs.tsv, so params are checked without importing model code; `python -m
pets.model.archs` writes that table from the installed libraries.
"""

import contextlib
import difflib
import functools
import os
import socket
import sys
import urllib.parse
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import timm
import torch
import torchvision
from timm.models import group_parameters
from torch import nn

from pets.atomic import write_text
from pets.config import archs as table
from pets.data.augment import IMAGENET_MEAN, IMAGENET_STD
from pets.errors import PetsError
from pets.model import packaged
from pets.model.heads import FastaiHead

OFFLINE_WEIGHTS = (
    "offline, use -S arch=tf_efficientnet_lite0 (or _lite1, _lite2: ImageNet weights from a package), "
    "-S weights=none, or -S weights=<path of a state dict>"
)
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


def resolve(arch: str) -> "TorchvisionArch | TimmArch":
    """The Arch that builds the model named `arch`; an unknown name is refused with the closest names."""
    facts = table.lookup(arch)
    if facts is None:
        raise PetsError(table.unknown(arch))
    if facts.library == "torchvision":
        return TorchvisionArch(arch)
    return TimmArch(arch, arch.removeprefix(table.TIMM_PREFIX))


def _hub_host():
    return urllib.parse.urlparse(huggingface_hub.constants.ENDPOINT).hostname


def _hub_reachable(timeout=5.0):
    """Whether the Hugging Face hub takes a connection at all (one try, seconds at most)."""
    try:
        socket.create_connection((_hub_host(), 443), timeout=timeout).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def _hub_offline():
    previous, huggingface_hub.constants.HF_HUB_OFFLINE = huggingface_hub.constants.HF_HUB_OFFLINE, True
    try:
        yield
    finally:
        huggingface_hub.constants.HF_HUB_OFFLINE = previous


def load_into(model: nn.Module, state_dict: dict, source: object, arch: str) -> None:
    """Load `state_dict` into `model`, or one line saying why these weights do not fit `arch`."""
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as error:
        first = str(error).splitlines()[1].strip() if len(str(error).splitlines()) > 1 else str(error)
        raise PetsError(f"{source}: these weights do not fit {arch}{look_like(state_dict, arch)} ({first})") from None


BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def look_like(state_dict, arch):
    """', they look like weights of X or Y': of the archs whose body has as many parameter tensors as these weights
    less a one-layer head (archs.tsv), the three names closest to `arch`; '' when none has."""
    tensors = sum(1 for key in state_dict if not key.endswith(BUFFERS)) - 2
    alike = [facts.name for library in table.rows().values() for facts in library.values() if facts.tensors == tensors]
    if not alike:
        return ""
    closest = difflib.get_close_matches(arch, alike, n=3, cutoff=0)
    return f", they look like weights of {' or '.join(closest)} ({tensors} parameter tensors besides the head)"


def body_parameters(model: nn.Module, head: nn.Module) -> list[nn.Parameter]:
    ids = {id(p) for p in head.parameters()}
    return [p for p in model.parameters() if id(p) not in ids]


def equal_runs(parameters, n_groups):
    """Parameter tensors cut into `n_groups` runs of equal length, first layers first."""
    return [[parameters[i] for i in cut] for cut in np.array_split(np.arange(len(parameters)), n_groups)]


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


class TimmArch:
    """timm's models: head and normalisation through timm's own API, layer groups at the model's stages."""

    library = "timm"

    def __init__(self, name, timm_name):
        self.name, self.timm_name = name, timm_name
        config = timm.models.get_pretrained_cfg(timm_name)
        self.config = config.to_dict() if config else {}
        self.mean = tuple(self.config.get("mean", IMAGENET_MEAN))
        self.std = tuple(self.config.get("std", IMAGENET_STD))
        input_size = self.config.get("input_size", (3, 0, 0))[1:]
        self.fixed_size = input_size[0] if self.config.get("fixed_input_size") else None
        self.least_size = None

    def create(self, num_classes=None, **kwargs):
        return timm.create_model(self.timm_name, **({"num_classes": num_classes} if num_classes else {}), **kwargs)

    def settings(self, model):
        """None: what a timm model does is all in its name and tensors."""
        return {}

    def imagenet_model(self):
        """The 1000-class model with timm's ImageNet weights from the Hugging Face hub cache (downloaded into it when
        missing); tf_efficientnet_lite0, 1 and 2's from their packages, offline."""
        if self.timm_name in packaged.PACKAGES:
            model = self.create()
            source = f"the {packaged.PACKAGES[self.timm_name].name} package's weights"
            load_into(model, packaged.imagenet_state_dict(self.timm_name), source, self.name)
            return model
        hub = bool(self.config.get("hf_hub_id"))
        where = (
            f"{huggingface_hub.constants.HF_HUB_CACHE} ({self.config.get('hf_hub_id')})"
            if hub
            else Path(torch.hub.get_dir()) / "checkpoints"
        )
        if hub and not huggingface_hub.constants.HF_HUB_OFFLINE:
            # the cache first, offline; then the network only if the hub answers at all: offline, huggingface_hub
            # would retry for a minute before the error below
            try:
                with _hub_offline():
                    return self.create(pretrained=True)
            except (OSError, RuntimeError, ValueError):
                pass
            if not _hub_reachable():
                raise PetsError(
                    f"ImageNet weights for {self.name} are not in {where} and {_hub_host()} cannot be reached; "
                    f"{OFFLINE_WEIGHTS}"
                )
        try:
            return self.create(pretrained=True)
        except (OSError, RuntimeError, ValueError) as error:  # network, cache and hub errors alike
            raise PetsError(
                f"ImageNet weights for {self.name} are not in {where} and could not be downloaded "
                f"({type(error).__name__}); {OFFLINE_WEIGHTS}"
            ) from None

    def head(self, model):
        return model.get_classifier()

    def replace_head(self, model, num_classes, head="linear"):
        """A new Linear head (timm's own), or fastai's head on the unpooled features."""
        if head == "linear":
            model.reset_classifier(num_classes)
            return model
        classifier = self.config.get("classifier", "")
        if not classifier or "." in classifier:
            raise PetsError(
                f"the fastai head needs a model whose classifier follows its pooling; {self.name}'s "
                f"is {classifier or 'not named'}"
            )
        model.reset_classifier(0, global_pool="")
        setattr(model, classifier, FastaiHead(model.num_features, num_classes))
        return model

    def stages(self, model):
        """The body's parameters by timm's coarse groups (stem, each stage, ...), empty ones left out; None for a
        model that names no groups."""
        if not hasattr(model, "group_matcher"):
            return None
        head = {id(p) for p in self.head(model).parameters()}
        named = dict(model.named_parameters())
        stages = [
            [named[name] for name in names if id(named[name]) not in head]
            for names in group_parameters(model, model.group_matcher(coarse=True)).values()
        ]
        return [stage for stage in stages if stage]

    def body_groups(self, model, n_groups, group_by="stages"):
        """The body cut into `n_groups` runs of whole stages, each cut placed at the stage boundary nearest to an
        equal share of the body's parameters; with `group_by: count`, runs of equally many parameter tensors."""
        stages = self.stages(model)
        if group_by == "count" or stages is None:  # the schema refuses `stages` for a model without them
            return equal_runs(body_parameters(model, self.head(model)), n_groups)
        sizes = np.cumsum([sum(p.numel() for p in stage) for stage in stages])
        cuts, previous = [], 0
        for k in range(1, n_groups):
            nearest = int(np.abs(sizes[:-1] - sizes[-1] * k / n_groups).argmin()) + 1
            previous = min(max(nearest, previous + 1), len(stages) - (n_groups - k))
            cuts.append(previous)
        return [sum(stages[start:stop], []) for start, stop in zip([0, *cuts], [*cuts, len(stages)])]


def build(spec, num_classes, head="linear", settings=None):
    """A new `spec` model for `num_classes` classes with a `head` (linear | fastai), its weights random."""
    if head == "linear":
        return spec.create(num_classes, **(settings or {}))
    return spec.replace_head(spec.create(**(settings or {})), num_classes, head)


def facts(spec):
    """The table's row of one Arch: its sizes and how many layer groups its body allows (the model built on the meta
    device, without memory or weights, where its builder allows that)."""
    try:
        with torch.device("meta"):
            model = spec.create()
    except (NotImplementedError, RuntimeError):  # a builder that reads tensor values (regnet's widths)
        model = spec.create()
    stages = spec.stages(model)
    return table.ArchFacts(
        spec.library,
        spec.name,
        spec.fixed_size,
        spec.least_size,
        None if stages is None else len(stages),
        len(body_parameters(model, spec.head(model))),
    )


def installed_archs():
    """Every arch name this installation can build: torchvision's classifiers of the known families, timm's models
    (as timm/<name> where torchvision has the name too)."""
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
