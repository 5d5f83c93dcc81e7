"""AdamW's step, PyTorch's default on the CPU (a Python loop over the tensors) against its fused kernel (what
pets.train.recipe.adamw asks for), side by side: milliseconds of a whole training step (forward, backward, step) and
of the step alone, and how far the weights are apart after the same steps.

python -m bench.optimizer [--steps 12] [--threads N]

Three cases: resnet18 from scratch at 16 px, batch 64 (the digits' quick start and most tests), the photos quick
start's tf_efficientnet_lite0 at 128 px, batch 32, and Pets' resnet34 at 224 px, batch 16 (fewer images than
Pets' 64, to keep the CPU run short: the step's cost does not depend on the batch). Runs alternate, the best of
three of each is reported; the first two steps of each run warm up and are not timed.
"""

import argparse
import time

import timm
import torch
import torchvision

CASES = {  # name: (model, image size, batch)
    "resnet18 16 px": (lambda: torchvision.models.resnet18(num_classes=10), 16, 64),
    "tf_efficientnet_lite0 128 px": (lambda: timm.create_model("tf_efficientnet_lite0", num_classes=13), 128, 32),
    "resnet34 224 px": (lambda: torchvision.models.resnet34(num_classes=37), 224, 16),
}


def run(make, size, batch, fused, steps):
    """(ms a training step, ms its optimizer step, the weights after `steps` steps)."""
    torch.manual_seed(0)
    model = make()
    images, labels = torch.randn(batch, 3, size, size), torch.randint(0, 10, (batch,))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01, fused=fused)
    whole = stepping = 0.0
    for step in range(steps):
        began = time.perf_counter()
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        computed = time.perf_counter()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        ended = time.perf_counter()
        if step >= 2:
            whole, stepping = whole + ended - began, stepping + ended - computed
    timed = steps - 2
    return 1000 * whole / timed, 1000 * stepping / timed, [p.detach().clone() for p in model.parameters()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.threads} thread(s), torch {torch.__version__}")
    print("| case | training step, default / fused (ms) | ratio | AdamW step, default / fused (ms) | weights apart |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, (make, size, batch) in CASES.items():
        best, weights = {False: (float("inf"),) * 2, True: (float("inf"),) * 2}, {}
        for _ in range(3):
            for fused in (False, True):
                whole, stepping, weights[fused] = run(make, size, batch, fused, args.steps)
                best[fused] = min(best[fused], (whole, stepping))
        apart = max(float((a - b).abs().max()) for a, b in zip(weights[False], weights[True]))
        (plain, plain_step), (fast, fast_step) = best[False], best[True]
        steps = f"{plain_step:.0f} / {fast_step:.0f}"
        print(f"| {name} | {plain:.0f} / {fast:.0f} | {fast / plain:.2f} | {steps} | {apart:.1e} |")


if __name__ == "__main__":
    main()
