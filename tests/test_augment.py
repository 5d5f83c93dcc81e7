from dataclasses import replace

import numpy as np
import pytest
import torch
from sklearn.datasets import load_sample_images

from pets.data.augment import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    augment_with_grid_sample,
    augment_with_opencv,
    pixel_matrices,
    random_lighting,
    random_parameters,
    train_view,
)
from tests.helpers import DEFAULT_AUGMENT, NO_AUGMENT

STILL = NO_AUGMENT


@pytest.fixture(scope="module")
def photos():
    """Four real 300x300 photographs (and mirror images) as a uint8 NHWC batch."""
    china, flower = (torch.from_numpy(image[:300, :300].copy()) for image in load_sample_images().images)
    return torch.stack([china, flower, china.flip(1), flower.flip(0)])


def draw(n, augment, seed):
    return random_parameters(n, augment, torch.Generator().manual_seed(seed), "cpu")


def test_the_cpu_and_gpu_ways_give_the_same_images_for_the_same_draw(photos):
    parameters = draw(len(photos), replace(DEFAULT_AUGMENT, max_rotate=30.0), seed=1)
    on_gpu = augment_with_grid_sample(photos, 224, *parameters, IMAGENET_MEAN, IMAGENET_STD)
    on_cpu = augment_with_opencv(photos, 224, *parameters, IMAGENET_MEAN, IMAGENET_STD)
    assert on_cpu.shape == on_gpu.shape == (4, 3, 224, 224)
    levels = (on_cpu - on_gpu).abs() * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255  # back to pixel levels
    assert levels.mean() < 0.5 and levels.max() < 2  # OpenCV rounds to uint8 before the lookup table


def test_pixel_matrices_map_output_pixel_centres_to_input_pixels():
    identity = torch.tensor([[[1.0, 0, 0], [0, 1, 0]]], dtype=torch.float64)
    assert torch.allclose(pixel_matrices(identity, (8, 8), 8)[0], identity[0])
    mirror = torch.tensor([[[-1.0, 0, 0], [0, 1, 0]]], dtype=torch.float64)
    assert torch.allclose(
        pixel_matrices(mirror, (8, 8), 8)[0], torch.tensor([[-1.0, 0, 7], [0, 1, 0]], dtype=torch.float64)
    )
    half = pixel_matrices(identity, (8, 8), 4)[0]  # 4 output pixels spread over 8 input pixels
    assert torch.allclose(
        half @ torch.tensor([0.0, 0, 1], dtype=torch.float64), torch.tensor([0.5, 0.5], dtype=torch.float64)
    )


@pytest.mark.parametrize("level", [0, 77, 255])
def test_both_ways_normalise_with_the_given_statistics(level):
    batch = torch.full((2, 40, 40, 3), level, dtype=torch.uint8)
    parameters = draw(2, STILL, seed=0)
    expected = (level / 255 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    for apply in (augment_with_grid_sample, augment_with_opencv):
        images = apply(batch, 24, *parameters, IMAGENET_MEAN, IMAGENET_STD)
        assert torch.allclose(images, expected.view(1, 3, 1, 1).expand(2, 3, 24, 24), atol=1e-5)


def test_lighting_stays_in_range_and_clamps():
    contrast, shift = random_lighting(10_000, 0.2, torch.Generator().manual_seed(0), "cpu")
    assert contrast.min() >= 0.8 - 1e-6 and contrast.max() <= 1.25 + 1e-6
    brightness = shift - 0.5 * (1 - contrast)
    assert brightness.abs().max() <= 0.1 + 1e-6 and brightness.std() > 0.05
    white = torch.full((1, 8, 8, 3), 255, dtype=torch.uint8)
    bright = (torch.eye(2, 3)[None], torch.tensor([1.25]), torch.tensor([0.1]))
    for apply in (augment_with_grid_sample, augment_with_opencv):
        assert torch.allclose(apply(white, 8, *bright, (0, 0, 0), (1, 1, 1)), torch.ones(1, 3, 8, 8))


def test_train_view_is_the_same_for_a_seed_and_differs_between_seeds(photos):
    def view(seed):
        return train_view(
            photos, 64, DEFAULT_AUGMENT, IMAGENET_MEAN, IMAGENET_STD, torch.Generator().manual_seed(seed), "opencv"
        )

    assert torch.equal(view(0), view(0))
    assert not torch.equal(view(0), view(1))


def test_a_flip_is_the_mirror_image(photos):
    theta, contrast, shift = draw(len(photos), STILL, seed=0)
    mirrored = theta.clone()
    mirrored[:, :, 0] *= -1
    plain, flipped = (
        augment_with_opencv(photos, 96, t, contrast, shift, (0, 0, 0), (1, 1, 1)) for t in (theta, mirrored)
    )
    np.testing.assert_allclose(flipped.numpy(), plain.flip(-1).numpy(), atol=1 / 255 + 1e-6)
