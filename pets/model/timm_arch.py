"""timm's models by name, for pets.model.archs: head and normalisation through timm's own API, ImageNet weights from
the Hugging Face hub's cache (or a package, offline), layer groups at the model's stages. A module of its own so that
a torchvision model's stages never import timm."""

import contextlib
import socket
import urllib.parse
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import timm
import torch
from timm.models import group_parameters

from pets.data.augment import IMAGENET_MEAN, IMAGENET_STD
from pets.errors import PetsError
from pets.model import packaged
from pets.model.heads import FastaiHead
from pets.model.parts import OFFLINE_WEIGHTS, body_parameters, equal_runs, load_into


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
