"""Predict with an exported pets model (models/model.onnx, `dvc repro export`) through onnxruntime: numpy, Pillow and
onnxruntime, no torch and nothing else of this project. To use the model elsewhere, copy model.onnx and four small
files, keeping their paths: pets/errors.py, pets/data/images.py, pets/inference/answers.py and this one; then

    python -m pets.inference.onnx_model model.onnx photo.jpg [more images or folders] [--min-confidence 0.8]

The graph takes what an image decoder gives: uint8 RGB pixels, NHWC, at the cache's resolution (a square made by
`load_image` as the cache stage made it); inside it resizes to the model's size, normalises, and returns
calibrated probabilities. The ONNX metadata holds the classes, that recipe and the temperature.
"""

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime

from pets.data.images import image_paths, load_image
from pets.errors import PetsError, report_errors
from pets.inference.answers import answer_line, min_confidence, shown, top_classes, top_count

INPUT, OUTPUT = "pixels", "probabilities"
METADATA = (
    "arch",
    "classes",
    "preprocess",
    "temperature",
    "model_sha256",
)  # what export writes (pets/inference/export)


class OnnxClassifier:
    """A pets ONNX model: `classes`, how to `load` an image for it, and its `probabilities` of a uint8 batch."""

    def __init__(self, path: str | Path, threads: int = 0):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # 0: onnxruntime's choice (the physical cores)
        options.log_severity_level = 3  # errors only: its warnings are not the user's to act on
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # noqa: BLE001 - onnxruntime's own error types; all mean the same here
            reason = " ".join(str(error).split())[:200]
            raise PetsError(f"{path}: not an ONNX model onnxruntime can load ({reason})") from None
        metadata = self.session.get_modelmeta().custom_metadata_map
        missing = [key for key in METADATA if key not in metadata]
        if missing:
            raise PetsError(f"{path}: not a pets ONNX model (its metadata has no {', '.join(missing)})")
        self.path = Path(path)
        self.arch, self.model_sha256 = metadata["arch"], metadata["model_sha256"]
        self.classes = self._classes(metadata["classes"])
        self.preprocess = self._preprocess(metadata["preprocess"])
        self.temperature = self._temperature(metadata["temperature"])

    def _refuse(self, key: str, why: str):
        return PetsError(f"{self.path}: its metadata's {key} {why}; export it again (dvc repro export)")

    def _classes(self, text: str) -> list[str]:
        """The class names, one per output of the graph."""
        try:
            classes = json.loads(text)
        except json.JSONDecodeError:
            raise self._refuse("classes", "is not JSON") from None
        if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
            raise self._refuse("classes", "is not a list of class names")
        outputs = self.session.get_outputs()[0].shape[-1]
        if isinstance(outputs, int) and outputs != len(classes):
            raise self._refuse("classes", f"names {len(classes)} classes, but the model gives {outputs} probabilities")
        return classes

    def _preprocess(self, text: str) -> dict:
        """How images are prepared: square at `resolution` (the graph's input size) by `resize`."""
        try:
            preprocess = json.loads(text)
        except json.JSONDecodeError:
            raise self._refuse("preprocess", "is not JSON") from None
        if not isinstance(preprocess, dict) or not isinstance(preprocess.get("resolution"), int):
            raise self._refuse("preprocess", "has no resolution")
        if preprocess.get("resize") not in ("crop", "squish"):
            raise self._refuse("preprocess", "has no resize (crop or squish)")
        height, width = self.session.get_inputs()[0].shape[1:3]
        if (height, width) != (preprocess["resolution"],) * 2:
            raise self._refuse(
                "preprocess", f"says {preprocess['resolution']} px, but the model takes {height} x {width} pixels"
            )
        return preprocess

    def _temperature(self, text: str) -> float:
        try:
            temperature = float(text)
        except ValueError:
            raise self._refuse("temperature", f"{text!r} is not a number") from None
        if not (np.isfinite(temperature) and temperature > 0):
            raise self._refuse("temperature", f"{text} is not a positive number")
        return temperature

    def load(self, source) -> np.ndarray:
        """(resolution, resolution, 3) uint8 pixels of an image file or file object, as the cache holds them."""
        return load_image(source, self.preprocess["resolution"], self.preprocess["resize"])

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """(N, classes) float32 calibrated probabilities of a (N, resolution, resolution, 3) uint8 batch."""
        probs = self.session.run([OUTPUT], {INPUT: np.ascontiguousarray(pixels, dtype=np.uint8)})[0]
        if probs.shape[-1] != len(self.classes):  # a graph whose output size is not fixed in it
            raise self._refuse("classes", f"names {len(self.classes)} classes, but the model gives {probs.shape[-1]}")
        return probs

    def top(self, probs: np.ndarray, k: int) -> list[tuple[str, float]]:
        return top_classes(probs, self.classes, k)


def decoded(classifier: OnnxClassifier, path: Path) -> tuple[np.ndarray | None, str]:
    try:
        return classifier.load(path), ""
    except Exception as error:  # noqa: BLE001 - reported per file, the others go on
        return None, f"not an image ({type(error).__name__}: {' '.join(str(error).split())})"


def predict_files(
    classifier: OnnxClassifier, paths: Sequence[Path], *, top_k: int = 3, batch_size: int = 32, workers: int = 2
) -> Iterator[tuple[Path, list[tuple[str, float]] | None, str]]:
    """Yield (path, [(class, probability)] or None, error) per path, in order, as pets.inference.predict does for
    model.pt. Images are decoded in threads (Pillow lets go of the GIL while it decodes and resizes)."""
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for start in range(0, len(paths), batch_size):
            chunk = paths[start : start + batch_size]
            items = list(pool.map(lambda path: decoded(classifier, path), chunk))
            good = [pixels for pixels, _ in items if pixels is not None]
            probs = iter(classifier.probabilities(np.stack(good)) if good else [])
            for path, (pixels, error) in zip(chunk, items):
                yield (path, None, error) if pixels is None else (path, classifier.top(next(probs), top_k), "")


@report_errors
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Top classes of images from a pets ONNX model (onnxruntime).")
    parser.add_argument("model", help="model.onnx")
    parser.add_argument("inputs", nargs="+", help="image files or folders")
    parser.add_argument("--top", type=top_count, default=3, help="classes per image")
    parser.add_argument("--min-confidence", type=min_confidence, help="below it, answer unsure")
    args = parser.parse_args(argv)
    classifier = OnnxClassifier(args.model)
    paths, unreadable = image_paths(args.inputs)
    for folder, reason in unreadable:
        print(f"{shown(folder)}: cannot read this folder ({reason})", file=sys.stderr)
    failed = len(unreadable)
    for path, top, error in predict_files(classifier, paths, top_k=args.top):
        if top is None:
            failed += 1
            print(f"{shown(path)}: {error}", file=sys.stderr)
        else:
            print(answer_line(path, top, args.min_confidence))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
