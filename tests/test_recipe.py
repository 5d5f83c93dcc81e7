"""fastai's ways as options of the recipe (bench/levers.py switches them with params; the defaults are this
project's, locked by tests/test_train.py): each option does what it says, and only that."""

import pytest
import torch
from torch import nn

from pets.model.heads import FastaiHead
from pets.train.recipe import OneCycle, adamw, make_optimizer, phases, set_phase, train_mode
from tests.helpers import classifier_on, fit_on, recipe

BATCHNORM = nn.modules.batchnorm._BatchNorm


def test_cycled_momentum_falls_while_the_rate_warms_up_and_rises_again():
    optimizer = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = OneCycle(optimizer, 100, momentum=(0.95, 0.85))
    betas, rates = [], []
    for _ in range(100):
        betas.append(optimizer.param_groups[0]["betas"][0])
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert betas[0] == pytest.approx(0.95) and min(betas) == pytest.approx(0.85) and betas[-1] == pytest.approx(0.95)
    assert betas.index(min(betas)) == rates.index(max(rates)) == 25
    assert optimizer.param_groups[0]["betas"][1] == 0.999


def test_equal_momentums_keep_adamws_beta1_and_rates_as_without_them():
    optimizer = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = OneCycle(optimizer, 10, momentum=(0.9, 0.9))
    for _ in range(10):
        assert optimizer.param_groups[0]["betas"] == (0.9, 0.999)
        optimizer.step()
        schedule.step()


def test_train_bn_trains_the_frozen_bodys_batchnorm_at_the_heads_rate(colour_cache):
    classifier = classifier_on(colour_cache)
    model = classifier.module
    with_bn = recipe(train_bn=True, batchnorm_stats="pretrained")
    frozen_lrs = phases(with_bn, pretrained=True)[0][3]
    set_phase(classifier, with_bn, frozen=True)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {
        name
        for name, p in model.named_parameters()
        if name.startswith("fc.") or ".bn" in name or name.startswith("bn1") or "downsample.1" in name
    }
    optimizer = make_optimizer(classifier, with_bn, frozen_lrs)
    assert {g["lr"] for g in optimizer.param_groups} == {frozen_lrs[-1]}
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(trainable)
    train_mode(classifier, with_bn, frozen=True)
    assert all(m.training for m in model.modules() if isinstance(m, BATCHNORM))  # statistics from the batches
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fit_on(colour_cache, classifier, with_bn)
    after = model.state_dict()
    assert not torch.equal(before["bn1.running_mean"], after["bn1.running_mean"])
    assert not torch.equal(before["layer1.0.bn1.weight"], after["layer1.0.bn1.weight"])
    assert torch.equal(before["layer1.0.conv1.weight"], after["layer1.0.conv1.weight"])  # the rest stays frozen


def test_without_train_bn_the_frozen_body_keeps_its_batchnorm(colour_cache):
    classifier = classifier_on(colour_cache)
    model = classifier.module
    plain = recipe(batchnorm_stats="batch")
    set_phase(classifier, plain, frozen=True)
    train_mode(classifier, plain, frozen=True)
    assert not any(m.training for m in model.modules() if isinstance(m, BATCHNORM))
    assert {name for name, p in model.named_parameters() if p.requires_grad} == {"fc.weight", "fc.bias"}


def test_fastais_head_replaces_the_linear_one_and_its_batchnorm_always_learns(colour_cache):
    classifier = classifier_on(colour_cache, "tf_efficientnet_lite0", head="fastai")
    model = classifier.module
    assert isinstance(model.get_classifier(), FastaiHead) and classifier.head == "fastai"
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 2)
    fastai = recipe(head="fastai", batchnorm_stats="pretrained")
    set_phase(classifier, fastai, frozen=True)
    train_mode(classifier, fastai, frozen=True)
    head_bn = [m for m in model.get_classifier().modules() if isinstance(m, BATCHNORM)]
    body_bn = [m for m in model.modules() if isinstance(m, BATCHNORM) and m not in head_bn]
    assert len(head_bn) == 2 and all(m.training for m in head_bn) and not any(m.training for m in body_bn)
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert trainable == {id(p) for p in model.get_classifier().parameters()}


def test_group_by_count_cuts_the_body_into_runs_of_equal_length(colour_cache):
    classifier = classifier_on(colour_cache, "tf_efficientnet_lite0")
    model = classifier.module
    lrs = [1e-4, 1e-3, 1e-2, 1e-1]
    by_stages = make_optimizer(classifier, recipe(body_groups=3), lrs)
    by_count = make_optimizer(classifier, recipe(body_groups=3, group_by="count"), lrs)
    counts = [len(g["params"]) for g in by_count.param_groups[:-1]]
    assert max(counts) - min(counts) <= 1
    assert counts != [len(g["params"]) for g in by_stages.param_groups[:-1]]
    assert [p for g in by_count.param_groups for p in g["params"]] == list(model.parameters())


def test_without_decay_on_batchnorm_and_biases_only_matrices_and_kernels_decay(colour_cache):
    classifier = classifier_on(colour_cache)
    model = classifier.module
    optimizer = make_optimizer(classifier, recipe(decay_bn_bias=False), [1e-4, 1e-3, 1e-2])
    for group in optimizer.param_groups:
        assert group["weight_decay"] == (0.0 if all(p.ndim <= 1 for p in group["params"]) else 0.01)
        assert len({p.ndim <= 1 for p in group["params"]}) == 1
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))


def test_training_steps_with_adamws_fused_kernel_and_its_update_is_the_default_ones(colour_cache):
    """The fused kernel (bench/optimizer.py: a sixth of the default's step on the CPU) computes what PyTorch's default
    AdamW does, to float rounding."""
    assert make_optimizer(classifier_on(colour_cache), recipe(), [1e-4, 1e-3, 1e-2]).defaults["fused"]
    torch.manual_seed(0)
    start, grads = [torch.randn(64, 32), torch.randn(32)], [torch.randn(64, 32), torch.randn(32)]
    stepped = []
    for make in (adamw, torch.optim.AdamW):
        params = [nn.Parameter(tensor.clone()) for tensor in start]
        optimizer = make(params, lr=1e-2, betas=(0.9, 0.999), weight_decay=0.01)
        for _ in range(3):
            for param, grad in zip(params, grads):
                param.grad = grad.clone()
            optimizer.step()
        stepped.append(params)
    for fused, default, before in zip(*stepped, start):
        assert not torch.equal(fused.detach(), before)
        torch.testing.assert_close(fused.detach(), default.detach(), rtol=0, atol=1e-6)
