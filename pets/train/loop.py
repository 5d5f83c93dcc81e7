"""The training loop: fast.ai's fit_one_cycle with a frozen body, then unfreeze with discriminative rates. Every
device choice comes from the Runtime it is given; the recipe's pieces from pets.train.recipe."""

import math
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pets.config.settings import Train
from pets.data.augment import train_view
from pets.data.loader import CachedSplit, batches
from pets.errors import PetsError
from pets.model.classifier import Classifier
from pets.progress import image_batches
from pets.runtime import distributed
from pets.runtime.profile import Runtime
from pets.train.recipe import OneCycle, body_is_fixed, make_optimizer, phases, set_phase, train_mode
from pets.train.validation import Validation

TIMINGS = ("images_per_s", "seconds")  # the columns of fit's history that measure speed: they vary run to run


def seed_everything(seed: int) -> None:
    """Every random draw of training (head initialisation, dropout) comes from torch's seeded generator."""
    torch.manual_seed(seed)


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """The seed of one epoch's draws (shuffle, augmentation, dropout) in one process: a function of the run's
    seed, the epoch and the rank alone, so that a run resumed after any epoch draws what an uninterrupted one does."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0])


def training_step(
    classifier: Classifier,
    net: nn.Module,
    batch: torch.Tensor,
    labels: torch.Tensor,
    *,
    optimizer: torch.optim.Optimizer,
    augment,
    runtime: Runtime,
    generator: torch.Generator,
) -> torch.Tensor:
    """Augment a uint8 batch on the device, take one optimizer step of `net` (the classifier's module, or its
    DistributedDataParallel wrapper); return the loss (float32, still on the device)."""
    batch, labels = runtime.to_device(batch, labels)
    preprocess = classifier.preprocess
    images = train_view(
        batch, preprocess.size, augment, preprocess.mean, preprocess.std, generator, runtime.augment_backend
    )
    with runtime.autocast():
        logits = net(runtime.input_layout(images))
    loss = F.cross_entropy(logits.float(), labels)  # in float32 whatever autocast ran the model in
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss


class Phase:
    """One phase of the recipe as it trains: the network to step (wrapped for several processes), its optimizer and
    one-cycle schedule; `resumed` holds their states when the run was stopped within this phase."""

    def __init__(self, classifier, settings, *, frozen, peak_lrs, total_steps, exact, resumed=None):
        set_phase(classifier, settings, frozen)
        self.frozen, self.net = frozen, distributed.wrap(classifier.module, exact)
        self.optimizer = make_optimizer(classifier, settings, peak_lrs)
        self.schedule = OneCycle(self.optimizer, total_steps, settings.momentum)
        if resumed:
            self.optimizer.load_state_dict(resumed["optimizer"])
            self.schedule.load_state_dict(resumed["schedule"])


def train_epoch(classifier, phase, loader, *, settings, runtime, generator, description):
    """One pass over the training batches; return the mean training loss (the epoch's one host sync)."""
    train_mode(classifier, settings, phase.frozen)
    loss_sum, seen = torch.zeros((), device=runtime.device), 0
    for batch, labels in image_batches(loader, description):
        loss = training_step(
            classifier,
            phase.net,
            batch,
            labels,
            optimizer=phase.optimizer,
            augment=settings.augment,
            runtime=runtime,
            generator=generator,
        )
        phase.schedule.step()
        loss_sum += loss.detach() * len(labels)
        seen += len(labels)
    totals = distributed.sum_across(torch.stack([loss_sum, torch.tensor(float(seen), device=runtime.device)]))
    loss_sum, seen = totals.tolist()
    return loss_sum / seen


def run_epoch(classifier, phase, epoch, name, *, settings, train_split, validation, runtime, generator) -> dict:
    """Train one epoch and validate; return its row of the history. Its draws come from epoch_seed alone."""
    rank, processes = distributed.world()
    seed = epoch_seed(settings.seed, epoch, rank)
    seed_everything(seed)
    generator.manual_seed(seed)
    loader = batches(
        train_split,
        settings.batch_size,
        shuffle=True,
        seed=epoch_seed(settings.seed, epoch),
        pin_memory=runtime.pin_memory,
    )
    started = time.perf_counter()
    try:
        train_loss = train_epoch(
            classifier,
            phase,
            loader,
            settings=settings,
            runtime=runtime,
            generator=generator,
            description=f"epoch {epoch} ({name})",
        )
    except torch.OutOfMemoryError:
        raise PetsError(
            f"out of GPU memory in epoch {epoch} at train.batch_size {settings.batch_size}; "
            f"try -S train.batch_size={max(1, settings.batch_size // 2)} or a smaller size"
        ) from None
    if not math.isfinite(train_loss):
        raise PetsError(
            f"the training loss became {train_loss} in epoch {epoch} ({name} phase); "
            "try a lower learning rate (train.lr or train.lr_unfrozen)"
        )
    train_seconds = time.perf_counter() - started
    valid_loss, error_rate = validation()
    return {
        "epoch": epoch,
        "phase": name,
        "train_loss": round(train_loss, 6),
        "valid_loss": round(valid_loss, 6),
        "error_rate": round(error_rate, 6),
        "lr": phase.optimizer.param_groups[-1]["lr"],
        "images_per_s": round(len(loader) * settings.batch_size * processes / train_seconds, 1),
        "seconds": round(time.perf_counter() - started, 2),
    }


def epoch_line(row: dict) -> str:
    return (
        f"epoch {row['epoch']} ({row['phase']}): train_loss {row['train_loss']:.4f} valid_loss "
        f"{row['valid_loss']:.4f} error_rate {row['error_rate']:.4f} in {row['seconds']:.1f}s"
    )


def fit(
    classifier: Classifier,
    *,
    train_split: CachedSplit,
    valid_split: CachedSplit,
    settings: Train,
    runtime: Runtime,
    log: Callable[[str], None] = print,
    resumed: dict | None = None,
    after_epoch: Callable | None = None,
) -> list[dict]:
    """Train the classifier in place with params.yaml's `train` settings; return one row per epoch (phase, losses,
    error rate, lr, images/s, seconds).

    resumed: the state a Resume loaded (the model already holds its weights); training goes on after its epoch.
    after_epoch(history, optimizer, schedule) is called in the main process after every epoch.
    """
    if settings.batch_size > len(train_split):
        raise PetsError(
            f"train.batch_size ({settings.batch_size}) is larger than the training set "
            f"({len(train_split)} images); lower it"
        )
    runtime.place(classifier.module)
    generator = torch.Generator(device=runtime.device)
    steps_per_epoch = len(batches(train_split, settings.batch_size, shuffle=True))
    history, last = list(resumed["history"]) if resumed else [], 0  # last: the last epoch of the phases so far
    for name, frozen, epochs, peak_lrs in phases(settings, classifier.pretrained):
        first, last = last + 1, last + epochs
        if len(history) >= last:  # no epochs, or all done before the run was interrupted
            continue
        within = resumed if len(history) >= first else None  # stopped within this phase: its states go on
        phase = Phase(classifier, settings, frozen=frozen, peak_lrs=peak_lrs, total_steps=epochs * steps_per_epoch,
                      exact=runtime.exact_reduction, resumed=within)  # fmt: skip
        validation = Validation(classifier, valid_split, runtime, body_is_fixed(settings, frozen))
        for epoch in range(len(history) + 1, last + 1):
            history.append(
                run_epoch(
                    classifier,
                    phase,
                    epoch,
                    name,
                    settings=settings,
                    train_split=train_split,
                    validation=validation,
                    runtime=runtime,
                    generator=generator,
                )
            )
            if distributed.is_main():
                if after_epoch:
                    after_epoch(history, phase.optimizer, phase.schedule)
                log(epoch_line(history[-1]))
    set_phase(classifier, settings, False)
    return history
