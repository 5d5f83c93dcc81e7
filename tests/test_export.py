"""ONNX export: each family exported and checked against PyTorch, the ONNX predictor without torch, and the ways an
export or an ONNX file can be wrong, each told in one line."""

import copy
import json
import os
import shutil
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
import torch
from PIL import Image
from skimage import data as photographs
from torch import nn

from pets.data.cache import build_cache, read_manifest
from pets.data.presets import Preprocess
from pets.errors import PetsError
from pets.inference.calibration import scaled
from pets.inference.export import CLOSEST, SAMPLE, TOLERANCE, Expected, check_against_scores, export
from pets.inference.exported import check_exported_from
from pets.inference.forward import score_splits
from pets.inference.onnx_model import OnnxClassifier, predict_files
from pets.inference.predict import predict_files as torch_predict_files
from pets.model.build import build_model
from pets.model.checkpoint import load_classifier, save_classifier
from pets.model.classifier import Classifier
from tests.helpers import CPU, ROOT

RESOLUTION = 240
PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "retina", "immunohistochemistry"]
CLASSES = ["cat", "cup", "other"]
# one of each family the issue names: a ResNet, Google's EfficientNet-Lite0, a ConvNeXt and timm's smallest ViT
ARCHS = {"resnet18": 96, "tf_efficientnet_lite0": 128, "convnext_atto": 96, "vit_tiny_patch16_224": 224}


@pytest.fixture(scope="module")
def photo_cache(tmp_path_factory):
    """Six real photographs as a validation split at 240 px (and one to train, which the cache needs)."""
    root = tmp_path_factory.mktemp("export")
    (root / "images").mkdir()
    rows = []
    for i, name in enumerate(PHOTOS):
        Image.fromarray(getattr(photographs, name)()).convert("RGB").save(root / f"images/{name}.png")
        rows.append({"path": f"images/{name}.png", "label": CLASSES[i % 3], "split": "valid"})
    rows.append({"path": "images/chelsea.png", "label": "cat", "split": "train"})
    build_cache(rows, CLASSES, root, root, resolution=RESOLUTION, resize="crop", max_bad_frac=0, workers=1)
    return root


def expected_of(classifier, cache):
    """What the train stage's scores give the check: PyTorch's calibrated probabilities of the validation images."""
    files = read_manifest(cache)["splits"]["valid"]["files"]
    return Expected(scaled(score_splits(classifier, cache, CPU)["valid"], classifier.temperature), files, cache)


def exported(tmp_path, photo_cache, arch, size, temperature=0.25):
    """model.pt of a randomly initialised `arch` and its model.onnx; temperature 0.25 sharpens the probabilities,
    so that agreement within the tolerance says more than it would of near-uniform ones."""
    torch.manual_seed(0)
    preprocess = Preprocess(size=size, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3), resolution=RESOLUTION, resize="crop")
    classifier = build_model(arch, CLASSES, "none", preprocess)
    classifier.module.eval()
    classifier.temperature = temperature
    model_path, onnx_path = tmp_path / "model.pt", tmp_path / "model.onnx"
    save_classifier(model_path, classifier)
    classifier = load_classifier(model_path)
    check = export(
        classifier, model_path=model_path, onnx_path=onnx_path, expected=expected_of(classifier, photo_cache)
    )
    return load_classifier(model_path), model_path, onnx_path, check


@pytest.fixture(scope="module")
def resnet18_export(tmp_path_factory, photo_cache):
    """One exported resnet18 for the tests below (each copies what it changes)."""
    return exported(tmp_path_factory.mktemp("resnet18"), photo_cache, "resnet18", ARCHS["resnet18"])


@pytest.mark.parametrize("arch", ARCHS)
def test_each_family_exports_and_onnxruntime_gives_pytorchs_probabilities(tmp_path, photo_cache, arch, request):
    if arch == "resnet18":  # exported once for this module
        model, model_path, onnx_path, check = request.getfixturevalue("resnet18_export")
    else:
        model, model_path, onnx_path, check = exported(tmp_path, photo_cache, arch, ARCHS[arch])
    assert check["images"] == len(PHOTOS) and check["max_abs_difference"] <= TOLERANCE and check["opset"] >= 18
    classifier = OnnxClassifier(onnx_path)
    assert classifier.classes == CLASSES and classifier.arch == arch and classifier.temperature == 0.25
    assert classifier.preprocess == model.preprocess.to_checkpoint()
    # any batch size, from the image files: the same top classes as model.pt's predict, probabilities within 1e-4
    files = sorted((photo_cache / "images").glob("*.png"))
    pytorch = list(torch_predict_files(model, files, runtime=CPU, top_k=3, workers=0))
    for batch_size in (1, 4):
        onnx = list(predict_files(classifier, files, top_k=3, batch_size=batch_size))
        for (_, want, _), (_, got, error) in zip(pytorch, onnx):
            assert not error and [c for c, _ in got] == [c for c, _ in want]
            assert np.allclose([p for _, p in got], [p for _, p in want], atol=TOLERANCE)
    assert len({p for _, top, _ in pytorch for _, p in top}) > 3  # the probabilities differ between images


def test_an_onnx_model_that_differs_from_pytorch_fails_the_check_naming_the_largest_difference(
    resnet18_export, photo_cache
):
    model, _, onnx_path, _ = resnet18_export
    model = copy.deepcopy(model)
    with torch.no_grad():
        model.module.fc.bias += torch.tensor([0.0, 0.3, 0.0])  # PyTorch's model no longer the one exported
    with pytest.raises(PetsError) as failed:
        check_against_scores(onnx_path, expected_of(model, photo_cache), name="model.onnx")
    message = str(failed.value)
    assert "\n" not in message and "model.onnx does not match PyTorch on the valid images" in message
    assert (
        "the largest probability difference is" in message and "images/" in message and "tolerance is 0.0001" in message
    )


class WithSvd(nn.Module):
    """A model with an operator (a singular value decomposition) that the ONNX exporter has no function for."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        return self.fc(torch.linalg.svdvals(x.mean(1)).mean(-1, keepdim=True).expand(-1, 3))


class WithAttention(nn.Module):
    """Self-attention as torchvision's ViT has it (nn.MultiheadAttention, batch first), whose fused inference kernel
    has no ONNX function: the export writes its parts instead."""

    def __init__(self):
        super().__init__()
        self.attention = nn.MultiheadAttention(8, 2, batch_first=True)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        tokens = x.flatten(2)[:, :, :8]  # three tokens of 8, one a colour channel
        return self.fc(self.attention(tokens, tokens, tokens, need_weights=False)[0].mean(1))


def test_a_model_with_torchvisions_attention_exports_and_matches_pytorch(tmp_path, photo_cache):
    torch.manual_seed(0)
    preprocess = Preprocess(size=32, mean=(0.5,) * 3, std=(0.5,) * 3, resolution=RESOLUTION, resize="crop")
    (tmp_path / "model.pt").write_bytes(b"stands in for the checkpoint: only its hash is read")
    classifier = Classifier(WithAttention(), SimpleNamespace(name="attention"), "linear", CLASSES, preprocess)
    classifier.module.eval()
    check = export(classifier, model_path=tmp_path / "model.pt", onnx_path=tmp_path / "model.onnx",
                   expected=expected_of(classifier, photo_cache))  # fmt: skip
    assert check["images"] == len(PHOTOS) and check["max_abs_difference"] <= TOLERANCE
    assert torch.backends.mha.get_fastpath_enabled()  # PyTorch's own inference keeps its fused kernel


def test_the_check_is_bounded_seeded_and_holds_the_images_closest_to_another_class():
    rng = np.random.default_rng(0)
    for n in (6, 260, 1478, 20_000):
        probabilities = rng.dirichlet(np.ones(37), size=n)
        expected = Expected(probabilities, [f"{i}.jpg" for i in range(n)], ROOT)
        rows = expected.rows()
        assert rows == sorted(set(rows)) == expected.rows() and len(rows) <= min(n, SAMPLE + CLOSEST)
        assert len(rows) == n if n <= SAMPLE else len(rows) >= SAMPLE  # a split of 6 whole, of 20,000 a bound
        least_sure = np.argsort(probabilities.max(1))[: min(n, CLOSEST)]
        assert set(least_sure.tolist()) <= set(rows)
    assert len(Expected(np.ones((100, 2)) / 2, ["x"] * 100, ROOT).rows()) == 100  # a small split: every image


def test_a_model_the_exporter_cannot_handle_is_one_line_naming_the_arch_and_the_operator(tmp_path, photo_cache):
    preprocess = Preprocess(size=32, mean=(0.5,) * 3, std=(0.5,) * 3, resolution=RESOLUTION, resize="crop")
    (tmp_path / "model.pt").write_bytes(b"stands in for the checkpoint: only its hash is read")
    svdnet = Classifier(WithSvd(), SimpleNamespace(name="svdnet"), "linear", CLASSES, preprocess)
    with pytest.raises(PetsError) as failed:
        export(svdnet, model_path=tmp_path / "model.pt", onnx_path=tmp_path / "model.onnx",
               expected=Expected(np.zeros((len(PHOTOS), 3)), PHOTOS, photo_cache))  # fmt: skip
    message = str(failed.value)
    assert "\n" not in message and message.startswith("svdnet cannot be exported to ONNX (opset 20)")
    assert "operator aten::linalg_svdvals" in message
    assert sorted(os.listdir(tmp_path)) == ["model.pt"]  # no ONNX file, and no temporary one, left behind


def test_an_onnx_file_exported_from_another_model_pt_is_refused_in_one_line(tmp_path, resnet18_export):
    model_path = tmp_path / "model.pt"
    shutil.copy(resnet18_export[1], model_path)
    classifier = OnnxClassifier(resnet18_export[2])
    check_exported_from(classifier, model_path)  # the model it came from: nothing to say
    check_exported_from(classifier, tmp_path / "absent.pt")  # no model.pt beside it (copied elsewhere): nothing
    model_path.write_bytes(model_path.read_bytes() + b"retrained")
    with pytest.raises(PetsError, match=r"^\S+model.onnx was exported from another \S+model.pt than the one there now "
                       r"\(sha256 \w{12}, now \w{12}\): run dvc repro export to export it again$"):  # fmt: skip
        check_exported_from(classifier, model_path)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.onnx's TorchScript exporter, as the export's
@pytest.mark.parametrize(
    ("content", "said"),
    [(b"not onnx at all", "not an ONNX model onnxruntime can load"), (None, "not a pets ONNX model (its metadata")],
)
def test_a_file_that_is_not_a_pets_onnx_model_is_one_line(tmp_path, content, said):
    path = tmp_path / "model.onnx"
    if content is None:  # a real ONNX model, but not one of ours: no metadata
        torch.onnx.export(nn.Linear(2, 2).eval(), (torch.zeros(1, 2),), str(path), dynamo=False)
    else:
        path.write_bytes(content)
    with pytest.raises(PetsError) as refused:
        OnnxClassifier(path)
    assert said in str(refused.value) and "\n" not in str(refused.value)


def test_the_onnx_model_predicts_from_four_copied_files_with_torch_unimportable(tmp_path, photo_cache, resnet18_export):
    onnx_path = resnet18_export[2]
    served = tmp_path / "elsewhere"
    for name in ("pets/errors.py", "pets/data/images.py", "pets/inference/answers.py", "pets/inference/onnx_model.py"):
        (served / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, served / name)  # as docs/shipping.md says: these files, keeping their paths
    shutil.copy(onnx_path, served / "model.onnx")
    shutil.copy(photo_cache / "images/chelsea.png", served / "chelsea.png")
    blocked = "import runpy, sys; sys.modules['torch'] = None; runpy.run_module('pets.inference.onnx_model', "
    blocked += "run_name='__main__')"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", blocked, "model.onnx", "chelsea.png", "--min-confidence", "1"],
                            cwd=served, env=env, capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    name, verdict, classes = result.stdout.strip().split("\t")
    assert name == "chelsea.png" and verdict == "unsure" and len(classes.split(", ")) == 3
    expected = OnnxClassifier(onnx_path)
    top = expected.top(expected.probabilities(expected.load(served / "chelsea.png")[None])[0], 3)
    assert classes == ", ".join(f"{c} {p:.3f}" for c, p in top)


def test_pets_predict_on_an_onnx_model_does_not_import_torch(tmp_path, photo_cache, resnet18_export):
    onnx_path = resnet18_export[2]
    blocked = "import sys; sys.modules['torch'] = None; from pets.__main__ import main; main()"
    args = ["predict", "--model", str(onnx_path), str(photo_cache / "images"), "--json"]
    result = subprocess.run([sys.executable, "-c", blocked, *args], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    assert [a["path"].rsplit("/", 1)[1] for a in answers] == sorted(f"{name}.png" for name in PHOTOS)
    assert all(len(a["predictions"]) == 3 and not a["unsure"] for a in answers)


def with_metadata(source, target, **changes):
    """A copy of an exported model.onnx with metadata values changed (None: removed)."""
    model = onnx.load(str(source))
    kept = {entry.key: entry.value for entry in model.metadata_props}
    kept.update(changes)
    del model.metadata_props[:]
    for key, value in kept.items():
        if value is not None:
            model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(target))
    return target


@pytest.mark.parametrize(
    "changes, said",
    [
        ({"classes": json.dumps(CLASSES + ["extra"])},
         "its metadata's classes names 4 classes, but the model gives 3 probabilities"),
        ({"classes": "[]"}, "its metadata's classes is not a list of class names"),
        ({"classes": "cat, cup"}, "its metadata's classes is not JSON"),
        ({"temperature": "warm"}, "its metadata's temperature 'warm' is not a number"),
        ({"temperature": "-1"}, "its metadata's temperature -1 is not a positive number"),
        ({"preprocess": json.dumps({"size": 96, "resize": "crop"})}, "its metadata's preprocess has no resolution"),
        ({"preprocess": json.dumps({"resolution": 128, "resize": "crop"})},
         "its metadata's preprocess says 128 px, but the model takes 240 x 240 pixels"),
    ],
    ids=["more classes", "no classes", "classes not JSON", "temperature not a number", "temperature negative",
         "no resolution", "another resolution"],
)  # fmt: skip
def test_onnx_metadata_that_does_not_fit_the_graph_is_refused_in_one_line(tmp_path, resnet18_export, changes, said):
    path = with_metadata(resnet18_export[2], tmp_path / "edited.onnx", **changes)
    with pytest.raises(PetsError) as refused:
        OnnxClassifier(path)
    message = str(refused.value)
    assert message == f"{path}: {said}; export it again (dvc repro export)"


@pytest.mark.parametrize("top", ["0", "-2"])
def test_a_top_below_one_is_refused_on_every_entry_point(resnet18_export, photo_cache, top):
    for command in (["-m", "pets.inference.onnx_model", str(resnet18_export[2])],
                    ["-m", "pets", "predict", "--model", str(resnet18_export[2])]):  # fmt: skip
        result = subprocess.run([sys.executable, *command, str(photo_cache / "images"), "--top", top],
                                capture_output=True, text=True, cwd=ROOT)  # fmt: skip
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.splitlines()[-1].endswith(f"argument --top: must be at least 1, not {top}")


def test_an_onnx_model_copied_out_of_its_project_is_used_as_it_is_and_an_upper_case_suffix_is_onnx(
    tmp_path, resnet18_export, photo_cache
):
    """Inside another project, a copied model.onnx was refused as stale against that project's own model.pt."""
    other = tmp_path / "other project"
    (other / "models").mkdir(parents=True)
    (other / "models/model.pt").write_bytes(b"that project's own model")
    shutil.copy(resnet18_export[2], other / "mine.ONNX")
    result = subprocess.run([sys.executable, "-m", "pets", "predict", "--model", "mine.ONNX", "--json",
                             str(photo_cache / "images/chelsea.png")], cwd=other, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [p["class"] for p in json.loads(result.stdout)[0]["predictions"]] != []
    shutil.copy(resnet18_export[2], other / "models/model.onnx")  # the project's own export: checked against model.pt
    stale = subprocess.run([sys.executable, "-m", "pets", "predict", "--model", "models/model.onnx",
                            str(photo_cache / "images/chelsea.png")], cwd=other, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert stale.returncode == 1 and "was exported from another models/model.pt" in stale.stderr
