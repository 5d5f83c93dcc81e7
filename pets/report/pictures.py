"""Pictures people would rather look at than read: image grids, the confusion matrix, the curves. No torch: the
evaluate stage draws them from the scores train wrote (the training batches are pets.report.batches')."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from pets.report.grid import image_grid, save_figure, thumbnail


def changed_images(changes, raw, path, *, a, b, per_kind=9, side=160):
    """The images one run gets right and the other wrong (pets.report.compare.changed), fixed ones first, each
    titled with its label and both predictions, from the dataset folder `raw`; the number of images drawn (those
    whose file is there)."""
    picked = [c for c in changes if c[0] == "fixed"][:per_kind] + [c for c in changes if c[0] == "broken"][:per_kind]
    images, titles, colours = [], [], []
    for kind, row_a, row_b in picked:
        image = thumbnail(Path(raw) / row_a["file"], side)
        if image is None:
            continue
        images.append(image)
        titles.append(f"{kind}: {row_a['label']}\n{a}: {row_a['predicted']} / {b}: {row_b['predicted']}")
        colours.append("green" if kind == "fixed" else "red")
    if images:
        heading = f"validation images {b} gets right and {a} wrong (fixed, green), and the other way (broken, red)"
        image_grid(images, titles, path, heading=heading, colours=colours)
    return len(images)


def confusion_matrix(predicted, labels, classes, path):
    """Counts of actual (rows) against predicted (columns), readable at 37 classes."""
    n = len(classes)
    matrix = np.zeros((n, n), dtype=int)
    np.add.at(matrix, (np.asarray(labels), np.asarray(predicted)), 1)
    side = max(5.0, 0.32 * n + 2)
    figure, ax = plt.subplots(figsize=(side, side))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), classes, rotation=90, fontsize=7)
    ax.set_yticks(range(n), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(
                j,
                i,
                count,
                ha="center",
                va="center",
                fontsize=6,
                color="white" if count > matrix.max() / 2 else "black",
            )
    ax.set_title("confusion matrix")
    figure.tight_layout()
    save_figure(figure, path)


def training_curves(history, path):
    """fast.ai's `plot_loss` and more: training and validation loss, and the error rate, per epoch, with the
    epochs of each phase (frozen, unfrozen, ...) shaded and named."""
    epochs = [row["epoch"] for row in history]
    figure, (losses, errors) = plt.subplots(1, 2, figsize=(10, 4))
    losses.plot(epochs, [row["train_loss"] for row in history], marker="o", label="train_loss")
    losses.plot(epochs, [row["valid_loss"] for row in history], marker="o", label="valid_loss")
    errors.plot(epochs, [row["error_rate"] for row in history], marker="o", color="tab:red", label="error_rate")
    phases = [
        (row["phase"], row["epoch"])
        for i, row in enumerate(history)
        if i == 0 or row["phase"] != history[i - 1]["phase"]
    ]
    ends = [start - 1 for _, start in phases[1:]] + [epochs[-1] if epochs else 0]
    for ax, ylabel in ((losses, "loss"), (errors, "validation error rate")):
        for (phase, start), end, shade in zip(phases, ends, ("tab:blue", "tab:orange", "tab:green")):
            ax.axvspan(start - 0.5, end + 0.5, color=shade, alpha=0.08)
            ax.text((start + end) / 2, 1.01, phase, transform=ax.get_xaxis_transform(), ha="center", fontsize=8)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_xticks(epochs)
        ax.legend()
    figure.tight_layout()
    save_figure(figure, path)


def lr_curve(rates, losses, suggested, path):
    """The learning-rate finder's smoothed loss against the rate (log axis), with the suggestions marked."""
    figure, ax = plt.subplots(figsize=(6, 4))
    ax.plot(rates, losses)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("smoothed loss")
    for (name, rate), colour in zip(suggested.items(), ("red", "green")):
        ax.axvline(rate, color=colour, linestyle="--", label=f"{name}: {rate:.1e}")
    ax.legend()
    figure.tight_layout()
    save_figure(figure, path)
