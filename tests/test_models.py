import subprocess
import sys
import urllib.error

import pytest
import torch
import torchvision

from pets.config import archs as table
from pets.errors import PetsError
from pets.model.archs import resolve
from pets.model.build import build_model
from pets.model.checkpoint import load_classifier, save_classifier
from pets.model.weights_file import check_weights_file, load_checkpoint
from tests.helpers import ROOT, preprocess, save_model

DATA = preprocess(32, mean=(0.5,) * 3, std=(0.25,) * 3)  # the data's own statistics, at 32 px


def classes(n):
    return [f"class{i}" for i in range(n)]


def saved_resnet18(path, class_names, mean=(0.1, 0.1, 0.1), std=(0.2, 0.2, 0.2)):
    """A seeded resnet18 for `class_names`, saved as a pets checkpoint at `path`; returns its module."""
    return save_model(path, "resnet18", class_names, 32, mean=mean, std=std).module


def test_unknown_arch_suggests_the_closest_names():
    with pytest.raises(PetsError, match="did you mean resnet50"):
        resolve("resnet05")


@pytest.mark.parametrize(
    "arch, head", [("resnet18", "fc"), ("mobilenet_v3_small", "classifier.3"), ("efficientnet_b0", "classifier.1")]
)
def test_head_is_the_last_linear_layer_and_is_replaced_for_the_classes(arch, head):
    model = build_model(arch, classes(7), "none", DATA).module
    assert resolve(arch).head_name(model) == head and model.get_submodule(head).out_features == 7


def place_imagenet_weights(torch_home, arch):
    """A state dict under torchvision's own file name in TORCH_HOME's hub cache, as a download would leave it."""
    weights = torchvision.models.get_model_weights(arch).DEFAULT
    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.manual_seed(123)
    state = torchvision.models.get_model(arch).state_dict()
    torch.save(state, checkpoints / weights.url.rsplit("/", 1)[1])
    return state


def test_imagenet_weights_load_from_torch_home_and_keep_the_body(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    state = place_imagenet_weights(tmp_path, "resnet18")
    classifier = build_model("resnet18", classes(37), "imagenet", DATA)
    loaded = classifier.module.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items() if not k.startswith("fc."))
    assert classifier.module.fc.out_features == 37 and classifier.preprocess.mean == (0.485, 0.456, 0.406)
    assert classifier.preprocess.size == 32 and classifier.pretrained


def test_missing_imagenet_weights_without_network_say_where_and_how_out(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "urlopen", offline)
    with pytest.raises(PetsError) as error:
        build_model("resnet18", classes(37), "imagenet", DATA)
    message = str(error.value)
    assert str(tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth") in message
    assert "-S weights=none" in message and "place https://download.pytorch.org" in message


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path):
    saved = save_model(tmp_path / "model.pt", "resnet18", ["a", "b", "c"], 32)
    again = load_classifier(tmp_path / "model.pt")
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(saved.module(x), again.module(x))
    assert again.classes == ["a", "b", "c"] and again.preprocess == saved.preprocess and again.head == "linear"


def test_weights_from_a_path_with_other_classes_keep_the_body_and_replace_the_head(tmp_path):
    source = saved_resnet18(tmp_path / "five.pt", classes(5))
    classifier = build_model("resnet18", classes(3), str(tmp_path / "five.pt"), DATA)
    saved, loaded = source.state_dict(), classifier.module.state_dict()
    assert all(torch.equal(loaded[k], saved[k]) for k in saved if not k.startswith("fc."))
    assert classifier.module.fc.out_features == 3 and classifier.preprocess.mean == (0.1,) * 3


def test_weights_for_another_arch_or_not_a_checkpoint_are_clear_errors(tmp_path):
    source = saved_resnet18(tmp_path / "r18.pt", list("abcde"))
    with pytest.raises(PetsError, match="a checkpoint of resnet18, not resnet34"):
        build_model("resnet34", classes(3), str(tmp_path / "r18.pt"), DATA)
    torch.save(source.state_dict(), tmp_path / "bare.pt")
    with pytest.raises(PetsError, match=r"not fit resnet34, they are weights of resnet18 or .*resnet18 \(no tensor"):
        build_model("resnet34", classes(3), str(tmp_path / "bare.pt"), DATA)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(PetsError, match="not a PyTorch checkpoint"):
        load_checkpoint(tmp_path / "notes.txt")


def test_the_first_stages_check_of_a_weights_file_reads_shapes_and_refuses_another_arch(tmp_path):
    source = saved_resnet18(tmp_path / "r18.pt", list("abcde"))
    torch.save(source.state_dict(), tmp_path / "bare.pt")
    check_weights_file("resnet18", tmp_path / "r18.pt")
    check_weights_file("resnet18", tmp_path / "bare.pt")  # a state dict of the arch, its head of any classes
    with pytest.raises(PetsError, match=r"params.yaml: weights .*r18.pt: a checkpoint of resnet18, not resnet34; "
                       r"set arch: resnet18"):  # fmt: skip
        check_weights_file("resnet34", tmp_path / "r18.pt")
    with pytest.raises(PetsError, match=r"params.yaml: weights .*bare.pt: these weights do not fit resnet34, they are "
                       r"weights of resnet18 or .*timm/resnet18; set arch to theirs"):  # fmt: skip
        check_weights_file("resnet34", tmp_path / "bare.pt")


@pytest.mark.parametrize("arch", ["resnet18", "squeezenet1_0", "vit_b_16", "tf_efficientnet_lite0", "timm/resnet18"])
def test_the_tables_body_signature_is_that_of_the_model_training_builds(arch):
    """archs.tsv's head prefix and signature, which the first stage checks a state dict against, are those of the
    model the train stage builds (for any classes): else a fitting file would be refused, or one that cannot fit let
    through to the train stage."""
    facts, classifier = table.lookup(arch), build_model(arch, classes(3), "none", DATA)
    head = next(name for name, module in classifier.module.named_modules() if module is classifier.head_module)
    shapes = {key: tensor.shape for key, tensor in classifier.module.state_dict().items()}
    assert facts.head == head and table.body_signature(shapes, head) == facts.body


def test_the_first_stages_check_imports_no_model_library(tmp_path):
    """A state dict of a timm arch, checked against timm's and torchvision's archs without importing either (their
    import is seconds of the first stage): torch and the table only."""
    torch.save(build_model("tf_efficientnet_lite0", classes(3), "none", DATA).module.state_dict(), tmp_path / "lite.pt")
    script = (
        "import sys; from pets.model.weights_file import check_weights_file; from pets.errors import PetsError\n"
        f"check_weights_file('tf_efficientnet_lite0', {str(tmp_path / 'lite.pt')!r})\n"
        "try:\n"
        f"    check_weights_file('tf_efficientnet_lite1', {str(tmp_path / 'lite.pt')!r})\n"
        "except PetsError as error:\n"
        "    print(error)\n"
        "print(sorted(name for name in ('timm', 'torchvision') if name in sys.modules))\n"
    )
    said = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    refusal, imported = said.splitlines()
    expected = f"params.yaml: weights {tmp_path / 'lite.pt'}: these weights do not fit tf_efficientnet_lite1, they "
    assert refusal.startswith(expected + "are weights of tf_efficientnet_lite0 or "), said
    assert imported == "[]"


def test_checkpoints_are_loaded_without_unpickling_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("unpickled!",))

    torch.save({"state_dict": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(PetsError, match="not a PyTorch checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")


def test_layer_groups_cover_every_parameter_once_in_order():
    classifier = build_model("resnet18", classes(4), "none", DATA)
    groups = classifier.layer_groups(2)
    assert len(groups) == 3 and groups[-1] == list(classifier.module.fc.parameters())
    flat = [id(p) for group in groups for p in group]
    assert flat == [id(p) for p in classifier.module.parameters()]


def test_a_checkpoint_for_the_same_classes_keeps_its_head_and_for_other_classes_gets_a_new_one(tmp_path):
    source = saved_resnet18(tmp_path / "three.pt", classes(3))
    same = build_model("resnet18", classes(3), str(tmp_path / "three.pt"), DATA).module
    assert torch.equal(same.fc.weight, source.fc.weight)
    other = build_model("resnet18", ["x", "y", "z"], str(tmp_path / "three.pt"), DATA).module
    assert not torch.equal(other.fc.weight, source.fc.weight)
    assert torch.equal(other.layer4[1].conv2.weight, source.layer4[1].conv2.weight)


@pytest.mark.parametrize("arch", ["googlenet", "squeezenet1_1"])
def test_imagenet_weights_of_odd_heads_train_with_a_plain_head(tmp_path, monkeypatch, arch):
    """googlenet's auxiliary classifiers are loaded and dropped; squeezenet's 1x1 convolution head is replaced."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    state = place_imagenet_weights(tmp_path, arch)
    model = build_model(arch, classes(5), "imagenet", DATA).module
    loaded = model.state_dict()
    head = resolve(arch).head_name(model)
    assert all(torch.equal(loaded[k], v) for k, v in state.items() if k in loaded and not k.startswith(head))
    assert not any(k.startswith("aux") for k in loaded)
    out = model.train()(torch.randn(2, 3, 64, 64))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 5)


@pytest.mark.parametrize(
    "arch, head", [("resnet18", "linear"), ("tf_efficientnet_lite0", "linear"), ("tf_efficientnet_lite0", "fastai")]
)
def test_every_head_round_trips_through_models_pt(tmp_path, arch, head):
    """model.pt did not say which head it had: a fastai head's model could not be loaded by evaluate or predict."""
    saved = save_model(tmp_path / "model.pt", arch, classes(3), 64, head=head)
    again = load_classifier(tmp_path / "model.pt")
    assert again.head == head and again.name == arch and again.classes == classes(3)
    x = torch.randn(2, 3, 64, 64)
    assert torch.equal(saved.module.eval()(x), again.module(x))


def test_a_model_pt_of_an_earlier_version_loads_as_a_linear_head_model(tmp_path):
    saved = save_model(tmp_path / "model.pt", "resnet18", classes(3), 32)
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)
    del checkpoint["head"], checkpoint["settings"], checkpoint["temperature"]  # what 0.2.0 wrote, before them
    torch.save(checkpoint, tmp_path / "old.pt")
    old = load_classifier(tmp_path / "old.pt")
    assert (old.head, old.settings, old.temperature) == ("linear", {}, 1.0)
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(saved.module.eval()(x), old.module(x))


def test_a_builder_setting_no_tensor_holds_is_kept_googlenets_input_transform(tmp_path, monkeypatch):
    """With ImageNet weights, torchvision's googlenet (and inception_v3) re-normalises its input (transform_input);
    rebuilt without weights, it did not: evaluate and predict saw another model than training had trained."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    place_imagenet_weights(tmp_path, "googlenet")
    trained = build_model("googlenet", classes(3), "imagenet", DATA)
    assert trained.settings == {"transform_input": True}
    save_classifier(tmp_path / "model.pt", trained)
    again = load_classifier(tmp_path / "model.pt")
    assert again.module.transform_input is True
    x = torch.randn(2, 3, 64, 64)
    assert torch.equal(trained.module.eval()(x), again.module(x))
