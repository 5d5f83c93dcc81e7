"""Resumable training: after every epoch, what it takes to go on from there, written atomically.

The checkpoint (models/resume.pt) is not a DVC output: DVC leaves files it does not know alone between runs,
while a `persist: true` output would switch off DVC's run cache for the train stage. It belongs to one
fingerprint (the train stage's params, the pixel cache, the weights file and the code that trains); training
from anything else starts from epoch 1. It is deleted once training has finished.
"""

import io
import json
from pathlib import Path

import torch

from pets.atomic import atomic_path
from pets.config import layout
from pets.config.params import stage_code, stage_param_keys
from pets.config.settings import Params
from pets.digest import bytes_sha256, file_sha256


def fingerprint(params: Params, cache_dir, stage="train"):
    """sha256 of what decides a run's result: the stage's params, the cache's files, a weights file if one is
    named, and the code that trains (the stage's .py deps in dvc.yaml, which a test holds equal to what it imports);
    the same in every process of a run, whatever each has imported."""
    parts = [json.dumps([key, params.value(key)], sort_keys=True) for key in stage_param_keys(stage)]
    files = sorted(Path(cache_dir).iterdir())
    if params.weights.kind == "file" and params.weights.path.is_file():
        files.append(params.weights.path)
    files += [Path(dep) for dep in stage_code(stage)]
    parts += [f"{path.name}:{file_sha256(path)}" for path in files]
    return bytes_sha256("".join(parts).encode())


FIELDS = {"fingerprint": str, "arch": str, "classes": list, "epoch": int, "history": list, "model": dict,
          "optimizer": dict, "schedule": dict}  # fmt: skip


def write_state(path, state):
    """The state, serialized, inside a wrapper with the sha256 of those bytes: torch.load checks no tensor's bytes,
    and a checkpoint damaged on disk would otherwise resume into another model without a word."""
    payload = io.BytesIO()
    torch.save(state, payload)
    data = payload.getvalue()
    with atomic_path(path) as tmp:  # the bytes as a uint8 tensor: stored as they are, not as a pickled string
        torch.save(
            {
                "sha256": bytes_sha256(data),
                "payload": torch.frombuffer(bytearray(data), dtype=torch.uint8),
            },
            tmp,
        )


def read_state(path):
    """(state, None), or (None, why it cannot be used): unreadable, damaged, not ours, or missing any field."""
    try:
        wrapper = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - a cut, damaged or foreign file: all mean "cannot be used"
        return None, f"cannot be read ({type(error).__name__})"
    payload = wrapper.get("payload") if isinstance(wrapper, dict) and set(wrapper) == {"sha256", "payload"} else None
    if not (isinstance(payload, torch.Tensor) and payload.dtype == torch.uint8):
        return None, "is not a resume checkpoint"
    data = payload.numpy().tobytes()
    if bytes_sha256(data) != wrapper["sha256"]:
        return None, "is damaged (its contents do not match their sha256)"
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001
        return None, f"cannot be read ({type(error).__name__})"
    missing = [
        key for key, kind in FIELDS.items() if not isinstance(state, dict) or not isinstance(state.get(key), kind)
    ]
    if missing:
        return None, f"is not a resume checkpoint (no valid {', '.join(missing)})"
    if not {"state", "param_groups"} <= set(state["optimizer"]):
        return None, "is not a resume checkpoint (no valid optimizer)"
    if not 1 <= state["epoch"] == len(state["history"]):
        return None, f"is not a resume checkpoint (epoch {state['epoch']} with {len(state['history'])} logged)"
    return state, None


class Resume:
    """The resume checkpoint of one training run: `arch` on `classes`, identified by `fingerprint`."""

    def __init__(self, fingerprint, arch, classes, path=layout.RESUME):
        self.fingerprint, self.arch, self.classes, self.path = fingerprint, arch, list(classes), Path(path)

    def load(self, model, log=print):
        """The saved state (epoch, history, optimizer, schedule) after loading its weights into `model`; None,
        with one line saying why when there was a checkpoint, to train from epoch 1. Nothing is loaded half:
        every check comes before the model changes."""
        if not self.path.exists():
            return None
        state, problem = read_state(self.path)
        if problem:
            return self._ignore(problem, log)
        if state["arch"] != self.arch:
            return self._ignore(f"is for arch {state['arch']}, not {self.arch}", log)
        if state["classes"] != self.classes:
            return self._ignore(f"is for other classes ({len(state['classes'])}, not these {len(self.classes)})", log)
        if state["fingerprint"] != self.fingerprint:
            return self._ignore("is from other params, data or code", log)
        expected = {name: tensor.shape for name, tensor in model.state_dict().items()}
        if {name: tensor.shape for name, tensor in state["model"].items()} != expected:
            return self._ignore("does not fit the model", log)
        model.load_state_dict(state["model"])
        log(f"train: resuming after epoch {state['epoch']} from {self.path}")
        return state

    def _ignore(self, reason, log):
        log(f"train: {self.path} {reason}; ignored, training from epoch 1")
        return None

    def save(self, model, optimizer, schedule, history):
        """Everything to go on after the last epoch of `history` (the model, optimizer and schedule as they are)."""
        state = {
            "fingerprint": self.fingerprint,
            "arch": self.arch,
            "classes": self.classes,
            "epoch": len(history),
            "history": history,
            "model": {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
        }
        write_state(self.path, state)

    def finish(self):
        self.path.unlink(missing_ok=True)
