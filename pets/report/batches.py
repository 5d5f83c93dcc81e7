"""The training and validation images as the model sees them (fast.ai's show_batch): the train stage's pictures of
its input, drawn with the augmentation it trains with."""

import torch

from pets.data.augment import train_view, valid_view
from pets.report.grid import image_grid


def show_batch(split, size, augment, classes, path, n=9, seed=0):
    """A grid of `n` images of a CachedSplit as the model sees them (augmented when `augment` is given)."""
    rows = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))[:n].tolist()
    pixels, labels = split[rows]
    if augment is None:
        images = valid_view(pixels, size)
    else:
        images = train_view(pixels, size, augment, (0, 0, 0), (1, 1, 1), torch.Generator().manual_seed(seed), "opencv")
    heading = (
        f"validation images as the model sees them: centre {size} px view"
        if augment is None
        else f"training images as the model sees them: augmented (train.augment), {size} px"
    )
    image_grid(images.permute(0, 2, 3, 1).numpy(), [classes[i] for i in labels.tolist()], path, heading=heading)
