"""Pictures people would rather look at than read: image grids and the confusion matrix."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from pets.atomic import atomic_path  # noqa: E402
from pets.augment import train_view, valid_view  # noqa: E402


def _save(figure, path):
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=80)
    plt.close(figure)


def image_grid(images, titles, path, heading="", columns=3, cell=3.0):
    """Save HWC uint8 (or float 0..1) images in a grid, each with its title, under a heading."""
    rows = max(1, math.ceil(len(images) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * cell, rows * cell + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles):
        ax.imshow(np.asarray(image), interpolation="nearest" if np.asarray(image).shape[0] < 64 else "antialiased")
        ax.set_title(title, fontsize=8)
    figure.suptitle(heading, fontsize=9)
    figure.tight_layout()
    _save(figure, path)


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
            ax.text(j, i, count, ha="center", va="center", fontsize=6,
                    color="white" if count > matrix.max() / 2 else "black")
    ax.set_title("confusion matrix")
    figure.tight_layout()
    _save(figure, path)


def show_batch(split, size, augment, classes, path, n=9, seed=0):
    """A grid of `n` images of a CachedSplit as the model sees them (augmented when `augment` is given)."""
    rows = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))[:n].tolist()
    pixels, labels = split[rows]
    if augment is None:
        images = valid_view(pixels, size)
    else:
        images = train_view(pixels, size, augment, (0, 0, 0), (1, 1, 1), torch.Generator().manual_seed(seed))
    image_grid(images.permute(0, 2, 3, 1).numpy(), [classes[i] for i in labels.tolist()], path)


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
    _save(figure, path)
