"""What a model's input is made of at evaluation and prediction: the eval preset that a checkpoint carries."""

from dataclasses import asdict, dataclass, fields
from typing import Self

import torch

from pets.data.augment import normalize_, tta_views, valid_view


@dataclass(frozen=True)
class Preprocess:
    """Images are made square by `resize` (crop or squish) at `resolution`, as the cache stores them, then resized
    to `size` and normalised with `mean` and `std`: how training saw its validation images."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resolution: int
    resize: str

    @classmethod
    def of_cache(cls, manifest: dict, size: int) -> Self:
        """The cache's images at the training size: its resolution and resize, normalised with the training split's
        own statistics (pets.model.build swaps in pretrained weights' own)."""
        return cls(
            size=size,
            mean=tuple(manifest["mean"]),
            std=tuple(manifest["std"]),
            resolution=manifest["resolution"],
            resize=manifest["resize"],
        )

    @classmethod
    def from_checkpoint(cls, checkpoint: dict) -> Self:
        return cls(
            size=checkpoint["size"],
            mean=tuple(checkpoint["mean"]),
            std=tuple(checkpoint["std"]),
            resolution=checkpoint["resolution"],
            resize=checkpoint["resize"],
        )

    def to_checkpoint(self) -> dict:
        return {**asdict(self), "mean": list(self.mean), "std": list(self.std)}

    def views(self, pixels: torch.Tensor, tta: bool = False) -> list[torch.Tensor]:
        """Normalised float NCHW views of a uint8 NHWC batch at `size`: the whole image, or with `tta` also a
        zoomed-in centre and both mirrored."""
        views = tta_views(pixels, self.size) if tta else [valid_view(pixels, self.size)]
        return [normalize_(view, self.mean, self.std) for view in views]


PRESET_KEYS = tuple(field.name for field in fields(Preprocess))  # what a checkpoint holds of its Preprocess
