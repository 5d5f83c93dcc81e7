"""timm architectures beside torchvision's, and the ImageNet EfficientNet-Lite0 that ships in a package."""

import shutil
import socket
import time
from dataclasses import replace

import huggingface_hub.constants
import pytest
import skimage.data
import timm
import torch
import torch.nn.functional as F
import torchvision
from safetensors.torch import save_file

from pets.config.schema import check_arch
from pets.errors import PetsError
from pets.model import packaged
from pets.model.archs import TorchvisionArch, resolve
from pets.model.build import build_model
from pets.model.checkpoint import load_classifier
from pets.model.timm_arch import TimmArch
from tests.helpers import PARAMS, preprocess, save_model

CLASSES = [f"class{i}" for i in range(7)]
DATA = preprocess(64)


def test_a_name_both_libraries_know_is_torchvisions_unless_prefixed():
    assert isinstance(resolve("resnet34"), TorchvisionArch)
    timm_resnet = resolve("timm/resnet34")
    assert isinstance(timm_resnet, TimmArch) and timm_resnet.timm_name == "resnet34"
    assert isinstance(resolve("tf_efficientnet_lite0"), TimmArch)


def test_an_unknown_name_suggests_the_closest_of_both_libraries():
    with pytest.raises(PetsError) as error:
        resolve("efficientnet_lite9")
    message = str(error.value)
    assert "neither a torchvision classification model nor a timm model" in message
    suggested = message.split("did you mean ")[1].rstrip("?").split(", ")
    assert any(name in torchvision.models.list_models() for name in suggested)
    assert any(timm.is_model(name) and name not in torchvision.models.list_models() for name in suggested)


def test_a_timm_model_gets_a_new_head_through_timms_api_and_its_own_normalisation(tmp_path):
    classifier = save_model(tmp_path / "model.pt", "tf_efficientnet_lite0", CLASSES, 64)
    model = classifier.module
    assert model.get_classifier().out_features == 7 and classifier.preprocess.mean == DATA.mean
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 7)
    assert resolve("tf_efficientnet_lite0").mean == (0.5, 0.5, 0.5)  # from timm's pretrained config
    again = load_classifier(tmp_path / "model.pt").module
    x = torch.randn(2, 3, 64, 64)
    assert torch.equal(model.eval()(x), again(x))


def test_timm_layer_groups_are_cut_at_the_models_stages():
    classifier = build_model("tf_efficientnet_lite0", CLASSES, "none", DATA)
    model, groups = classifier.module, classifier.layer_groups(3)
    assert [id(p) for g in groups for p in g] == [id(p) for p in model.parameters()]  # each once, in order
    assert groups[-1] == list(model.classifier.parameters())
    names = {id(p): name for name, p in model.named_parameters()}
    firsts = [names[id(group[0])] for group in groups[1:-1]]
    assert all(name.startswith("blocks.") and name.split(".")[2] == "0" for name in firsts), (
        firsts
    )  # a stage's first block
    sizes = [sum(p.numel() for p in group) for group in groups[:-1]]
    assert max(sizes) < 4 * min(sizes), sizes  # at the boundary nearest an equal share, not one block each
    with pytest.raises(PetsError, match="train.body_groups is 12, but tf_efficientnet_lite0's body has only 8 stages"):
        check_arch("tf_efficientnet_lite0", PARAMS.size, replace(PARAMS.train, body_groups=12))


def test_timm_weights_from_a_path_in_timms_layout(tmp_path):
    torch.manual_seed(0)
    source = timm.create_model("tf_efficientnet_lite0")
    torch.save(source.state_dict(), tmp_path / "lite0.pth")
    classifier = build_model("tf_efficientnet_lite0", CLASSES, str(tmp_path / "lite0.pth"), DATA)
    loaded, saved = classifier.module.state_dict(), source.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in saved.items() if not k.startswith("classifier."))
    assert classifier.module.classifier.out_features == 7 and classifier.preprocess.mean == (0.5, 0.5, 0.5)


def test_timm_imagenet_weights_load_from_the_hub_cache(tmp_path, monkeypatch):
    """The real path of `weights: imagenet` for a timm arch: the file as huggingface_hub caches a download."""
    arch = resolve("resnet10t")  # a small timm model torchvision does not have
    repo = tmp_path / f"models--{arch.config['hf_hub_id'].replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    (repo / "snapshots" / ("0" * 40)).mkdir(parents=True)
    torch.manual_seed(1)
    state = timm.create_model("resnet10t").state_dict()
    save_file(state, repo / "snapshots" / ("0" * 40) / "model.safetensors")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    model = arch.imagenet_model()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())


def test_timm_imagenet_weights_without_network_name_the_arch_the_cache_and_the_offline_ways(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PetsError) as error:
        build_model("convnext_atto", CLASSES, "imagenet", DATA)
    message = str(error.value)
    assert "ImageNet weights for convnext_atto" in message and str(tmp_path) in message
    assert "-S arch=tf_efficientnet_lite0" in message and "-S weights=none" in message and "\n" not in message


def test_timm_imagenet_weights_offline_fail_at_once_not_after_a_minute_of_retries(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)

    def no_network(address, *args, **kwargs):
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", no_network)
    started = time.monotonic()
    with pytest.raises(PetsError, match=r"ImageNet weights for convnext_atto are not in .* and huggingface.co cannot "
                       r"be reached; offline, use -S arch=tf_efficientnet_lite0"):  # fmt: skip
        build_model("convnext_atto", CLASSES, "imagenet", DATA)
    assert time.monotonic() - started < 10  # huggingface_hub alone retries for about 65 s
    assert huggingface_hub.constants.HF_HUB_OFFLINE is False  # set back


@pytest.fixture(scope="module", params=sorted(packaged.PACKAGES))
def imagenet_lite(request):
    return resolve(request.param).imagenet_model().eval()


@pytest.mark.parametrize("arch", sorted(packaged.PACKAGES))
def test_the_packaged_lite_weights_map_one_to_one_onto_timms_layout(arch):
    converted = packaged.imagenet_state_dict(arch)
    model = timm.create_model(arch)
    expected = model.state_dict()
    assert len(converted) == len(expected) == {"tf_efficientnet_lite0": 296}.get(arch, len(expected))
    assert {k: v.shape for k, v in converted.items()} == {k: v.shape for k, v in expected.items()}
    assert packaged.PACKAGES[arch].stage_depths == tuple(len(stage) for stage in model.blocks)


@pytest.mark.parametrize("photo, imagenet_classes", [("chelsea", range(281, 286)), ("coffee", (967, 968))])
def test_the_untouched_imagenet_lite_bodies_recognise_real_photographs(imagenet_lite, photo, imagenet_classes):
    """Cats are ImageNet's classes 281-285, espresso and cup 967 and 968: the conversion is right, not only loaded."""
    pixels = torch.from_numpy(getattr(skimage.data, photo)()).permute(2, 0, 1)[None].float() / 255
    images = (F.interpolate(pixels, size=(224, 224), mode="bilinear", antialias=True) - 0.5) / 0.5
    with torch.no_grad():
        assert imagenet_lite(images).argmax(1).item() in imagenet_classes


def test_a_damaged_packaged_file_is_refused_naming_it_and_nothing_is_loaded(tmp_path, monkeypatch):
    package = packaged.PACKAGES["tf_efficientnet_lite2"]
    damaged = tmp_path / "efficientnet-lite2.pth"
    shutil.copy(packaged.packaged_file(package), damaged)
    with open(damaged, "r+b") as file:
        file.seek(100_000)
        file.write(b"\xff\xfe")
    monkeypatch.setattr(packaged, "packaged_file", lambda package: damaged)
    with pytest.raises(PetsError, match=f"{damaged}: the packaged tf_efficientnet_lite2 weights are damaged"):
        build_model(package.arch, CLASSES, "imagenet", DATA)


@pytest.mark.parametrize(
    "arch, size, message",
    [
        ("inception_v3", 64, "size is 64, but inception_v3 takes images of at least 75x75"),
        ("vit_b_16", 128, "size is 128, but vit_b_16 takes 224x224 images only; set size: 224"),
        ("swin_v2_t", 224, "size is 224, but swin_v2_t takes images of at least 256x256"),
        ("timm/vit_tiny_patch16_224", 128, "timm/vit_tiny_patch16_224 takes 224x224 images only; set size: 224"),
    ],
)
def test_a_size_the_architecture_cannot_take_is_refused_before_any_work(arch, size, message):
    with pytest.raises(PetsError, match=message):
        check_arch(arch, size, PARAMS.train)
    check_arch(arch, 256 if arch == "swin_v2_t" else 224, PARAMS.train)
