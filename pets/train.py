"""The training loop: fast.ai's fit_one_cycle with a frozen body, then unfreeze with discriminative rates."""

import contextlib
import math
import time
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from pets import distributed
from pets.augment import Augment, normalize_, train_view, valid_view
from pets.errors import PetsError
from pets.loader import batches
from pets.models import freeze_batchnorm_stats, layer_groups, set_body_frozen
from pets.progress import progress
from pets.sharing import queue_slot


TIMINGS = ("images_per_s", "seconds")  # the columns of fit's history that measure speed: they vary run to run


@dataclass
class Recipe:
    arch: str
    size: int
    batch_size: int
    epochs: int
    epochs_unfrozen: int
    lr: float
    lr_unfrozen: tuple
    body_groups: int
    weight_decay: float
    batchnorm_stats: str
    augment: Augment
    pretrained: bool
    seed: int = 42

    @classmethod
    def from_params(cls, params):
        """The recipe params.yaml describes (its top-level size and weights, and the train section)."""
        p = params["train"]
        return cls(arch=params["arch"], size=params["size"], batch_size=p["batch_size"], epochs=p["epochs"],
                   epochs_unfrozen=p["epochs_unfrozen"], lr=p["lr"], lr_unfrozen=tuple(p["lr_unfrozen"]),
                   body_groups=p["body_groups"], weight_decay=p["weight_decay"],
                   batchnorm_stats=p["batchnorm_stats"], augment=Augment(**p["augment"]),
                   pretrained=params["weights"] != "none", seed=p["seed"])


def device_default():
    """The CPU, or the GPU of this run's DVC queue slot (GPU 0 when run alone)."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", queue_slot()[0] % torch.cuda.device_count())


def use_threads(threads):
    """Run torch's and OpenCV's CPU work on `threads` threads."""
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


def fastest_kernels(device):
    """On CUDA, cuDNN times its convolution algorithms once per input shape and keeps the fastest: shapes are fixed
    here (square images, full batches), so the timing pays for itself within the first epoch."""
    torch.backends.cudnn.benchmark = device.type == "cuda"
    return device


def seed_everything(seed):
    """Every random draw of training (head initialisation, dropout) comes from torch's seeded generator."""
    torch.manual_seed(seed)


def epoch_seed(seed, epoch, rank=0):
    """The seed of one epoch's draws (shuffle, augmentation, dropout) in one process: a function of the run's
    seed, the epoch and the rank alone, so that a run resumed after any epoch draws what an uninterrupted one does."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0])


def autocast(device):
    """bf16 autocast on CUDA; plain fp32 elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_device(batch, labels, device):
    return batch.to(device, non_blocking=True), labels.to(device, non_blocking=True)


def model_layout(images, device):
    """channels_last on CUDA, where convolutions in bf16 are fastest in it."""
    return images.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else images


def prepare_input(images, mean, std, device):
    """Normalise float images of a plain view (in place) for the model."""
    return model_layout(normalize_(images, mean, std), device)


@torch.no_grad()
def validate(model, valid_split, size, mean, std, device, batch_size):
    """(mean loss, error rate) on a CachedSplit; one host sync at the end."""
    model.eval()
    loss_sum, wrong = torch.zeros((), device=device), torch.zeros((), device=device)
    loader = batches(valid_split, batch_size, shuffle=False, pin_memory=device.type == "cuda")
    for batch, labels in loader:
        batch, labels = to_device(batch, labels, device)
        with autocast(device):
            logits = model(prepare_input(valid_view(batch, size), mean, std, device)).float()
        loss_sum += F.cross_entropy(logits, labels, reduction="sum")
        wrong += (logits.argmax(1) != labels).sum()
    totals = distributed.sum_across(torch.stack([loss_sum, wrong.float()])).tolist()
    return totals[0] / len(valid_split), totals[1] / len(valid_split)


def phases(recipe):
    """(name, body frozen?, epochs, peak learning rate per layer group) of each training phase."""
    n_groups = recipe.body_groups + 1
    low, high = recipe.lr_unfrozen
    spread = np.geomspace(low, high, n_groups).tolist()
    first = ("frozen", True, recipe.epochs, [0.0] * recipe.body_groups + [recipe.lr])
    if not recipe.pretrained:  # nothing to freeze: everything trains at `lr` from the start
        first = ("all", False, recipe.epochs, [recipe.lr] * n_groups)
    return [first, ("unfrozen", False, recipe.epochs_unfrozen, spread)]


def make_optimizer(model, arch, peak_lrs, body_groups, weight_decay):
    """AdamW with one parameter group per layer group, each at its own peak rate; groups at 0 are left out."""
    groups = [{"params": params, "lr": lr}
              for params, lr in zip(layer_groups(model, arch, body_groups), peak_lrs) if lr > 0]
    return torch.optim.AdamW(groups, weight_decay=weight_decay)


def one_cycle(optimizer, total_steps, warmup=0.25, start=1 / 25, end=1e-5):
    """fast.ai's one-cycle as a factor on each group's peak rate: cosine up from `start` over the first
    `warmup` share of the steps, then cosine down to `end`. Any number of steps works, even one."""
    warm_steps = max(1, round(warmup * total_steps))

    def factor(step):
        if step < warm_steps:
            low, high, done = start, 1.0, step / warm_steps
        else:
            low, high, done = 1.0, end, (step - warm_steps) / max(1, total_steps - warm_steps - 1)
        return high + (low - high) * (1 + math.cos(math.pi * min(done, 1.0))) / 2

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_mode(model, recipe):
    """Training mode, but BatchNorm keeps the pretrained statistics where the recipe says so: in the frozen body,
    and with `batchnorm_stats: pretrained` in the unfrozen one too (batches of a small set are poor estimates)."""
    model.train()
    freeze_batchnorm_stats(model, everywhere=recipe.pretrained and recipe.batchnorm_stats == "pretrained")


def training_step(model, batch, labels, optimizer, recipe, mean, std, device, generator):
    """Augment a uint8 batch on the device, take one optimizer step; return the loss (still on the device)."""
    batch, labels = to_device(batch, labels, device)
    images = model_layout(train_view(batch, recipe.size, recipe.augment, mean, std, generator), device)
    with autocast(device):
        loss = F.cross_entropy(model(images).float(), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss


def train_epoch(model, loader, optimizer, schedule, recipe, mean, std, device, generator, description):
    """One pass over the training batches; return the mean training loss (the epoch's one host sync)."""
    train_mode(model, recipe)
    loss_sum, seen = torch.zeros((), device=device), 0
    for batch, labels in progress(loader, desc=description, unit=" batch", leave=False):
        loss = training_step(model, batch, labels, optimizer, recipe, mean, std, device, generator)
        schedule.step()
        loss_sum += loss.detach() * len(labels)
        seen += len(labels)
    loss_sum, seen = distributed.sum_across(torch.stack([loss_sum, torch.tensor(float(seen), device=device)])).tolist()
    return loss_sum / seen


def fit(model, train_split, valid_split, recipe, mean, std, device, log=print, resumed=None, after_epoch=None):
    """Train `model` in place; return one row per epoch (phase, losses, error rate, lr, images/s, seconds).

    resumed: the state a Resume loaded (the model already holds its weights); training goes on after its epoch.
    after_epoch(history, optimizer, schedule) is called in the main process after every epoch.
    """
    if recipe.batch_size > len(train_split):
        raise PetsError(f"train.batch_size ({recipe.batch_size}) is larger than the training set "
                        f"({len(train_split)} images); lower it")
    model.to(device)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    rank, processes = distributed.world()
    generator = torch.Generator(device=device)
    steps_per_epoch = len(batches(train_split, recipe.batch_size, shuffle=True))
    history = list(resumed["history"]) if resumed else []
    last = 0  # the last epoch of the phases so far
    for phase, frozen, epochs, peak_lrs in phases(recipe):
        first, last = last + 1, last + epochs
        if len(history) >= last:  # no epochs, or all done before the run was interrupted
            continue
        set_body_frozen(model, recipe.arch, frozen)
        net = DistributedDataParallel(model) if processes > 1 else model  # anew per phase: it syncs what trains
        optimizer = make_optimizer(model, recipe.arch, peak_lrs, recipe.body_groups, recipe.weight_decay)
        schedule = one_cycle(optimizer, epochs * steps_per_epoch)
        if len(history) >= first:  # interrupted in this phase
            optimizer.load_state_dict(resumed["optimizer"])
            schedule.load_state_dict(resumed["schedule"])
        for epoch in range(len(history) + 1, last + 1):
            seed = epoch_seed(recipe.seed, epoch, rank)
            seed_everything(seed)
            generator.manual_seed(seed)
            loader = batches(train_split, recipe.batch_size, shuffle=True, seed=epoch_seed(recipe.seed, epoch),
                             pin_memory=device.type == "cuda")
            started = time.perf_counter()
            try:
                train_loss = train_epoch(net, loader, optimizer, schedule, recipe, mean, std, device, generator,
                                         f"epoch {epoch} ({phase})")
            except torch.OutOfMemoryError:
                raise PetsError(f"out of GPU memory in epoch {epoch} at train.batch_size {recipe.batch_size}; "
                                f"try -S train.batch_size={max(1, recipe.batch_size // 2)} or a smaller size") from None
            if not math.isfinite(train_loss):
                raise PetsError(f"the training loss became {train_loss} in epoch {epoch} ({phase} phase); "
                                f"try a lower learning rate (train.lr or train.lr_unfrozen)")
            train_seconds = time.perf_counter() - started
            valid_loss, error_rate = validate(model, valid_split, recipe.size, mean, std, device,
                                              recipe.batch_size * 2)
            history.append({"epoch": epoch, "phase": phase, "train_loss": round(train_loss, 6),
                            "valid_loss": round(valid_loss, 6), "error_rate": round(error_rate, 6),
                            "lr": optimizer.param_groups[-1]["lr"],
                            "images_per_s": round(len(loader) * recipe.batch_size * processes / train_seconds, 1),
                            "seconds": round(time.perf_counter() - started, 2)})
            if distributed.is_main():
                if after_epoch:
                    after_epoch(history, optimizer, schedule)
                log(f"epoch {epoch} ({phase}): train_loss {train_loss:.4f} valid_loss {valid_loss:.4f} "
                    f"error_rate {error_rate:.4f} in {history[-1]['seconds']:.1f}s")
    set_body_frozen(model, recipe.arch, False)
    return history
