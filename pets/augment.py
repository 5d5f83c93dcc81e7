"""Batched augmentation on the training device, from uint8 NHWC batches of the pixel cache.

Crop, zoom, rotation and flip are folded into one affine transform per image and applied with a
single `grid_sample` that also resizes to the training size (fast.ai's presizing); lighting follows.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Augment:
    min_scale: float = 0.75   # random resized crop keeps at least this share of the area
    flip: bool = True
    max_rotate: float = 10.0  # degrees
    max_zoom: float = 1.1
    max_lighting: float = 0.2


def to_float(batch):
    """uint8 NHWC -> float NCHW in [0, 1] (a channels_last view, no copy of the layout)."""
    return batch.permute(0, 3, 1, 2).float().div_(255)


def _uniform(n, low, high, generator, device):
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def random_affine(n, augment, generator, device):
    """(n, 2, 3) matrices mapping output to input coordinates for `F.affine_grid`."""
    area = _uniform(n, augment.min_scale, 1.0, generator, device)
    log_ratio = _uniform(n, math.log(3 / 4), math.log(4 / 3), generator, device)
    zoom = _uniform(n, 1.0, augment.max_zoom, generator, device)
    width = (area * log_ratio.exp()).sqrt().clamp(max=1.0) / zoom
    height = (area / log_ratio.exp()).sqrt().clamp(max=1.0) / zoom
    centre_x = _uniform(n, -1.0, 1.0, generator, device) * (1 - width)
    centre_y = _uniform(n, -1.0, 1.0, generator, device) * (1 - height)
    angle = _uniform(n, -augment.max_rotate, augment.max_rotate, generator, device) * (math.pi / 180)
    flip = torch.ones(n, device=device)
    if augment.flip:
        flip = torch.where(torch.rand(n, generator=generator, device=device) < 0.5, -flip, flip)
    cos, sin = angle.cos(), angle.sin()
    return torch.stack([
        torch.stack([cos * width * flip, -sin * height, centre_x], 1),
        torch.stack([sin * width * flip, cos * height, centre_y], 1),
    ], 1)


def lighting(images, max_lighting, generator):
    """Random contrast and brightness per image, as fast.ai's `brightness` and `contrast` (changes `images`)."""
    n, device = images.shape[0], images.device
    log_contrast = _uniform(n, math.log(1 - max_lighting), -math.log(1 - max_lighting), generator, device)
    brightness = _uniform(n, -max_lighting / 2, max_lighting / 2, generator, device)
    contrast = log_contrast.exp().view(-1, 1, 1, 1)
    shift = 0.5 * (1 - contrast) + brightness.view(-1, 1, 1, 1)  # (x - 0.5) * contrast + 0.5 + brightness
    return images.mul_(contrast).add_(shift).clamp_(0, 1)  # in place: three passes over the batch, no copies


def train_view(batch, size, augment, generator):
    """Augmented float NCHW images of `size` from a uint8 NHWC batch, all on the batch's device."""
    images = to_float(batch)
    theta = random_affine(images.shape[0], augment, generator, images.device)
    grid = F.affine_grid(theta, [images.shape[0], 3, size, size], align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return lighting(images, augment.max_lighting, generator) if augment.max_lighting > 0 else images


def valid_view(batch, size):
    """The whole cached image resized to `size`: no randomness."""
    images = to_float(batch)
    if images.shape[-1] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def tta_views(batch, size, flip=True, zoom=1.1):
    """The centre view, its mirror image, and a zoomed-in centre (with mirror) for test-time augmentation."""
    centre = valid_view(batch, size)
    crop = round(batch.shape[1] / zoom)
    offset = (batch.shape[1] - crop) // 2
    zoomed = valid_view(batch[:, offset:offset + crop, offset:offset + crop], size)
    views = [centre, zoomed]
    if flip:
        views += [view.flip(-1) for view in views]
    return views


def normalize(images, mean, std):
    mean = torch.tensor(mean, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(std, device=images.device).view(1, 3, 1, 1)
    return (images - mean) / std
