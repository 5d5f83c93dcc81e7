"""models/model.pt as ONNX, checked against PyTorch on validation images before it is kept.

The graph is the one forward pass (pets.inference.forward.log_probabilities) with its preprocessing inside: it takes
uint8 RGB pixels, NHWC, at the cache's resolution, which is what an image decoder gives (pets.data.images.load_image
makes them as the cache stage did), so a user feeds decoded pixels without knowing the model's size, mean or std,
and a float input could not be scaled wrongly (0..1 against 0..255). It returns the calibrated probabilities. It is
exported in fp32 on the CPU (the runtime profile's CPU choices).

PyTorch's side of the check is the train stage's: its scores of every validation image, computed in fp32 on the
training device while the model was there (pets.inference.scores), so no second PyTorch pass runs here. onnxruntime
runs on a bounded set of them (Expected.rows): a seeded sample and the images closest to another class. What it
guarantees: on every checked image the same top class and probabilities within 1e-4; the unchecked images are
computed by the same graph, whose operators the sample has exercised.
"""

import contextlib
import json
import os
import re
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn
from torch.onnx import symbolic_helper

from pets.atomic import atomic_path
from pets.data.cache import cached_pixels
from pets.digest import file_sha256
from pets.errors import PetsError
from pets.inference.forward import log_probabilities
from pets.inference.onnx_model import INPUT, OUTPUT, OnnxClassifier
from pets.model.classifier import Classifier
from pets.runtime.profile import Runtime

OPSET = 20  # Resize with antialias (opset 18+); onnxruntime 1.2x runs up to 23
TOLERANCE = 1e-4  # max |onnxruntime - PyTorch| of a probability
SAMPLE, CLOSEST = 256, 32  # validation images checked: a seeded sample, and those the model is least sure of


class Pipeline(nn.Module):
    """uint8 NHWC pixels at the cache's resolution in, calibrated probabilities out."""

    def __init__(self, classifier: Classifier):
        super().__init__()
        classifier.module.cpu().float()
        self.model, self.classifier = classifier.module, classifier  # the module registered, for .eval()
        self.eval()

    def forward(self, pixels):
        return log_probabilities(self.classifier, pixels, Runtime.cpu(), calibrated=True).exp()


def unsupported_operator(error: BaseException) -> str | None:
    """The aten operator an exporter error says it has no ONNX function for, from the error or its causes."""
    while error is not None:
        found = re.search(r"Exporting the operator '([^']+)' to ONNX opset version \d+ is not supported", str(error))
        if found:
            return found.group(1)
        error = error.__cause__ or error.__context__
    return None


@symbolic_helper.parse_args("v", "is", "i", "none")
def _resize_antialiased(graph, pixels, size, align_corners, *scales):
    """aten::_upsample_bilinear2d_aa (the Preprocess's resize) as ONNX Resize with antialias, as torch.onnx's dynamo
    exporter writes it: the TorchScript exporter has no function of its own for it."""
    batch_and_channels = graph.op(
        "Slice", graph.op("Shape", pixels), graph.op("Constant", value_t=torch.tensor([0])),
        graph.op("Constant", value_t=torch.tensor([2])),
    )  # fmt: skip
    sizes = graph.op("Concat", batch_and_channels, graph.op("Constant", value_t=torch.tensor(size)), axis_i=0)
    none = graph.op("Constant", value_t=torch.tensor([], dtype=torch.float32))
    return graph.op(
        "Resize", pixels, none, none, sizes, mode_s="linear", antialias_i=1, exclude_outside_i=1,
        coordinate_transformation_mode_s="align_corners" if align_corners else "half_pixel", nearest_mode_s="floor",
    )  # fmt: skip


@contextlib.contextmanager
def _quiet():
    """The exporter's own output silenced: its C++ log writes the whole graph to stderr when it fails (its setting is
    read wrongly in torch 2.14, so always on), which the one-line error below replaces."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}  # the process's own descriptors, where C++ writes
    with open(os.devnull, "w") as null:
        for fd in saved:
            os.dup2(null.fileno(), fd)
    try:
        yield
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)


def to_onnx(pipeline: Pipeline, path: Path, *, arch: str, example: torch.Tensor) -> None:
    """Export with a dynamic batch; a model the exporter cannot handle ends in one line naming arch and operator.

    torch.onnx's TorchScript exporter, not its default dynamo one: the same graphs (the tests check every family
    against PyTorch), in a tenth of the time (Lite0 0.6 s against 9-13 s, resnet18 0.4 against 5; see
    docs/benchmarks.md#time-to-result), and every experiment's export stage pays it. It is deprecated in torch 2.9+;
    requirements.txt pins torch, and test_export fails first where a newer one drops it."""
    torch.onnx.register_custom_op_symbolic("aten::_upsample_bilinear2d_aa", _resize_antialiased, OPSET)
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # attention as its ONNX ops, not the fused kernel (torchvision ViT)
    try:
        with _quiet(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its deprecation, and the tracer's notes on shapes fixed by `example`
            torch.onnx.export(
                pipeline,
                (example,),
                str(path),
                input_names=[INPUT],
                output_names=[OUTPUT],
                dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
    except Exception as error:  # noqa: BLE001 - the tracer and the exporter raise many kinds; each means this
        operator = unsupported_operator(error)
        why = f"no ONNX function for the operator {operator}" if operator else " ".join(str(error).split())[:300]
        raise PetsError(f"{arch} cannot be exported to ONNX (opset {OPSET}): {why}") from None
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)


def add_metadata(path: Path, metadata: dict) -> None:
    model = onnx.load(str(path))
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))


@dataclass(frozen=True)
class Expected:
    """What the ONNX model must give: PyTorch's calibrated probabilities of the validation images (train's scores,
    computed in fp32 on the training device), their files, and where their cached pixels are."""

    probabilities: np.ndarray
    files: list[str]
    cache: Path
    split: str = "valid"

    def rows(self, seed: int = 0) -> list[int]:
        """The images checked: a seeded sample of SAMPLE, and the CLOSEST the model is least sure of (the lowest top
        probability), where a small numeric difference could change the class; a bound that does not grow with the
        split."""
        sample = np.random.default_rng(seed).permutation(len(self.files))[:SAMPLE]
        closest = np.argsort(self.probabilities.max(1), kind="stable")[:CLOSEST]
        return sorted({*sample.tolist(), *closest.tolist()})


def check_against_scores(onnx_path: Path, expected: Expected, *, name: str, batch_size: int = 32) -> dict:
    """onnxruntime's probabilities of the checked images: within TOLERANCE of PyTorch's and the same top-1, else
    PetsError naming the image and the largest difference."""
    classifier = OnnxClassifier(onnx_path)
    rows = expected.rows()
    worst, worst_file, disagree = 0.0, None, []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        got = classifier.probabilities(cached_pixels(expected.cache, expected.split, chunk))
        want = expected.probabilities[chunk]
        difference = np.abs(got - want).max(1)
        if difference.max() > worst:
            worst, worst_file = float(difference.max()), expected.files[chunk[int(difference.argmax())]]
        disagree += [expected.files[chunk[i]] for i in np.flatnonzero(got.argmax(1) != want.argmax(1))]
    if worst > TOLERANCE or disagree:
        raise PetsError(
            f"{name} does not match PyTorch on the {expected.split} images: the largest probability difference is "
            f"{worst:.2e} ({worst_file}; the tolerance is {TOLERANCE:g}), and the top class differs on "
            f"{len(disagree)} of {len(rows)} images checked{' (' + ', '.join(disagree[:3]) + ')' if disagree else ''}"
        )
    return {"images": len(rows), "of": len(expected.files), "max_abs_difference": float(f"{worst:.3g}"),
            "top1_agreement": 1.0}  # fmt: skip


def export(classifier: Classifier, *, model_path: Path, onnx_path: Path, expected: Expected) -> dict:
    """Write onnx_path from the classifier loaded from model_path, kept only when check_against_scores passes;
    return the check's figures."""
    pipeline = Pipeline(classifier)
    resolution = classifier.preprocess.resolution
    example = torch.zeros((2, resolution, resolution, 3), dtype=torch.uint8)  # batch 2: 1 would be fixed
    metadata = {
        "arch": classifier.name,
        "classes": json.dumps(classifier.classes),
        "preprocess": json.dumps(classifier.preprocess.to_checkpoint()),
        "temperature": repr(float(classifier.temperature)),
        "model_sha256": file_sha256(model_path),
        "input": f"uint8 RGB pixels, NHWC, (batch, {resolution}, {resolution}, 3): load_image's square",
    }
    with tempfile.TemporaryDirectory(prefix=f".{onnx_path.name}.", dir=onnx_path.parent) as folder:
        built = Path(folder) / onnx_path.name  # kept only once checked
        to_onnx(pipeline, built, arch=classifier.name, example=example)
        add_metadata(built, metadata)
        check = {"opset": OPSET, **check_against_scores(built, expected, name=str(onnx_path))}
        with atomic_path(onnx_path) as tmp:
            os.replace(built, tmp)
    return check
