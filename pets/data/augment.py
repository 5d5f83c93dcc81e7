"""Augmentation of uint8 NHWC batches of the pixel cache, and the plain views for validation.

Crop, zoom, rotation and flip are folded into one affine transform per image that also resizes to the
training size (fast.ai's presizing); lighting (contrast and brightness) and normalisation follow, either on the
whole batch at once with a float `grid_sample` or image by image in uint8 with OpenCV (the Runtime decides).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Augment:
    """train.augment of params.yaml (its comments say what each does)."""

    min_scale: float
    flip: bool
    max_rotate: float
    max_zoom: float
    max_lighting: float


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
    return torch.stack(
        [
            torch.stack([cos * width * flip, -sin * height, centre_x], 1),
            torch.stack([sin * width * flip, cos * height, centre_y], 1),
        ],
        1,
    )


def random_lighting(n, max_lighting, generator, device):
    """(contrast, shift) per image: fast.ai's contrast and brightness as `x * contrast + shift` on [0, 1] pixels."""
    log_contrast = _uniform(n, math.log(1 - max_lighting), -math.log(1 - max_lighting), generator, device)
    brightness = _uniform(n, -max_lighting / 2, max_lighting / 2, generator, device)
    contrast = log_contrast.exp()
    return contrast, 0.5 * (1 - contrast) + brightness  # (x - 0.5) * contrast + 0.5 + brightness


def random_parameters(n, augment, generator, device):
    """(theta, contrast, shift) of `n` images: what either way of augmenting applies."""
    return (random_affine(n, augment, generator, device), *random_lighting(n, augment.max_lighting, generator, device))


def augment_with_grid_sample(batch, size, theta, contrast, shift, mean, std):
    """The whole batch at once in float: one `grid_sample`, then lighting and normalisation in place."""
    images = to_float(batch)
    grid = F.affine_grid(theta, [images.shape[0], 3, size, size], align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    images.mul_(contrast.view(-1, 1, 1, 1)).add_(shift.view(-1, 1, 1, 1)).clamp_(0, 1)
    return normalize_(images, mean, std)


def pixel_matrices(theta, input_size, size):
    """`F.affine_grid`'s matrices (normalised coordinates, align_corners=False) as matrices from output to
    input pixel coordinates, the form `cv2.warpAffine` takes with WARP_INVERSE_MAP."""
    height, width = input_size
    to_input_pixels = theta.new_tensor([[width / 2, 0, width / 2 - 0.5], [0, height / 2, height / 2 - 0.5]])
    from_output_pixels = theta.new_tensor([[2 / size, 0, 1 / size - 1], [0, 2 / size, 1 / size - 1], [0, 0, 1]])
    square = torch.cat([theta, theta.new_tensor([0, 0, 1]).expand(len(theta), 1, 3)], 1)
    return to_input_pixels @ square @ from_output_pixels


def augment_with_opencv(batch, size, theta, contrast, shift, mean, std):
    """Image by image in uint8: OpenCV's fixed-point bilinear warp (reflecting at the borders as `grid_sample`
    does), then one lookup table per image that applies lighting, converts to float and normalises at once."""
    pixels = batch.numpy()
    matrices = pixel_matrices(theta.double(), pixels.shape[1:3], size).numpy()
    levels = torch.arange(256, dtype=torch.float64) / 255
    lit = (levels * contrast.double()[:, None] + shift.double()[:, None]).clamp(0, 1)
    mean, std = torch.tensor(mean, dtype=torch.float64), torch.tensor(std, dtype=torch.float64)
    tables = ((lit[:, :, None] - mean) / std).float().numpy()  # (n, 256 levels, 3 channels)
    images = np.empty((len(pixels), size, size, 3), np.float32)
    warped = np.empty((size, size, 3), np.uint8)
    for i in range(len(pixels)):
        cv2.warpAffine(
            pixels[i],
            matrices[i],
            (size, size),
            dst=warped,
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT,
        )
        cv2.LUT(warped, tables[i][None], dst=images[i])
    return torch.from_numpy(images).permute(0, 3, 1, 2)


AUGMENT_BACKENDS = {"grid_sample": augment_with_grid_sample, "opencv": augment_with_opencv}


def train_view(
    batch: torch.Tensor,
    size: int,
    augment: Augment,
    mean: Sequence[float],
    std: Sequence[float],
    generator: torch.Generator,
    backend: str,
) -> torch.Tensor:
    """Augmented, normalised float NCHW images of `size` from a uint8 NHWC batch, on the batch's device.

    The random parameters are drawn the same way by both backends (a Runtime picks one): "grid_sample" warps the
    whole batch at once in float on its device; "opencv" warps a CPU batch image by image in uint8, where a float
    `grid_sample` would cost more than the decoding of the JPEGs it replaces (bench/loader.py).
    """
    parameters = random_parameters(len(batch), augment, generator, batch.device)
    return AUGMENT_BACKENDS[backend](batch, size, *parameters, mean, std)


def valid_view(batch: torch.Tensor, size: int) -> torch.Tensor:
    """The whole cached image resized to `size`: no randomness."""
    images = to_float(batch)
    if images.shape[-1] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def tta_views(batch: torch.Tensor, size: int, flip: bool = True, zoom: float = 1.1) -> list[torch.Tensor]:
    """The centre view, its mirror image, and a zoomed-in centre (with mirror) for test-time augmentation."""
    centre = valid_view(batch, size)
    crop = round(batch.shape[1] / zoom)
    offset = (batch.shape[1] - crop) // 2
    zoomed = valid_view(batch[:, offset : offset + crop, offset : offset + crop], size)
    views = [centre, zoomed]
    if flip:
        views += [view.flip(-1) for view in views]
    return views


def normalize_(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Normalise float NCHW images in place."""
    mean = torch.tensor(mean, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(std, device=images.device).view(1, 3, 1, 1)
    return images.sub_(mean).div_(std)
