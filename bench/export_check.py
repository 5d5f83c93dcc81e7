"""The export check's time against the size of the validation split: one ONNX model checked (the export stage's
pets.inference.export.check_against_scores) on a split of photos' size (260 images) and on one of Pets' (1,478), the
same arch at the same size, so that only the number of validation images differs.

    python -m bench.export_check                                   # resnet34 at 224 px (Pets' default), median of 3
    python -m bench.export_check --arch tf_efficientnet_lite0 --size 128 --resolution 160     # photos' model

The model is random (the check's time does not depend on its weights) and the cached pixels are noise; what the check
compares against, train's PyTorch scores in a run, is onnxruntime's own answers here (computed before the timing).
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from pets.data.presets import Preprocess
from pets.inference.export import Expected, check_against_scores, export
from pets.inference.onnx_model import OnnxClassifier
from pets.model.build import build_model
from pets.model.checkpoint import save_classifier

SPLITS = {"photos": 260, "Pets": 1478}  # validation images
CLASSES = [f"class{i}" for i in range(37)]


def exported(folder: Path, arch: str, size: int, resolution: int) -> Path:
    """model.onnx of a random `arch`, written by the export stage's code (checked on an empty split: nothing yet)."""
    torch.manual_seed(0)
    preprocess = Preprocess(size=size, mean=(0.5,) * 3, std=(0.5,) * 3, resolution=resolution, resize="crop")
    classifier = build_model(arch, CLASSES, "none", preprocess)
    save_classifier(folder / "model.pt", classifier)
    nothing = folder / "cache-0"
    nothing.mkdir()
    np.save(nothing / "valid.npy", np.zeros((0, resolution, resolution, 3), np.uint8))
    none = Expected(np.zeros((0, len(CLASSES))), [], nothing)
    export(classifier, model_path=folder / "model.pt", onnx_path=folder / "model.onnx", expected=none)
    return folder / "model.onnx"


def expected_for(folder: Path, onnx_path: Path, images: int, resolution: int) -> Expected:
    """A cached split of `images` noise pictures, and the probabilities the check expects of them: onnxruntime's
    own, computed once here (in a run, train's scores give PyTorch's)."""
    cache = folder / f"cache-{images}"
    cache.mkdir()
    pixels = np.random.default_rng(images).integers(0, 256, (images, resolution, resolution, 3), dtype=np.uint8)
    np.save(cache / "valid.npy", pixels)
    model = OnnxClassifier(onnx_path)
    probabilities = np.concatenate([model.probabilities(pixels[i : i + 64]) for i in range(0, images, 64)])
    return Expected(probabilities, [f"images/{i}.jpg" for i in range(images)], cache)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet34")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--resolution", type=int, default=288)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        onnx_path = exported(folder, args.arch, args.size, args.resolution)
        print(f"{args.arch} at {args.size} px from {args.resolution} px, median of {args.repeats}")
        print("| validation split | images | checked | check s |")
        print("| --- | ---: | ---: | ---: |")
        seconds = {}
        for name, images in SPLITS.items():
            expected = expected_for(folder, onnx_path, images, args.resolution)
            times = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                check = check_against_scores(onnx_path, expected, name="model.onnx")
                times.append(time.perf_counter() - started)
            seconds[name] = statistics.median(times)
            print(f"| {name}-sized | {images} | {check['images']} | {seconds[name]:.2f} |", flush=True)
    print(f"Pets-sized / photos-sized: {seconds['Pets'] / seconds['photos']:.2f}x")


if __name__ == "__main__":
    main()
