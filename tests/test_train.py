import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from pets.errors import PetsError
from pets.runtime.profile import Runtime
from pets.train import validation
from pets.train.loop import TIMINGS
from pets.train.recipe import OneCycle, make_optimizer, phases
from tests.helpers import NO_AUGMENT, classifier_on, fit_on, recipe


def test_a_frozen_epoch_leaves_the_body_bit_identical_and_trains_the_head(colour_cache):
    classifier = classifier_on(colour_cache)
    model = classifier.module
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fit_on(colour_cache, classifier, recipe())
    after = model.state_dict()
    body = [k for k in before if not k.startswith("fc.")]
    assert all(torch.equal(before[k], after[k]) for k in body)  # weights and BatchNorm statistics alike
    assert not torch.equal(before["fc.weight"], after["fc.weight"])


def test_the_unfrozen_phase_updates_every_layer_group_at_its_own_rate(colour_cache):
    classifier = classifier_on(colour_cache)
    frozen, unfrozen = phases(recipe(), pretrained=True)
    assert frozen[3] == [0.0, 0.0, 1e-2]
    assert np.allclose(unfrozen[3], [1e-4, 1e-3, 1e-2])
    optimizer = make_optimizer(classifier, recipe(), unfrozen[3])
    groups = classifier.layer_groups(2)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([1e-4, 1e-3, 1e-2])
    assert [len(g["params"]) for g in optimizer.param_groups] == [len(g) for g in groups]
    before = [[p.clone() for p in g] for g in groups]
    fit_on(colour_cache, classifier, recipe(epochs=0, epochs_unfrozen=1))
    for group_before, group_after in zip(before, groups):
        assert any(not torch.equal(b, a) for b, a in zip(group_before, group_after))


def test_without_pretrained_weights_everything_trains_from_the_start():
    first, _ = phases(recipe(), pretrained=False)
    assert first[0] == "all" and first[1] is False and first[3] == [1e-2] * 3


def test_one_cycle_warms_up_for_a_quarter_then_anneals():
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = OneCycle(optimizer, 100, momentum=(0.9, 0.9))
    trace = []
    for _ in range(100):
        trace.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    peak = int(np.argmax(trace))
    assert trace[0] == pytest.approx(1 / 25) and peak == 25 and trace[peak] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(trace[:peak], trace[1 : peak + 1]))
    assert all(a > b for a, b in zip(trace[peak:], trace[peak + 1 :])) and trace[-1] == pytest.approx(1e-5)


def test_one_cycle_works_for_a_handful_of_steps():
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = OneCycle(optimizer, 3, momentum=(0.9, 0.9))
    trace = []
    for _ in range(3):
        trace.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert trace == pytest.approx([1 / 25, 1.0, 1e-5])


def test_training_learns_the_colours_and_is_deterministic_on_cpu(colour_cache):
    runs = []
    for _ in range(2):
        classifier = classifier_on(colour_cache, pretrained=False)
        runs.append(fit_on(colour_cache, classifier, recipe(epochs=4, lr=3e-3, augment=NO_AUGMENT)))
    assert runs[0][-1]["error_rate"] <= 0.1
    strip = [[{k: v for k, v in row.items() if k not in TIMINGS} for row in run] for run in runs]
    assert strip[0] == strip[1]


def test_a_diverging_loss_stops_with_the_epoch_and_a_hint(colour_cache):
    classifier = classifier_on(colour_cache)
    model = classifier.module
    with torch.no_grad():
        model.fc.weight.fill_(float("nan"))
    with pytest.raises(PetsError, match=r"became nan in epoch 1 \(frozen phase\); try a lower learning rate"):
        fit_on(colour_cache, classifier, recipe())


def test_a_batch_larger_than_the_training_set_is_refused_before_training(colour_cache):
    classifier = classifier_on(colour_cache)
    with pytest.raises(PetsError, match=r"train.batch_size \(64\) is larger than the training set \(36 images\)"):
        fit_on(colour_cache, classifier, recipe(batch_size=64))


def test_out_of_memory_names_the_batch_size_and_suggests_half(colour_cache, monkeypatch):
    classifier = classifier_on(colour_cache)
    model = classifier.module

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(model, "forward", out_of_memory)
    with pytest.raises(
        PetsError,
        match=r"out of GPU memory in epoch 1 at train.batch_size 8; "
        r"try -S train.batch_size=4",
    ):
        fit_on(colour_cache, classifier, recipe())


@pytest.mark.parametrize("batchnorm_stats", ["pretrained", "batch"])
def test_unfrozen_batchnorm_keeps_the_pretrained_statistics_unless_told_to_follow_the_batches(
    colour_cache, batchnorm_stats
):
    classifier = classifier_on(colour_cache)
    model = classifier.module
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fit_on(colour_cache, classifier, recipe(epochs=0, epochs_unfrozen=1, batchnorm_stats=batchnorm_stats))
    after = model.state_dict()
    statistics = [k for k in before if k.endswith(("running_mean", "running_var"))]
    kept = all(torch.equal(before[k], after[k]) for k in statistics)
    assert kept == (batchnorm_stats == "pretrained")
    assert not torch.equal(before["layer1.0.conv1.weight"], after["layer1.0.conv1.weight"])  # the body trains
    assert not torch.equal(before["layer1.0.bn1.weight"], after["layer1.0.bn1.weight"])  # BatchNorm's scale too


def test_every_step_keeps_adamws_momentum_and_decays_every_parameter_that_trains(colour_cache):
    """Two of fastai's levers measured and not taken (README, bench.levers): beta1 cycled 0.95-0.85-0.95 with the
    rate, and no weight decay on BatchNorm and biases, made no difference beyond the spread between seeds."""
    classifier = classifier_on(colour_cache)
    model = classifier.module
    steps = []

    def record(optimizer, args, kwargs):
        trains = [p for p in model.parameters() if p.requires_grad]
        steps.append(
            (
                {g["betas"] for g in optimizer.param_groups},
                {g["weight_decay"] for g in optimizer.param_groups},
                sum(len(g["params"]) for g in optimizer.param_groups),
                len(trains),
            )
        )

    hook = register_optimizer_step_pre_hook(record)
    try:
        fit_on(colour_cache, classifier, recipe(epochs=1, epochs_unfrozen=1))
    finally:
        hook.remove()
    assert len(steps) == 2 * (36 // 8)
    assert all(
        betas == {(0.9, 0.999)} and decay == {0.01} and stepped == trains for betas, decay, stepped, trains in steps
    )
    assert [trains for *_, trains in steps] == [2] * 4 + [len(list(model.parameters()))] * 4  # the head, then all


def test_cudnn_picks_its_fastest_kernels_on_cuda_only(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    threads = torch.get_num_threads()
    try:
        assert Runtime.for_device(torch.device("cuda", 0), threads).activate().benchmark_kernels
        assert torch.backends.cudnn.benchmark
        Runtime.for_device(torch.device("cpu"), threads).activate()
        assert not torch.backends.cudnn.benchmark
    finally:
        torch.set_num_threads(threads)


def validation_runs(cache, monkeypatch, keep, after_head=None, **settings):
    """fit's history (timings left out) and how many validation batches ran the body, keeping the frozen body's
    outputs for the head or not; `after_head` an operation the model applies after its head."""
    monkeypatch.setattr(validation, "MAX_KEPT_BYTES", validation.MAX_KEPT_BYTES if keep else 0)
    classifier = classifier_on(cache)
    if after_head:
        classifier.module.register_forward_hook(lambda module, args, output: after_head(output))
    body_in_eval = []
    classifier.module.conv1.register_forward_hook(lambda module, args, output: body_in_eval.append(not module.training))
    history = fit_on(cache, classifier, recipe(**settings))
    return [{k: v for k, v in row.items() if k not in TIMINGS} for row in history], sum(body_in_eval)


def test_a_frozen_bodys_validations_run_the_head_alone_after_the_first_with_the_same_figures(colour_cache, monkeypatch):
    settings = dict(epochs=3, epochs_unfrozen=1, batch_size=8)  # 12 validation images: 1 batch each validation
    kept, body_passes = validation_runs(colour_cache, monkeypatch, keep=True, **settings)
    every_time, body_passes_every_time = validation_runs(colour_cache, monkeypatch, keep=False, **settings)
    assert kept == every_time and len({row["valid_loss"] for row in kept}) == 4  # bit for bit, and it learns
    assert (body_passes, body_passes_every_time) == (1 + 1, 3 + 1)  # the frozen phase's first, and the unfrozen one
    _, body_passes_with_bn = validation_runs(colour_cache, monkeypatch, keep=True, train_bn=True, **settings)
    assert body_passes_with_bn == 4  # the frozen body's BatchNorm layers train: its outputs change every epoch


def test_a_model_with_an_operation_after_its_head_validates_with_the_body_every_epoch(colour_cache, monkeypatch):
    settings = dict(epochs=2, epochs_unfrozen=0)
    doubled, body_passes = validation_runs(
        colour_cache, monkeypatch, True, after_head=lambda logits: logits * 2, **settings
    )
    reference, _ = validation_runs(colour_cache, monkeypatch, False, after_head=lambda logits: logits * 2, **settings)
    assert doubled == reference and body_passes == 2
