"""Images per second of `python -m pets predict` with PyTorch (models/model.pt) and with onnxruntime
(models/model.onnx), side by side on the same image files, at batch 1 and batch 32.

python -m bench.predict [--images 128] [--repeats 3]

Two models: the photos quick start's (tf_efficientnet_lite0 at 128 px from a 160 px square) and Pets' default
(resnet34 at 224 px from 288). Each is saved as a model.pt and exported by the export stage's code (weights need
not be trained: the speed is the same). The images are Pets-sized JPEGs (500x376 mosaics of the built-in
photographs, bench/data_check.py), read from a warm page cache. Both paths do the whole of predict: decode and
resize each file (two decoding workers each: DataLoader processes for PyTorch, threads for onnxruntime), the forward
pass, the top classes. Runs alternate, alone, with every core; the best of each is reported.
"""

import argparse
import dataclasses
import functools
import tempfile
import time
from pathlib import Path

import torch

from bench.data_check import mosaics
from pets.data.cache import build_cache
from pets.data.loader import CachedSplit
from pets.data.presets import Preprocess
from pets.inference import onnx_model
from pets.inference.export import export
from pets.inference.predict import predict_files
from pets.model.build import build_model
from pets.model.checkpoint import load_classifier, save_classifier
from pets.runtime.profile import runtime

MODELS = {"tf_efficientnet_lite0": (128, 160), "resnet34": (224, 288)}  # arch: (size, resolution)
BATCHES = (1, 32)


def saved_and_exported(folder, arch, size, resolution, images):
    torch.manual_seed(0)
    preprocess = Preprocess(size=size, mean=(0.5,) * 3, std=(0.5,) * 3, resolution=resolution, resize="crop")
    classifier = build_model(arch, [f"class{i}" for i in range(37)], "none", preprocess)
    classifier.module.eval()
    model_path, onnx_path = folder / f"{arch}.pt", folder / f"{arch}.onnx"
    save_classifier(model_path, classifier)
    rows = [{"path": f"images/{path.name}", "label": "class0", "split": "valid"} for path in images[:8]]
    rows.append({**rows[0], "split": "train"})
    cache = folder / f"cache_{arch}"
    cache.mkdir()
    build_cache(rows, ["class0"], folder, cache, resolution=resolution, resize="crop", max_bad_frac=0, workers=1)
    export(load_classifier(model_path), model_path=model_path, onnx_path=onnx_path,
           check_split=CachedSplit(cache, "valid"))  # fmt: skip
    return model_path, onnx_path


def images_per_second(run, count):
    started = time.perf_counter()
    answered = sum(1 for _, top, _ in run() if top)
    assert answered == count, f"{answered} of {count} answered"
    return count / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    active = runtime()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        mosaics(root / "images", args.images)
        images = sorted((root / "images").iterdir())
        for path in images:
            path.read_bytes()
        print(f"{args.images} JPEGs of 500x376, {active.threads} threads; images/s, best of {args.repeats}")
        print("| model | batch | PyTorch (model.pt) | onnxruntime (model.onnx) | onnxruntime / PyTorch |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for arch, (size, resolution) in MODELS.items():
            model_path, onnx_path = saved_and_exported(root, arch, size, resolution, images)
            model = load_classifier(model_path)
            classifier = onnx_model.OnnxClassifier(onnx_path, threads=active.threads)
            for batch in BATCHES:
                batched = dataclasses.replace(active, inference_batch=batch)
                runs = {
                    "torch": functools.partial(predict_files, model, images, runtime=batched, top_k=3, workers=2),
                    "onnx": functools.partial(onnx_model.predict_files, classifier, images, top_k=3, batch_size=batch,
                                              workers=2),
                }  # fmt: skip
                best = {name: 0.0 for name in runs}
                for _ in range(args.repeats):
                    for name, run in runs.items():
                        best[name] = max(best[name], images_per_second(run, len(images)))
                print(f"| {arch} {size} px | {batch} | {best['torch']:.1f} | {best['onnx']:.1f} | "
                      f"{best['onnx'] / best['torch']:.2f}x |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
