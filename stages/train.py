"""Stage train: fine-tune `arch` on the pixel cache; writes models/model.pt, the per-epoch log metrics/training/
(dvclive) and the pictures. After every epoch models/resume.pt lets an interrupted run go on from there.

With train.devices > 1 the stage runs itself again under torchrun, one process per device. A run dies with the dvc
command that started it, and a second one of the same workspace is refused while the first runs
(pets.runtime.lifetime).
"""

import contextlib

from pets.config import layout
from pets.config.params import check_unchanged, load_params
from pets.data.loader import CachedSplit
from pets.data.presets import Preprocess
from pets.errors import report_errors
from pets.inference.calibration import model_temperature
from pets.model.build import build_model
from pets.model.checkpoint import save_classifier
from pets.report.pictures import show_batch, training_curves
from pets.runtime import distributed, lifetime
from pets.runtime.profile import runtime
from pets.train.epoch_log import log_epoch, open_epoch_log
from pets.train.loop import fit, seed_everything
from pets.train.resume import Resume, fingerprint


@report_errors
def main():
    params = load_params()
    processes = distributed.device_count(params.train.devices)
    if distributed.under_torchrun():  # one of the processes run_under_torchrun started
        lifetime.die_with_parent()
        return train(params, processes)
    lifetime.exit_with_dvc()
    with lifetime.RunLock(layout.TRAIN_LOCK):
        if processes > 1:
            return distributed.run_under_torchrun(processes, "stages.train")
        return train(params, processes)


def train(params, processes):
    settings = params.train
    active = runtime(params.threads, processes, distributed.start() if distributed.under_torchrun() else None)
    main_process = distributed.is_main()
    log = print if main_process else (lambda line: None)
    train_split, valid_split = CachedSplit(layout.CACHE, "train"), CachedSplit(layout.CACHE, "valid")
    manifest, classes = train_split.manifest, train_split.manifest["classes"]
    if main_process:
        show_batch(train_split, params.size, settings.augment, classes, layout.SHOW_BATCH, seed=settings.seed)
        show_batch(valid_split, params.size, None, classes, layout.SHOW_VALID, seed=settings.seed)
    log(
        f"train: {params.arch} ({params.value('weights')} weights) on {processes} x {active.device.type} "
        f"({active.threads} CPU threads each), {len(train_split)} images"
    )
    seed_everything(settings.seed)  # the head's initial weights come from this seed, the same in every process
    classifier = build_model(
        params.arch, classes, params.weights, Preprocess.of_cache(manifest, params.size), head=settings.head
    )
    resume = Resume(fingerprint(params, layout.CACHE), params.arch, classes)
    resumed = resume.load(classifier.module, log)
    epoch_log = open_epoch_log(resumed["history"] if resumed else ()) if main_process else contextlib.nullcontext()
    with epoch_log as live:

        def after_epoch(history, optimizer, schedule):
            resume.save(classifier.module, optimizer, schedule, history)  # first: the log is rebuilt from it on resume
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
    distributed.stop()  # what follows is process 0's alone, on the whole validation split
    if main_process:
        check_unchanged(params, "train")
        classifier.temperature = model_temperature(classifier, active, layout.CACHE, log)
        save_classifier(layout.MODEL, classifier)
        training_curves(history, layout.CURVES)
        resume.finish()


if __name__ == "__main__":
    main()
