"""fast.ai's recipe in one file: the phases (frozen body, then unfrozen with discriminative rates), the optimizer,
the one-cycle schedule and how BatchNorm behaves, each a function of the Classifier and params.yaml's `train`
section. fastai's own ways that this project measured and left off by default (bench/levers.py) are options of that
section, so a user or the bench switches them with a param."""

import math

import numpy as np
import torch

from pets.config.settings import Train
from pets.model.classifier import Classifier
from pets.model.freezing import freeze_batchnorm_stats, set_body_frozen


def phases(train: Train, pretrained: bool) -> list[tuple[str, bool, int, list[float]]]:
    """(name, body frozen?, epochs, peak learning rate per layer group) of each training phase; a body that is not
    `pretrained` has nothing to keep, so everything trains from the start."""
    n_groups = train.body_groups + 1
    low, high = train.lr_unfrozen
    spread = np.geomspace(low, high, n_groups).tolist()
    first = ("frozen", True, train.epochs, [0.0] * train.body_groups + [train.lr])
    if not pretrained:
        first = ("all", False, train.epochs, [train.lr] * n_groups)
    return [first, ("unfrozen", False, train.epochs_unfrozen, spread)]


def set_phase(classifier: Classifier, train: Train, frozen: bool) -> None:
    set_body_frozen(classifier, frozen, train_bn=train.train_bn and frozen)


def make_optimizer(classifier: Classifier, train: Train, peak_lrs: list[float]) -> torch.optim.AdamW:
    """AdamW with one parameter group per layer group, each at its own peak rate; groups at 0 are left out, but
    with `train_bn` their trainable (BatchNorm) parameters learn at the head's rate. Without `decay_bn_bias`, each
    group's 1-d tensors go into a group of their own without weight decay."""
    groups = []
    for params, lr in zip(classifier.layer_groups(train.body_groups, train.group_by), peak_lrs):
        if lr > 0:
            groups.append({"params": params, "lr": lr})
        elif train.train_bn and (trainable := [p for p in params if p.requires_grad]):
            groups.append({"params": trainable, "lr": peak_lrs[-1]})
    if not train.decay_bn_bias:
        groups = [
            part
            for group in groups
            for part in (
                {**group, "params": [p for p in group["params"] if p.ndim > 1]},
                {**group, "params": [p for p in group["params"] if p.ndim <= 1], "weight_decay": 0.0},
            )
            if part["params"]
        ]
    return adamw(groups, betas=(train.momentum[0], 0.999), weight_decay=train.weight_decay)


def adamw(params, **options) -> torch.optim.AdamW:
    """AdamW's fused kernel (CPU and CUDA alike), not PyTorch's default on the CPU, a Python loop over the tensors:
    a resnet18's step in about a sixth of the time there, the same update to float rounding (bench/optimizer.py)."""
    return torch.optim.AdamW(params, fused=True, **options)


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


def body_is_fixed(train: Train, frozen: bool) -> bool:
    """Whether a phase leaves the body as it is, weights and BatchNorm statistics: frozen, without `train_bn`
    (train_mode then keeps the frozen body's BatchNorm layers in eval mode)."""
    return frozen and not train.train_bn


def train_mode(classifier: Classifier, train: Train, frozen: bool) -> None:
    """Training mode, but BatchNorm keeps the pretrained statistics where the recipe says so: in the frozen body
    (unless `train_bn`), and with `batchnorm_stats: pretrained` in the unfrozen one too (batches of a small set are
    poor estimates)."""
    classifier.module.train()
    if not (frozen and train.train_bn):
        freeze_batchnorm_stats(classifier, everywhere=classifier.pretrained and train.batchnorm_stats == "pretrained")
