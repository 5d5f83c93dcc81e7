"""Every torchvision classifier family trains and evaluates, or is refused before any work."""

import pytest
import torch
import torchvision

from pets.config.schema import check_arch
from pets.inference import forward
from pets.model.archs import TORCHVISION_FAMILIES, torchvision_family
from pets.model.build import build_model
from pets.train.loop import training_step
from pets.train.recipe import make_optimizer, train_mode
from tests.helpers import CPU, PARAMS, preprocess, recipe

# The smallest model of each family at the smallest size it takes; the largest models need no step of their own.
SMALLEST = {
    "alexnet": 63,
    "convnext_tiny": 32,
    "densenet121": 32,
    "efficientnet_b0": 32,
    "efficientnet_v2_s": 33,
    "googlenet": 32,
    "inception_v3": 75,
    "maxvit_t": 224,
    "mnasnet0_5": 32,
    "mobilenet_v3_small": 32,
    "regnet_x_400mf": 32,
    "resnet18": 32,
    "resnext50_32x4d": 32,
    "shufflenet_v2_x0_5": 32,
    "squeezenet1_1": 32,
    "swin_t": 224,
    "vgg11": 32,
    "vit_b_16": 224,
    "wide_resnet50_2": 32,
}


def test_every_torchvision_classifier_belongs_to_a_family_the_code_handles():
    names = torchvision.models.list_models(module=torchvision.models)
    assert all(torchvision_family(name) for name in names), [n for n in names if not torchvision_family(n)]
    assert {torchvision_family(name) for name in SMALLEST} == set(TORCHVISION_FAMILIES)


@pytest.mark.parametrize("arch", list(SMALLEST))
def test_the_smallest_of_each_family_takes_a_training_step_and_evaluates_a_batch(arch):
    size = SMALLEST[arch]
    check_arch(arch, size, PARAMS.train)
    torch.manual_seed(0)
    classifier = build_model(arch, ["a", "b", "c"], "none", preprocess(size))
    small = recipe(batch_size=2, lr=1e-3, lr_unfrozen=(1e-4, 1e-3))
    optimizer = make_optimizer(classifier, small, [1e-3] * 3)
    batch, labels = torch.randint(0, 256, (2, size, size, 3), dtype=torch.uint8), torch.tensor([0, 2])
    head = classifier.head_module
    before = head.weight.clone()
    train_mode(classifier, small, frozen=False)
    loss = training_step(
        classifier,
        classifier.module,
        batch,
        labels,
        optimizer=optimizer,
        augment=small.augment,
        runtime=CPU,
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.isfinite(loss) and not torch.equal(before, head.weight)  # the new head was trained
    classifier.module.eval()
    assert forward.log_probabilities(classifier, batch, CPU).shape == (2, 3)
