"""fast.ai's learning-rate range test: an exponential sweep of the rate over mini-batches until the loss explodes."""

import itertools
import math
import time
from pathlib import Path

import numpy as np
import torch

from pets.atomic import write_json, write_text
from pets.config import layout
from pets.config.params import load_params
from pets.data.loader import CachedSplit, batches
from pets.data.presets import Preprocess
from pets.errors import PetsError
from pets.model.build import build_model
from pets.report.pictures import lr_curve
from pets.runtime.profile import runtime
from pets.train.loop import seed_everything, training_step
from pets.train.recipe import adamw, set_phase, train_mode


def _endless(split, batch_size, seed):
    for epoch in itertools.count():
        yield from batches(split, batch_size, shuffle=True, seed=seed + epoch)


def lr_range_test(
    classifier, split, *, settings, runtime, frozen, start=1e-7, end=10.0, iterations=100, beta=0.98, log=print
):
    """(rates, smoothed losses) of an exponential sweep from `start` to `end`, stopped when the loss explodes;
    `log` gets a line at each tenth of the iterations. settings: params.yaml's `train` section."""
    runtime.place(classifier.module)
    set_phase(classifier, settings, frozen)
    train_mode(classifier, settings, frozen)
    optimizer = adamw(
        [p for p in classifier.module.parameters() if p.requires_grad], lr=start, weight_decay=settings.weight_decay
    )
    generator = torch.Generator(device=runtime.device).manual_seed(settings.seed)
    rates, smoothed, average, best = [], [], 0.0, math.inf
    loader = zip(range(iterations), _endless(split, settings.batch_size, settings.seed))
    tenth, started = max(1, iterations // 10), time.monotonic()
    for step, (batch, labels) in loader:
        rate = start * (end / start) ** (step / max(1, iterations - 1))
        for group in optimizer.param_groups:
            group["lr"] = rate
        loss = training_step(
            classifier,
            classifier.module,
            batch,
            labels,
            optimizer=optimizer,
            augment=settings.augment,
            runtime=runtime,
            generator=generator,
        )
        average = beta * average + (1 - beta) * loss.item()  # one sync per step: the sweep needs every loss
        value = average / (1 - beta ** (step + 1))
        if not math.isfinite(value) or value > 4 * best:
            break
        best = min(best, value)
        rates.append(rate)
        smoothed.append(value)
        if (step + 1) % tenth == 0:
            seconds = time.monotonic() - started
            speed, left = (step + 1) * settings.batch_size / seconds, seconds * (iterations / (step + 1) - 1)
            log(
                f"lr_find: {step + 1}/{iterations} batches, lr {rate:.2e}, loss {value:.4f} "
                f"({speed:.0f} img/s, ETA {left:.0f} s)"
            )
    return rates, smoothed


def suggestions(rates, losses):
    """fast.ai's two suggestions: the rate of steepest descent, and the rate of the lowest loss divided by 10."""
    if len(rates) < 3:
        raise PetsError("the loss exploded within the first few batches; nothing to suggest")
    log_rates, losses = np.log10(rates), np.asarray(losses)
    steepest = int(np.argmin(np.gradient(losses, log_rates)))
    return {"steepest": float(rates[steepest]), "minimum/10": float(rates[int(np.argmin(losses))] / 10)}


def run_lr_find(phase, out, iterations):
    """Run the test with params.yaml's model and training settings; write the curve (lr_find.tsv, lr_find.png)
    and the suggestions (lr_find.json) to `out`."""
    if Path(out).exists() and not Path(out).is_dir():
        raise PetsError(f"--out {out} is a file: name a folder for lr_find.tsv, lr_find.png and lr_find.json")
    params = load_params()
    split = CachedSplit(layout.CACHE, "train")
    seed_everything(params.train.seed)
    classifier = build_model(
        params.arch,
        split.manifest["classes"],
        params.weights,
        Preprocess.of_cache(split.manifest, params.size),
        head=params.train.head,
    )
    rates, losses = lr_range_test(
        classifier,
        split,
        settings=params.train,
        runtime=runtime(params.threads),
        frozen=phase == "frozen" and classifier.pretrained,
        iterations=iterations,
    )
    suggested = suggestions(rates, losses)
    out = Path(out)
    write_json(out / "lr_find.json", suggested)
    write_text(
        out / "lr_find.tsv", "lr\tloss\n" + "".join(f"{rate:.6g}\t{loss:.6f}\n" for rate, loss in zip(rates, losses))
    )
    lr_curve(rates, losses, suggested, out / "lr_find.png")
    print(
        "lr_find: "
        + ", ".join(f"{name} {rate:.2e}" for name, rate in suggested.items())
        + f" (curve in {out / 'lr_find.png'})"
    )
    return suggested
