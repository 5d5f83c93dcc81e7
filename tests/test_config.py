"""The one source of each setting: the arch table matches the installed libraries, the layout matches dvc.yaml,
every param is read by the stages that list it, the schema knows the built-in datasets' options."""

import inspect

import pytest
import timm
import torchvision
import yaml

from pets.config import archs, layout
from pets.config.schema import BUILTIN_OPTIONS
from pets.config.weights import Weights
from pets.data.recipes import BUILTINS
from pets.model.archs import TorchvisionArch, facts, torchvision_family
from pets.model.timm_arch import TimmArch
from tests.helpers import PARAMS, ROOT

DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
# archs of each kind the table must describe as the model code does: fixed sizes, least sizes, stages or none
SAMPLE = [
    "resnet18",
    "vit_b_16",
    "inception_v3",
    "swin_v2_t",
    "maxvit_t",
    "squeezenet1_0",
    "regnet_x_400mf",
    "tf_efficientnet_lite0",
    "timm/resnet34",
    "convnext_atto",
    "vit_tiny_patch16_224",
    "resnet10t",
]


def test_the_arch_table_was_written_from_the_installed_libraries():
    assert archs.table_versions() == archs.versions(), "regenerate it: python -m pets.model.archs"
    torchvision_names = {n for n in torchvision.models.list_models(module=torchvision.models) if torchvision_family(n)}
    assert set(archs.rows()["torchvision"]) == torchvision_names
    listed = set(archs.rows()["timm"])
    assert listed <= set(timm.list_models())
    assert len(listed) > 0.95 * len(timm.list_models())  # all but encoders and two-headed (distilled) models


@pytest.mark.parametrize("arch", SAMPLE)
def test_the_arch_table_says_what_the_model_code_says(arch):
    listed = archs.lookup(arch)
    spec = TorchvisionArch(arch) if listed.library == "torchvision" else TimmArch(arch, arch.removeprefix("timm/"))
    assert facts(spec) == listed


def test_a_pretrained_tag_is_timms_model_of_that_name():
    assert (
        archs.lookup("resnet50.a1_in1k") == archs.lookup("timm/resnet50")
        and archs.lookup("timm/resnet50").library == "timm"
    )
    assert archs.lookup("resnet50").library == "torchvision" and archs.lookup("resnet5O") is None


def test_every_path_of_the_layout_is_in_dvc_yaml_and_every_output_in_the_layout():
    named = {str(value) for key, value in vars(layout).items() if key.isupper()}
    in_dvc = set()
    for stage in DVC["stages"].values():
        for entry in [*stage.get("outs", []), *stage.get("metrics", []), *stage.get("plots", []), *stage["deps"]]:
            path = next(iter(entry)) if isinstance(entry, dict) else entry
            if not path.endswith(".py"):
                in_dvc.add(path)
    not_outputs = {
        str(layout.DOWNLOADS),
        str(layout.HASHES),
        str(layout.RESUME),
        str(layout.TRAIN_LOCK),
        str(layout.METRICS),
        str(layout.INDEX_TABLE),
        str(layout.CLASSES),
        str(layout.COMPARE_PNG),
        str(layout.LABEL_REVIEW),
        str(layout.LABEL_REVIEW_PNG),
        str(layout.TIMINGS),
    }  # kept between runs, a folder, files inside an output folder, written by python -m pets compare or audit, or
    # by every stage but never a result (timings)
    assert in_dvc == named - not_outputs
    assert {str(layout.INDEX_TABLE.parent), str(layout.CLASSES.parent)} <= in_dvc


def leaves(tree, prefix=""):
    for key, value in tree.items():
        if isinstance(value, dict) and key != "datasets":
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_every_param_is_listed_by_a_stage_but_the_one_params_yaml_names():
    listed = {
        key.replace("${data}", PARAMS.data) for stage in DVC["stages"].values() for key in stage.get("params", [])
    }
    unlisted = [
        key
        for key in leaves(PARAMS.tree)
        if not any(key == name or key.startswith(name + ".") or name.startswith(key + ".") for name in listed)
    ]
    # speed and where machines meet only: params.yaml's first lines say so
    assert unlisted == ["cache.workers", "rendezvous.endpoint", "rendezvous.timeout"]
    assert "but cache.workers and rendezvous" in " ".join((ROOT / "params.yaml").read_text().splitlines()[:2])


def test_the_schema_knows_each_builtin_datasets_options():
    assert set(BUILTIN_OPTIONS) == set(BUILTINS)
    for name, writer in BUILTINS.items():
        assert BUILTIN_OPTIONS[name] == tuple(inspect.signature(writer).parameters)[1:]


def test_weights_are_the_librarys_by_name_or_a_file():
    assert Weights.parse("imagenet") == Weights("imagenet") and Weights.parse("imagenet").pretrained
    assert not Weights.parse("none").pretrained
    assert Weights.parse("models/old.pt").kind == "file" and str(Weights.parse("models/old.pt").path) == "models/old.pt"
