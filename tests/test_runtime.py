"""The accelerator's path, run on the CPU: the choices a GPU gets (bf16 autocast, channels_last model and inputs,
augmentation with `grid_sample` on the device) through training, validation, evaluation, TTA and prediction. Only
what needs CUDA itself (pinned memory, cuDNN's kernel choice, NCCL) is left out."""

import numpy as np
import pytest
import torch
from PIL import Image

from pets.data.loader import CachedSplit
from pets.inference import forward
from pets.inference.predict import predict_files
from pets.runtime.profile import Runtime
from pets.train.loop import training_step
from pets.train.validation import Validation
from tests.helpers import classifier_on, fit_on, recipe

ACCELERATOR = Runtime.accelerator(torch.device("cpu"))


class Watch:
    """What reaches the model: the memory format of every input, and the dtype of every output."""

    def __init__(self, model):
        self.inputs_channels_last, self.output_dtypes = [], set()
        model.register_forward_pre_hook(self.before)
        model.register_forward_hook(self.after)

    def before(self, module, args):
        self.inputs_channels_last.append(args[0].is_contiguous(memory_format=torch.channels_last))

    def after(self, module, args, output):
        self.output_dtypes.add(output.dtype)


@pytest.fixture(scope="module")
def trained(balanced_colour_cache):
    """A resnet18 trained on the colour cache by `fit` with the accelerator's choices, a frozen then an unfrozen
    epoch pair; with its validation error before training. The process-wide settings first (threads, TF32): bf16 sums
    differ with them, and other tests in this process may have left others."""
    ACCELERATOR.activate()
    classifier = classifier_on(balanced_colour_cache)
    ACCELERATOR.place(classifier.module)
    before = Validation(classifier, CachedSplit(balanced_colour_cache, "valid"), ACCELERATOR, body_is_fixed=False)()
    watch = Watch(classifier.module)
    history = fit_on(
        balanced_colour_cache,
        classifier,
        recipe(epochs=2, epochs_unfrozen=2, batchnorm_stats="pretrained"),
        runtime=ACCELERATOR,
    )
    return classifier, before, history, watch


def test_the_accelerator_profile_is_bf16_channels_last_and_grid_sample():
    assert ACCELERATOR.autocast_dtype == torch.bfloat16 and ACCELERATOR.channels_last
    assert ACCELERATOR.augment_backend == "grid_sample"
    assert Runtime.for_device(torch.device("cuda", 0)) == Runtime.accelerator(torch.device("cuda", 0))
    assert Runtime.for_device(torch.device("cpu")).augment_backend == "opencv"


def test_fit_trains_in_bf16_on_channels_last_inputs_and_the_loss_falls(trained):
    classifier, (loss_before, error_before), history, watch = trained
    model = classifier.module
    assert [row["phase"] for row in history] == ["frozen"] * 2 + ["unfrozen"] * 2
    losses = [row["train_loss"] for row in history]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert watch.inputs_channels_last and all(watch.inputs_channels_last)  # every batch, training and validation
    assert watch.output_dtypes == {torch.bfloat16}  # the model really ran under autocast
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in model.parameters() if p.ndim == 4)
    assert error_before >= 0.25 and history[-1]["error_rate"] <= 0.125
    assert history[-1]["valid_loss"] < loss_before


def test_a_training_step_computes_its_loss_in_float32(balanced_colour_cache, trained):
    classifier, *_ = trained
    pixels, labels = CachedSplit(balanced_colour_cache, "train")[range(8)]
    optimizer = torch.optim.AdamW(classifier.module.parameters(), lr=1e-4)
    classifier.module.train()
    loss = training_step(
        classifier,
        classifier.module,
        pixels,
        labels,
        optimizer=optimizer,
        augment=recipe().augment,
        runtime=ACCELERATOR,
        generator=torch.Generator().manual_seed(0),
    )
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


@pytest.mark.parametrize("tta", [False, True], ids=["plain", "tta"])
def test_evaluation_gives_float32_probabilities_that_sum_to_one(balanced_colour_cache, trained, tta):
    classifier, *_ = trained
    split = CachedSplit(balanced_colour_cache, "valid")
    probs = forward.predict_probs(classifier, split, ACCELERATOR, tta=tta)
    assert probs.dtype == torch.float32 and probs.shape == (len(split), 2)
    assert torch.allclose(probs.sum(1), torch.ones(len(split)), atol=1e-5)
    assert (probs.argmax(1).numpy() != split.labels).mean() <= 0.125


def test_predict_on_files_gives_probabilities_of_the_trained_classes(balanced_colour_cache, trained):
    classifier, *_ = trained
    split = CachedSplit(balanced_colour_cache, "valid")
    paths = [balanced_colour_cache / name for name in split.files]
    results = list(predict_files(classifier, paths, runtime=ACCELERATOR, top_k=2, workers=0))
    assert [path for path, _, _ in results] == paths
    for _, top, error in results:
        assert error == "" and {name for name, _ in top} == {"blue", "red"}
        assert sum(p for _, p in top) == pytest.approx(1, abs=1e-5)
    right = [top[0][0] == ("red" if "red" in path.name else "blue") for path, top, _ in results]
    assert np.mean(right) >= 0.875
    assert Image.open(paths[0]).size == (20, 20)  # the files themselves, not the cache, went through predict
