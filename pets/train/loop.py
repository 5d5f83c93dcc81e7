"""The training loop: fast.ai's fit_one_cycle with a frozen body, then unfreeze with discriminative rates. Every
device choice comes from the Runtime it is given; the recipe's pieces from pets.train.recipe."""

import math
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from pets.data.augment import train_view
from pets.data.loader import CachedSplit, batches
from pets.data.presets import Preprocess
from pets.errors import PetsError
from pets.inference import forward
from pets.progress import image_batches
from pets.runtime import distributed
from pets.runtime.profile import Runtime
from pets.train.recipe import OneCycle, Recipe, make_optimizer, phases, set_phase, train_mode

TIMINGS = ("images_per_s", "seconds")  # the columns of fit's history that measure speed: they vary run to run


def seed_everything(seed: int) -> None:
    """Every random draw of training (head initialisation, dropout) comes from torch's seeded generator."""
    torch.manual_seed(seed)


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """The seed of one epoch's draws (shuffle, augmentation, dropout) in one process: a function of the run's
    seed, the epoch and the rank alone, so that a run resumed after any epoch draws what an uninterrupted one does."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0])


def validate(
    model: nn.Module, valid_split: CachedSplit, preprocess: Preprocess, runtime: Runtime
) -> tuple[float, float]:
    """(mean loss, error rate) on a CachedSplit, summed over every process's shard; one host sync at the end."""
    log_probs, labels = forward.split_log_probabilities(model, valid_split, preprocess, runtime)
    totals = torch.stack(
        [F.nll_loss(log_probs, labels, reduction="sum"), (log_probs.argmax(1) != labels).sum().float()]
    )
    totals = distributed.sum_across(totals).tolist()
    return totals[0] / len(valid_split), totals[1] / len(valid_split)


def training_step(
    model: nn.Module,
    batch: torch.Tensor,
    labels: torch.Tensor,
    *,
    optimizer: torch.optim.Optimizer,
    recipe: Recipe,
    preprocess: Preprocess,
    runtime: Runtime,
    generator: torch.Generator,
) -> torch.Tensor:
    """Augment a uint8 batch on the device, take one optimizer step; return the loss (float32, still on the device)."""
    batch, labels = runtime.to_device(batch, labels)
    images = train_view(
        batch, recipe.size, recipe.augment, preprocess.mean, preprocess.std, generator, runtime.augment_backend
    )
    with runtime.autocast():
        logits = model(runtime.input_layout(images))
    loss = F.cross_entropy(logits.float(), labels)  # in float32 whatever autocast ran the model in
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss


def train_epoch(model, loader, *, optimizer, schedule, recipe, preprocess, runtime, generator, frozen, description):
    """One pass over the training batches; return the mean training loss (the epoch's one host sync)."""
    train_mode(model.module if isinstance(model, DistributedDataParallel) else model, recipe, frozen)
    loss_sum, seen = torch.zeros((), device=runtime.device), 0
    for batch, labels in image_batches(loader, description):
        loss = training_step(
            model,
            batch,
            labels,
            optimizer=optimizer,
            recipe=recipe,
            preprocess=preprocess,
            runtime=runtime,
            generator=generator,
        )
        schedule.step()
        loss_sum += loss.detach() * len(labels)
        seen += len(labels)
    totals = torch.stack([loss_sum, torch.tensor(float(seen), device=runtime.device)])
    loss_sum, seen = distributed.sum_across(totals).tolist()
    return loss_sum / seen


def fit(
    model: nn.Module,
    *,
    train_split: CachedSplit,
    valid_split: CachedSplit,
    recipe: Recipe,
    preprocess: Preprocess,
    runtime: Runtime,
    log: Callable[[str], None] = print,
    resumed: dict | None = None,
    after_epoch: Callable | None = None,
) -> list[dict]:
    """Train `model` in place; return one row per epoch (phase, losses, error rate, lr, images/s, seconds).

    resumed: the state a Resume loaded (the model already holds its weights); training goes on after its epoch.
    after_epoch(history, optimizer, schedule) is called in the main process after every epoch.
    """
    if recipe.batch_size > len(train_split):
        raise PetsError(
            f"train.batch_size ({recipe.batch_size}) is larger than the training set "
            f"({len(train_split)} images); lower it"
        )
    runtime.place(model)
    rank, processes = distributed.world()
    generator = torch.Generator(device=runtime.device)
    steps_per_epoch = len(batches(train_split, recipe.batch_size, shuffle=True))
    history = list(resumed["history"]) if resumed else []
    last = 0  # the last epoch of the phases so far
    for phase, frozen, epochs, peak_lrs in phases(recipe):
        first, last = last + 1, last + epochs
        if len(history) >= last:  # no epochs, or all done before the run was interrupted
            continue
        set_phase(model, recipe, frozen)
        # Anew per phase: it syncs what trains. find_unused_parameters keeps DDP's gradient buckets in their first
        # layout: DDP otherwise regroups them after a wrapper's first step, and with three or more processes the
        # order of the all-reduce's sums changes the last bits, so a run resumed mid-phase (a new wrapper) would
        # part from an uninterrupted one (tests/test_interruptions.py).
        net = DistributedDataParallel(model, find_unused_parameters=True) if processes > 1 else model
        optimizer = make_optimizer(model, recipe, peak_lrs)
        schedule = OneCycle(optimizer, epochs * steps_per_epoch, recipe.momentum)
        if len(history) >= first:  # interrupted in this phase
            optimizer.load_state_dict(resumed["optimizer"])
            schedule.load_state_dict(resumed["schedule"])
        for epoch in range(len(history) + 1, last + 1):
            seed = epoch_seed(recipe.seed, epoch, rank)
            seed_everything(seed)
            generator.manual_seed(seed)
            loader = batches(
                train_split,
                recipe.batch_size,
                shuffle=True,
                seed=epoch_seed(recipe.seed, epoch),
                pin_memory=runtime.pin_memory,
            )
            started = time.perf_counter()
            try:
                train_loss = train_epoch(
                    net,
                    loader,
                    optimizer=optimizer,
                    schedule=schedule,
                    recipe=recipe,
                    preprocess=preprocess,
                    runtime=runtime,
                    generator=generator,
                    frozen=frozen,
                    description=f"epoch {epoch} ({phase})",
                )
            except torch.OutOfMemoryError:
                raise PetsError(
                    f"out of GPU memory in epoch {epoch} at train.batch_size {recipe.batch_size}; "
                    f"try -S train.batch_size={max(1, recipe.batch_size // 2)} or a smaller size"
                ) from None
            if not math.isfinite(train_loss):
                raise PetsError(
                    f"the training loss became {train_loss} in epoch {epoch} ({phase} phase); "
                    f"try a lower learning rate (train.lr or train.lr_unfrozen)"
                )
            train_seconds = time.perf_counter() - started
            valid_loss, error_rate = validate(model, valid_split, preprocess, runtime)
            history.append(
                {
                    "epoch": epoch,
                    "phase": phase,
                    "train_loss": round(train_loss, 6),
                    "valid_loss": round(valid_loss, 6),
                    "error_rate": round(error_rate, 6),
                    "lr": optimizer.param_groups[-1]["lr"],
                    "images_per_s": round(len(loader) * recipe.batch_size * processes / train_seconds, 1),
                    "seconds": round(time.perf_counter() - started, 2),
                }
            )
            if distributed.is_main():
                if after_epoch:
                    after_epoch(history, optimizer, schedule)
                log(
                    f"epoch {epoch} ({phase}): train_loss {train_loss:.4f} valid_loss {valid_loss:.4f} "
                    f"error_rate {error_rate:.4f} in {history[-1]['seconds']:.1f}s"
                )
    set_phase(model, recipe, False)
    return history
