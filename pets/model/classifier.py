"""What a model is, in one object: the network, its architecture, its head, its classes, how its input is prepared
and the temperature that calibrates it. Building, training, checkpoints, evaluation, export and prediction all take
and give a Classifier, so nothing about a model is looked up again by name or lost on the way to disk."""

from dataclasses import dataclass, field

from torch import nn

from pets.data.presets import Preprocess
from pets.model.archs import Arch
from pets.model.parts import body_parameters


@dataclass
class Classifier:
    module: nn.Module
    arch: Arch
    head: str  # linear | fastai (pets.model.heads)
    classes: list[str]
    preprocess: Preprocess
    temperature: float = 1.0  # the logits are divided by it for calibrated probabilities (pets.inference.calibration)
    # the builder's settings no tensor holds (TorchvisionArch.SETTINGS): a rebuilt model needs them to be the same
    settings: dict = field(default_factory=dict)
    pretrained: bool = True  # its body holds trained weights, so training starts with it frozen (pets.train.recipe)

    @property
    def name(self) -> str:
        """The arch's name as params.yaml gives it."""
        return self.arch.name

    @property
    def head_module(self) -> nn.Module:
        return self.arch.head(self.module)

    def body_parameters(self) -> list[nn.Parameter]:
        return body_parameters(self.module, self.head_module)

    def layer_groups(self, n_body_groups: int, group_by: str = "stages") -> list[list[nn.Parameter]]:
        """Parameter lists, first layers first: the body cut into `n_body_groups` groups, then the head."""
        return self.arch.body_groups(self.module, n_body_groups, group_by) + [list(self.head_module.parameters())]

    def new_head(self, classes: list[str], head: str) -> None:
        """A new `head` for `classes`, keeping the body."""
        self.arch.replace_head(self.module, len(classes), head)
        self.classes, self.head = list(classes), head
