"""A weights file (a models/model.pt of ours, or a state dict), loaded safely; and the sources stage's check that it
can start training an arch, from its keys and shapes against archs.tsv: torch only, no model library imported and no
model built, so that a wrong file is refused in the first stage within a few seconds."""

from pathlib import Path

import torch

from pets.config import archs as table
from pets.errors import PetsError
from pets.model.parts import look_like


def load_checkpoint(path: str | Path, mmap: bool = False) -> dict:
    """A checkpoint of ours ({'arch', 'classes', 'state_dict', ...}) or a bare state dict, loaded safely; with `mmap`
    its tensors stay on disk until read (their keys and shapes cost nothing)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except FileNotFoundError:
        raise PetsError(f"{path}: weights file not found (params.yaml: weights)") from None
    except Exception as error:  # noqa: BLE001 - pickle, zip and format errors all mean "not a checkpoint"
        raise PetsError(f"{path}: not a PyTorch checkpoint or state dict ({type(error).__name__})") from None
    if not isinstance(checkpoint, dict):
        raise PetsError(f"{path}: not a PyTorch checkpoint or state dict")
    return checkpoint if "state_dict" in checkpoint else {"state_dict": checkpoint}


def is_model(checkpoint: dict) -> bool:
    """Whether a loaded file is a models/model.pt (not a bare state dict)."""
    return "arch" in checkpoint and "classes" in checkpoint


def refuse_other_arch(checkpoint: dict, arch: str, source: object) -> None:
    """PetsError when a models/model.pt of ours is of another arch than `arch` (its head, of any kind and classes,
    is replaced where it differs)."""
    if checkpoint["arch"] != arch:
        raise PetsError(f"{source}: a checkpoint of {checkpoint['arch']}, not {arch}; set arch: {checkpoint['arch']}")


def check_weights_file(arch: str, path: Path) -> None:
    """The sources stage's check of the `weights` file, before anything is downloaded or computed: a model of ours
    must be of `arch`; a state dict must hold exactly the tensors of `arch`'s body (archs.tsv's signature), its head's
    of any shape or none. The train stage checks again on the model it builds, tensor by tensor."""
    checkpoint, source = load_checkpoint(path, mmap=True), f"params.yaml: weights {path}"
    if is_model(checkpoint):
        refuse_other_arch(checkpoint, arch, source)
        return
    facts, state_dict = table.lookup(arch), checkpoint["state_dict"]
    if table.body_signature({key: tensor.shape for key, tensor in state_dict.items()}, facts.head) != facts.body:
        raise PetsError(
            f"{source}: these weights do not fit {arch}{look_like(state_dict, arch)}; set arch to theirs, or weights "
            "to imagenet or none"
        )
