"""Stage train: fine-tune `arch` on the pixel cache; writes models/model.pt, metrics/train_log.tsv and curves.png.

With train.devices > 1 the stage runs itself again under torchrun, one process per device.
"""

from pets import distributed
from pets.atomic import write_text
from pets.errors import report_errors
from pets.loader import CachedSplit
from pets.archs import resolve
from pets.models import build_model, save_checkpoint
from pets.params import check_unchanged, load_params
from pets.pictures import show_batch, training_curves
from pets.train import Recipe, device_default, fit, seed_everything


@report_errors
def main():
    params = load_params()
    p = params["train"]
    resolve(params["arch"]).check_size(params["size"])
    processes = distributed.device_count(p["devices"])
    if processes > 1 and not distributed.under_torchrun():
        distributed.relaunch_under_torchrun(processes, "stages.train")
    device = distributed.start() if distributed.under_torchrun() else device_default()
    train_split, valid_split = CachedSplit("data/cache", "train"), CachedSplit("data/cache", "valid")
    manifest, classes = train_split.manifest, train_split.manifest["classes"]
    recipe = Recipe.from_params(params)
    if distributed.is_main():
        show_batch(train_split, params["size"], recipe.augment, classes, "metrics/show_batch.png", seed=p["seed"])
        show_batch(valid_split, params["size"], None, classes, "metrics/show_valid.png", seed=p["seed"])
        print(f"train: {params['arch']} ({params['weights']} weights) on {processes} x {device.type}, "
              f"{len(train_split)} images")
    seed_everything(p["seed"])  # the head's initial weights come from this seed, the same in every process
    model, mean, std = build_model(params["arch"], classes, params["weights"], manifest["mean"], manifest["std"])
    history = fit(model, train_split, valid_split, recipe, mean, std, device)
    if distributed.is_main():
        check_unchanged(params, "train")
        save_checkpoint("models/model.pt", model, arch=params["arch"], classes=classes, size=params["size"],
                        mean=mean, std=std, resolution=manifest["resolution"], resize=manifest["resize"])
        columns = list(history[0]) if history else ["epoch"]
        write_text("metrics/train_log.tsv", "\n".join(
            ["\t".join(columns)] + ["\t".join(str(row[c]) for c in columns) for row in history]) + "\n")
        training_curves(history, "metrics/curves.png")
    distributed.stop()


if __name__ == "__main__":
    main()
