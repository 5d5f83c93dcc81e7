"""A run resumed from the checkpoint of any epoch ends where an uninterrupted one does; a checkpoint that does not
belong to the run is ignored with one line, and never loaded half."""

import copy
import shutil

import pytest
import torch

from pets.config.settings import parse_params, set_dotted
from pets.train.loop import TIMINGS
from pets.train.resume import Resume, fingerprint, read_state, write_state
from tests.helpers import PARAMS, classifier_on, fit_on, recipe

# pretrained=True: a frozen phase of 2 epochs, then an unfrozen one of 2, each with its own optimizer and schedule
RECIPE = dict(epochs=2, epochs_unfrozen=2, batch_size=8, seed=3)


def without_timings(history):
    return [{k: v for k, v in row.items() if k not in TIMINGS} for row in history]


@pytest.fixture(scope="module")
def uninterrupted(colour_cache, tmp_path_factory):
    """(final weights, history, {epoch: checkpoint path}) of a run that saved a resume checkpoint after every epoch."""
    folder = tmp_path_factory.mktemp("resume")
    classifier = classifier_on(colour_cache)
    model = classifier.module
    resume = Resume("fingerprint", "resnet18", ["blue", "red"], folder / "resume.pt")
    saved = {}

    def after_epoch(history, optimizer, schedule):
        resume.save(model, optimizer, schedule, history)
        saved[len(history)] = shutil.copy(resume.path, folder / f"epoch{len(history)}.pt")

    history = fit_on(colour_cache, classifier, recipe(**RECIPE), after_epoch=after_epoch)
    return model.state_dict(), history, saved


@pytest.mark.parametrize("epoch", [1, 2, 3], ids=["in the frozen phase", "between the phases", "in the unfrozen phase"])
def test_a_run_resumed_after_any_epoch_ends_bit_identical(colour_cache, uninterrupted, epoch):
    weights, history, saved = uninterrupted
    classifier = classifier_on(colour_cache)
    model = classifier.module  # a fresh model: the checkpoint brings the trained weights
    lines = []
    resumed = Resume("fingerprint", "resnet18", ["blue", "red"], saved[epoch]).load(model, lines.append)
    assert lines == [f"train: resuming after epoch {epoch} from {saved[epoch]}"]
    trained = []
    resumed_history = fit_on(colour_cache, classifier, recipe(**RECIPE), log=trained.append, resumed=resumed)
    assert [line.split(":")[0] for line in trained] == [
        f"epoch {e} ({'frozen' if e <= 2 else 'unfrozen'})" for e in range(epoch + 1, 5)
    ]  # only the remaining epochs
    assert without_timings(resumed_history) == without_timings(history)
    assert all(torch.equal(weights[name], tensor) for name, tensor in model.state_dict().items())


def test_the_fingerprint_follows_the_params_the_cache_and_the_code(colour_cache, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  train:\n    deps: [data/cache, stages/train.py]\n    params: [arch, weights, size, train]\n"
    )
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages/train.py").write_text("print('training')\n")
    cache = tmp_path / "cache"
    shutil.copytree(colour_cache, cache, ignore=shutil.ignore_patterns("images"))

    def params(**changes):
        tree = copy.deepcopy(PARAMS.tree)
        for key, value in {"arch": "resnet18", "weights": "none", "size": 16, **changes}.items():
            set_dotted(tree, key, value)
        return parse_params(tree)

    first = fingerprint(params(), cache)
    assert fingerprint(params(**{"evaluate.tta": True}), cache) == first  # not a param of the train stage
    assert fingerprint(params(**{"train.lr": 0.02}), cache) != first
    with open(cache / "train.npy", "r+b") as pixels:  # one byte of one image
        pixels.seek(-1, 2)
        last = pixels.read(1)
        pixels.seek(-1, 2)
        pixels.write(bytes([last[0] ^ 1]))
    second = fingerprint(params(), cache)
    assert second != first
    (tmp_path / "stages/train.py").write_text("print('training, changed')\n")  # the code that trains
    assert fingerprint(params(), cache) != second


def damaged(path):
    path.write_bytes(path.read_bytes()[:1000])


def overwritten(path):
    """64 bytes inside the largest weight tensor changed: without the digest the file would load, into other weights."""
    weights = max(read_state(path)[0]["model"].values(), key=lambda tensor: tensor.numel())
    raw, data = weights.numpy().tobytes(), bytearray(path.read_bytes())
    start = data.find(raw[:256])
    assert start > 0 and len(raw) >= 128
    data[start + 64 : start + 128] = bytes(a ^ 0xFF for a in data[start + 64 : start + 128])
    path.write_bytes(bytes(data))


def a_state_dict(path):
    torch.save(read_state(path)[0]["model"], path)


def weights_not_a_mapping(path):
    write_state(path, {**read_state(path)[0], "model": [1.0, 2.0]})


def without(key):
    def remove(path):
        state = read_state(path)[0]
        del state[key]
        write_state(path, state)

    return remove


def unwrapped(path):
    """The checkpoint as this project wrote it before the digest."""
    torch.save(read_state(path)[0], path)


@pytest.mark.parametrize(
    "damage, run, reason",
    [
        (damaged, {}, "cannot be read (RuntimeError)"),
        (overwritten, {}, "is damaged (its contents do not match their sha256)"),
        (a_state_dict, {}, "is not a resume checkpoint"),
        (unwrapped, {}, "is not a resume checkpoint"),
        (weights_not_a_mapping, {}, "is not a resume checkpoint (no valid model)"),
        (without("optimizer"), {}, "is not a resume checkpoint (no valid optimizer)"),
        (without("history"), {}, "is not a resume checkpoint (no valid history)"),
        (None, {"arch": "resnet34"}, "is for arch resnet18, not resnet34"),
        (None, {"classes": ["blue", "green", "red"]}, "is for other classes (2, not these 3)"),
        (None, {"fingerprint": "other params"}, "is from other params, data or code"),
    ],
    ids=[
        "cut short",
        "64 bytes overwritten",
        "a state dict",
        "without a digest",
        "weights not a mapping",
        "no optimizer",
        "no history",
        "other arch",
        "other classes",
        "other params or data",
    ],  # fmt: skip
)
def test_a_checkpoint_of_something_else_is_ignored_with_one_line(
    colour_cache, uninterrupted, tmp_path, damage, run, reason
):
    path = shutil.copy(uninterrupted[2][1], tmp_path / "resume.pt")
    if damage:
        damage(path)
    model = classifier_on(colour_cache).module
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    lines = []
    settings = {"fingerprint": "fingerprint", "arch": "resnet18", "classes": ["blue", "red"], **run}
    assert Resume(**settings, path=path).load(model, lines.append) is None
    assert lines == [f"train: {path} {reason}; ignored, training from epoch 1"]
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())


def test_a_checkpoint_that_does_not_fit_the_model_is_not_loaded_half(colour_cache, uninterrupted, tmp_path):
    path = tmp_path / "resume.pt"
    state = read_state(uninterrupted[2][1])[0]
    state["model"]["fc.weight"] = torch.zeros(2, 16)  # the last tensor is wrong, every other one would load
    write_state(path, state)
    model = classifier_on(colour_cache).module
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    lines = []
    assert Resume("fingerprint", "resnet18", ["blue", "red"], path).load(model, lines.append) is None
    assert lines == [f"train: {path} does not fit the model; ignored, training from epoch 1"]
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())
