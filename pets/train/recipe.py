"""fast.ai's recipe in one file: the phases (frozen body, then unfrozen with discriminative rates), the optimizer,
the one-cycle schedule and how BatchNorm behaves. fastai's own ways that this project measured and left off by
default (bench/levers.py) are options of the Recipe, so a user or the bench switches them with a param."""

import math
from dataclasses import dataclass
from typing import Self

import numpy as np
import torch
from torch import nn

from pets.config.weights import Weights
from pets.data.augment import Augment
from pets.model.freezing import freeze_batchnorm_stats, layer_groups, set_body_frozen


@dataclass(frozen=True)
class Recipe:
    arch: str
    size: int
    batch_size: int
    epochs: int
    epochs_unfrozen: int
    lr: float
    lr_unfrozen: tuple[float, float]
    body_groups: int
    weight_decay: float
    batchnorm_stats: str  # pretrained | batch
    augment: Augment
    pretrained: bool
    seed: int
    momentum: tuple[float, float]  # AdamW's beta1 at the ends and in the middle of each one-cycle
    train_bn: bool  # fastai's train_bn: the frozen body's BatchNorm layers train (at the head's rate)
    head: str  # linear | fastai
    group_by: str  # stages | count: where the body's layer groups are cut
    decay_bn_bias: bool  # false: no weight decay on 1-d tensors (BatchNorm weights, biases), fastai's wd_bn_bias

    @classmethod
    def from_params(cls, params: dict) -> Self:
        """The recipe params.yaml describes (its top-level arch, size and weights, and the train section)."""
        p = params["train"]
        return cls(
            arch=params["arch"],
            size=params["size"],
            batch_size=p["batch_size"],
            epochs=p["epochs"],
            epochs_unfrozen=p["epochs_unfrozen"],
            lr=p["lr"],
            lr_unfrozen=tuple(p["lr_unfrozen"]),
            body_groups=p["body_groups"],
            weight_decay=p["weight_decay"],
            batchnorm_stats=p["batchnorm_stats"],
            augment=Augment(**p["augment"]),
            pretrained=Weights.parse(params["weights"]).pretrained,
            seed=p["seed"],
            momentum=tuple(p["momentum"]),
            train_bn=p["train_bn"],
            head=p["head"],
            group_by=p["group_by"],
            decay_bn_bias=p["decay_bn_bias"],
        )


def phases(recipe: Recipe) -> list[tuple[str, bool, int, list[float]]]:
    """(name, body frozen?, epochs, peak learning rate per layer group) of each training phase."""
    n_groups = recipe.body_groups + 1
    low, high = recipe.lr_unfrozen
    spread = np.geomspace(low, high, n_groups).tolist()
    first = ("frozen", True, recipe.epochs, [0.0] * recipe.body_groups + [recipe.lr])
    if not recipe.pretrained:  # nothing to freeze: everything trains at `lr` from the start
        first = ("all", False, recipe.epochs, [recipe.lr] * n_groups)
    return [first, ("unfrozen", False, recipe.epochs_unfrozen, spread)]


def set_phase(model: nn.Module, recipe: Recipe, frozen: bool) -> None:
    set_body_frozen(model, recipe.arch, frozen, train_bn=recipe.train_bn and frozen)


def make_optimizer(model: nn.Module, recipe: Recipe, peak_lrs: list[float]) -> torch.optim.AdamW:
    """AdamW with one parameter group per layer group, each at its own peak rate; groups at 0 are left out, but
    with `train_bn` their trainable (BatchNorm) parameters learn at the head's rate. Without `decay_bn_bias`, each
    group's 1-d tensors go into a group of their own without weight decay."""
    groups = []
    for params, lr in zip(layer_groups(model, recipe.arch, recipe.body_groups, recipe.group_by), peak_lrs):
        if lr > 0:
            groups.append({"params": params, "lr": lr})
        elif recipe.train_bn and (trainable := [p for p in params if p.requires_grad]):
            groups.append({"params": trainable, "lr": peak_lrs[-1]})
    if not recipe.decay_bn_bias:
        groups = [
            part
            for group in groups
            for part in (
                {**group, "params": [p for p in group["params"] if p.ndim > 1]},
                {**group, "params": [p for p in group["params"] if p.ndim <= 1], "weight_decay": 0.0},
            )
            if part["params"]
        ]
    return torch.optim.AdamW(groups, betas=(recipe.momentum[0], 0.999), weight_decay=recipe.weight_decay)


def cosine_cycle(step: int, total_steps: int, warmup: float, start: float, peak: float, end: float) -> float:
    """fast.ai's one-cycle shape: from `start` to `peak` on a cosine over the first `warmup` share of the steps,
    then to `end` on a cosine. Any number of steps works, even one."""
    warm_steps = max(1, round(warmup * total_steps))
    if step < warm_steps:
        low, high, done = start, peak, step / warm_steps
    else:
        low, high, done = peak, end, (step - warm_steps) / max(1, total_steps - warm_steps - 1)
    return high + (low - high) * (1 + math.cos(math.pi * min(done, 1.0))) / 2


class OneCycle(torch.optim.lr_scheduler.LRScheduler):
    """Each group's rate from peak/25 up to its peak and down to peak/1e5 (fast.ai's one-cycle); AdamW's beta1 the
    other way, from momentum[0] down to momentum[1] and back (the same as a constant when the two are equal). Like
    torch's OneCycleLR, it sets the momentum where it computes the rates."""

    def __init__(self, optimizer, total_steps, momentum, warmup=0.25, start=1 / 25, end=1e-5):
        self.total_steps, self.momentum, self.warmup, self.start, self.end = total_steps, momentum, warmup, start, end
        super().__init__(optimizer)

    def get_lr(self):
        factor = cosine_cycle(self.last_epoch, self.total_steps, self.warmup, self.start, 1.0, self.end)
        high, low = self.momentum
        if high != low:
            beta1 = cosine_cycle(self.last_epoch, self.total_steps, self.warmup, high, low, high)
            for group in self.optimizer.param_groups:
                group["betas"] = (beta1, group["betas"][1])
        return [base * factor for base in self.base_lrs]


def train_mode(model: nn.Module, recipe: Recipe, frozen: bool) -> None:
    """Training mode, but BatchNorm keeps the pretrained statistics where the recipe says so: in the frozen body
    (unless `train_bn`), and with `batchnorm_stats: pretrained` in the unfrozen one too (batches of a small set are
    poor estimates)."""
    model.train()
    if not (frozen and recipe.train_bn):
        freeze_batchnorm_stats(
            model, recipe.arch, everywhere=recipe.pretrained and recipe.batchnorm_stats == "pretrained"
        )
