"""Every device-dependent choice, made once. The training loop, validation, evaluation, prediction and lr_find take
a Runtime and never look at the device themselves, so the accelerator's path is one object that a test can build on
the CPU (`Runtime.accelerator(torch.device("cpu"))`) and run end to end.
"""

import contextlib
from dataclasses import dataclass, replace
from typing import Self

import cv2
import torch
from torch import nn

from pets.runtime.sharing import queue_slot, thread_budget


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    autocast_dtype: torch.dtype | None  # the forward pass's dtype under autocast; None: plain fp32
    channels_last: bool  # model and inputs in NHWC, where bf16 convolutions are fastest on GPUs
    augment_backend: str  # "grid_sample": the whole batch in float on the device | "opencv": uint8, image by image
    pin_memory: bool  # page-locked host batches, so the copy to the device overlaps compute
    benchmark_kernels: bool  # cuDNN times its algorithms once per input shape (shapes are fixed here)
    inference_batch: int  # images per forward pass when nothing trains: validation, evaluation, prediction
    threads: int = 1  # CPU threads of torch and OpenCV
    tf32: bool = False  # CUDA's TensorFloat-32 in matrix products and convolutions (10 bits of mantissa, not 23)
    exact_reduction: bool = True  # gradients of several processes summed in rank order: bit-exact (distributed.wrap)

    @classmethod
    def accelerator(cls, device: torch.device, threads: int = 1) -> Self:
        """The choices for a GPU: bf16 autocast, channels_last, augmentation with `grid_sample` on the device. On the
        CPU this is the GPU's path with only what needs CUDA (pinned memory, cuDNN) left out: the tests run it."""
        cuda = device.type == "cuda"
        return cls(
            device,
            torch.bfloat16,
            True,
            "grid_sample",
            pin_memory=cuda,
            benchmark_kernels=cuda,
            inference_batch=256,
            threads=threads,
            tf32=cuda,
            exact_reduction=False,
        )

    @classmethod
    def cpu(cls, threads: int = 1) -> Self:
        """The CPU's choices: fp32 (bit-reproducible), NCHW, OpenCV's uint8 warps, which cost less than a float
        `grid_sample` there (bench/loader.py), and inference in batches of 32: on 2 cores Lite0 at 128 px scores 260
        images in 0.6 s at 32 and 1.2 s at 128 (the caches overflow); resnet34 at 224 px and resnet18 at 32 px are
        within 10 and 20 % of their best batch."""
        return cls(
            torch.device("cpu"),
            None,
            False,
            "opencv",
            pin_memory=False,
            benchmark_kernels=False,
            inference_batch=32,
            threads=threads,
        )

    @classmethod
    def for_device(cls, device: torch.device, threads: int = 1) -> Self:
        return cls.accelerator(device, threads) if device.type == "cuda" else cls.cpu(threads)

    def exact(self) -> Self:
        """These choices in full fp32 (no autocast, no TF32): for the scores that the temperature is fitted on and that
        onnxruntime's fp32 is checked against within 1e-4 (bf16 differs in the third digit). The CPU's are already."""
        return replace(self, autocast_dtype=None, tf32=False)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def input_layout(self, images: torch.Tensor) -> torch.Tensor:
        """Float NCHW images in the memory format the model runs in."""
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images

    def place(self, model: nn.Module) -> nn.Module:
        """The model on the device, in the memory format of the inputs."""
        model.to(self.device)
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def to_device(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(tensor.to(self.device, non_blocking=True) for tensor in tensors)

    def activate(self) -> Self:
        """Apply the process-wide settings: thread counts and cuDNN's kernel benchmarking."""
        torch.set_num_threads(self.threads)
        cv2.setNumThreads(self.threads)
        torch.backends.cudnn.benchmark = self.benchmark_kernels
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = self.tf32
        return self


def default_device() -> torch.device:
    """The CPU, or the GPU of this run's DVC queue slot (GPU 0 when run alone)."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", queue_slot()[0] % torch.cuda.device_count())


def runtime(threads: int | str = "auto", processes: int = 1, device: torch.device | None = None) -> Runtime:
    """The active Runtime of a stage or command: `device` (else this run's default one), with the `threads` param's
    share of the cores divided among `processes` processes."""
    device = device or default_device()
    return Runtime.for_device(device, max(1, thread_budget(threads) // processes)).activate()
