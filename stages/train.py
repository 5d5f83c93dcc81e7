"""Stage train: fine-tune `arch` on the pixel cache; writes models/model.pt and metrics/train_log.tsv."""

from pets.atomic import write_text
from pets.augment import Augment
from pets.errors import report_errors
from pets.loader import CachedSplit
from pets.models import build_model, check_arch, save_checkpoint
from pets.params import load_params
from pets.pictures import show_batch
from pets.train import Recipe, device_default, fit, seed_everything


@report_errors
def main():
    params = load_params()
    p = params["train"]
    check_arch(params["arch"])
    train_split, valid_split = CachedSplit("data/cache", "train"), CachedSplit("data/cache", "valid")
    manifest = train_split.manifest
    recipe = Recipe(size=params["size"], batch_size=p["batch_size"], epochs=p["epochs"],
                    epochs_unfrozen=p["epochs_unfrozen"], lr=p["lr"], lr_unfrozen=tuple(p["lr_unfrozen"]),
                    body_groups=p["body_groups"], weight_decay=p["weight_decay"], augment=Augment(**p["augment"]),
                    pretrained=params["weights"] != "none", seed=p["seed"], workers=p["workers"])
    classes = manifest["classes"]
    show_batch(train_split, params["size"], recipe.augment, classes, "metrics/show_batch.png", seed=p["seed"])
    show_batch(valid_split, params["size"], None, classes, "metrics/show_valid.png", seed=p["seed"])
    seed_everything(p["seed"])  # the head's initial weights come from this seed
    model, mean, std = build_model(params["arch"], classes, params["weights"],
                                   manifest["mean"], manifest["std"])
    device = device_default()
    print(f"train: {params['arch']} ({params['weights']} weights) on {device}, {len(train_split)} images")
    history = fit(model, train_split, valid_split, recipe, mean, std, device)
    save_checkpoint("models/model.pt", model, arch=params["arch"], classes=classes, size=params["size"], mean=mean,
                    std=std, resolution=manifest["resolution"], resize=manifest["resize"])
    columns = list(history[0]) if history else ["epoch"]
    write_text("metrics/train_log.tsv", "\n".join(
        ["\t".join(columns)] + ["\t".join(str(row[c]) for c in columns) for row in history]) + "\n")


if __name__ == "__main__":
    main()
