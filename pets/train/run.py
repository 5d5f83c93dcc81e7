"""One training run of the train stage, in this process (one of torchrun's when there are several): the model
params.yaml describes, trained on the pixel cache from where an interrupted run stopped, then scored once on every
split with the model still on its device; what the outputs of the stage are made of."""

import contextlib

from pets.config import layout
from pets.config.params import check_unchanged
from pets.config.settings import Params
from pets.data.loader import CachedSplit
from pets.data.presets import Preprocess
from pets.inference.calibration import model_temperature
from pets.inference.forward import score_splits
from pets.inference.probe import features_by_split, head_inputs
from pets.inference.scores import write_scores
from pets.model.build import build_model
from pets.model.checkpoint import save_classifier
from pets.runtime import distributed
from pets.runtime.profile import runtime
from pets.train.loop import fit, seed_everything
from pets.train.resume import Resume, fingerprint


def train_run(params: Params) -> None:
    """Train as params.yaml says, in this process alone or as one of torchrun's (on this machine or another); process
    0 writes models/model.pt, models/scores.npz, the per-epoch log and the pictures, the others nothing."""
    settings = params.train
    if distributed.under_torchrun():
        active = runtime(distributed.worker_threads(), device=distributed.start())
    else:
        active = runtime(params.threads)
    main_process, processes = distributed.is_main(), distributed.world()[1]
    log = print if main_process else (lambda line: None)
    train_split, valid_split = CachedSplit(layout.CACHE, "train"), CachedSplit(layout.CACHE, "valid")
    manifest, classes = train_split.manifest, train_split.manifest["classes"]
    if main_process:  # matplotlib and dvclive: process 0's alone, imported there
        from pets.report.batches import show_batch
        from pets.train.epoch_log import log_epoch, open_epoch_log

        show_batch(train_split, params.size, settings.augment, classes, layout.SHOW_BATCH, seed=settings.seed)
        show_batch(valid_split, params.size, None, classes, layout.SHOW_VALID, seed=settings.seed)
    machines = f", {settings.nodes} machines" if settings.nodes > 1 else ""
    log(
        f"train: {params.arch} ({params.value('weights')} weights) on {processes} x {active.device.type}{machines} "
        f"({active.threads} CPU threads each), {len(train_split)} images"
    )
    seed_everything(settings.seed)  # the head's initial weights come from this seed, the same in every process
    classifier = build_model(
        params.arch, classes, params.weights, Preprocess.of_cache(manifest, params.size), head=settings.head
    )
    run = fingerprint(params, layout.CACHE)
    distributed.refuse_differing(run)  # every machine with the same params, data and code
    resume = Resume(run, params.arch, classes)
    resumed = distributed.from_main(resume.load(classifier.module, log) if main_process else None)  # 0's workspace
    if resumed and not main_process:
        classifier.module.load_state_dict(resumed["model"])
    epoch_log = open_epoch_log(resumed["history"] if resumed else ()) if main_process else contextlib.nullcontext()
    with epoch_log as live:

        def after_epoch(history, optimizer, schedule):
            if len(history) < settings.epochs + settings.epochs_unfrozen:  # after the last, the outputs follow
                resume.save(classifier.module, optimizer, schedule, history)  # first: the log is rebuilt from it
            log_epoch(live, history[-1])

        history = fit(
            classifier,
            train_split=train_split,
            valid_split=valid_split,
            settings=settings,
            runtime=active,
            log=log,
            resumed=resumed,
            after_epoch=after_epoch,
        )
    distributed.stop()  # what follows is process 0's alone, on whole splits
    if main_process:
        check_unchanged(params, "train")
        write_outputs(classifier, manifest=manifest, history=history, seed=settings.seed, runtime=active, log=log)
        resume.finish()


def write_outputs(classifier, *, manifest: dict, history: list, seed: int, runtime, log) -> None:
    """After training: every split scored once with the model on its device (and the body's features of the training
    images kept for the audit), the temperature fitted, then models/model.pt, models/scores.npz and the curves."""
    from pets.report.pictures import training_curves

    with head_inputs(classifier) as found:
        scores = score_splits(classifier, layout.CACHE, runtime.exact().activate())
    labels = {name: split["labels"] for name, split in manifest["splits"].items()}
    features = features_by_split(found, {name: len(split) for name, split in labels.items()})
    classifier.temperature = model_temperature(scores, labels, log)
    save_classifier(layout.MODEL, classifier)
    write_scores(layout.SCORES, scores, manifest["classes"], classifier.temperature, features["train"], seed)
    training_curves(history, layout.CURVES)
