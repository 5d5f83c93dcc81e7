"""Stage train: fine-tune `arch` on the pixel cache; writes models/model.pt, the per-epoch log metrics/training/
(dvclive) and the pictures. After every epoch models/resume.pt lets an interrupted run go on from there.

With train.devices > 1 the stage runs itself again under torchrun, one process per device.
"""

import contextlib

from pets import distributed
from pets.archs import resolve
from pets.epoch_log import log_epoch, open_epoch_log
from pets.errors import report_errors
from pets.loader import CachedSplit
from pets.models import build_model, save_checkpoint
from pets.params import check_unchanged, load_params
from pets.pictures import show_batch, training_curves
from pets.resume import Resume, fingerprint
from pets.sharing import thread_budget
from pets.train import Recipe, device_default, fastest_kernels, fit, seed_everything, use_threads


@report_errors
def main():
    params = load_params()
    p = params["train"]
    resolve(params["arch"]).check_size(params["size"])
    processes = distributed.device_count(p["devices"])
    if processes > 1 and not distributed.under_torchrun():
        distributed.relaunch_under_torchrun(processes, "stages.train")
    device = fastest_kernels(distributed.start() if distributed.under_torchrun() else device_default())
    threads = max(1, thread_budget(params["threads"]) // processes)
    use_threads(threads)
    main_process = distributed.is_main()
    log = print if main_process else (lambda line: None)
    train_split, valid_split = CachedSplit("data/cache", "train"), CachedSplit("data/cache", "valid")
    manifest, classes = train_split.manifest, train_split.manifest["classes"]
    recipe = Recipe.from_params(params)
    if main_process:
        show_batch(train_split, params["size"], recipe.augment, classes, "metrics/show_batch.png", seed=p["seed"])
        show_batch(valid_split, params["size"], None, classes, "metrics/show_valid.png", seed=p["seed"])
    log(f"train: {params['arch']} ({params['weights']} weights) on {processes} x {device.type} "
        f"({threads} CPU threads each), {len(train_split)} images")
    seed_everything(p["seed"])  # the head's initial weights come from this seed, the same in every process
    model, mean, std = build_model(params["arch"], classes, params["weights"], manifest["mean"], manifest["std"])
    resume = Resume(fingerprint(params, "data/cache"), params["arch"], classes)
    resumed = resume.load(model, log)
    epoch_log = open_epoch_log(resumed["history"] if resumed else ()) if main_process else contextlib.nullcontext()
    with epoch_log as live:
        def after_epoch(history, optimizer, schedule):
            resume.save(model, optimizer, schedule, history)  # first: the log is rebuilt from it on resume
            log_epoch(live, history[-1])

        history = fit(model, train_split, valid_split, recipe, mean, std, device, log, resumed, after_epoch)
    if main_process:
        check_unchanged(params, "train")
        save_checkpoint("models/model.pt", model, arch=params["arch"], classes=classes, size=params["size"],
                        mean=mean, std=std, resolution=manifest["resolution"], resize=manifest["resize"])
        training_curves(history, "metrics/curves.png")
        resume.finish()
    distributed.stop()


if __name__ == "__main__":
    main()
