"""Pictures people would rather look at than read: image grids and the confusion matrix."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pets.atomic import atomic_path  # noqa: E402


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
