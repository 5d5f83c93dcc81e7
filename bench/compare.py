"""`python -m pets compare` on two Pets-sized predictions files (1,500 validation images, synthesised): A at a
commit, B in the workspace, timed end to end as a user runs it (git, reading, the paired bootstrap, McNemar)."""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.recipes import ROOT
from pets.report.predictions import prediction_rows, predictions_csv

IMAGES, CLASSES = 1500, [f"breed_{i}" for i in range(37)]


def predictions(seed, error_rate):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 37, IMAGES)
    wrong = rng.random(IMAGES) < error_rate
    probs = torch.full((IMAGES, 37), 0.1 / 36)
    guesses = np.where(wrong, (labels + 1) % 37, labels)
    probs[torch.arange(IMAGES), torch.as_tensor(guesses)] = 0.9
    files = [f"images/{CLASSES[label]}_{i}.jpg" for i, label in enumerate(labels)]
    return predictions_csv(prediction_rows("valid", files, probs, labels.tolist(), CLASSES))


def main():
    env = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        (repo / "metrics").mkdir()
        (repo / "metrics/predictions.csv").write_text(predictions(0, 0.062))
        for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "A"]):
            subprocess.run(["git", *command], cwd=repo, check=True, env={**env, "PATH": "/usr/bin:/bin"})
        (repo / "metrics/predictions.csv").write_text(predictions(0, 0.055))
        seconds = []
        for _ in range(3):
            started = time.perf_counter()
            shown = subprocess.run(
                [sys.executable, "-m", "pets", "compare", "--picture", "none"],
                cwd=repo,
                env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                capture_output=True,
                text=True,
                check=True,
            )
            seconds.append(time.perf_counter() - started)
    print(shown.stdout, end="")
    print(f"python -m pets compare, {IMAGES} images each: {min(seconds):.2f} s (best of 3), {max(seconds):.2f} s worst")


if __name__ == "__main__":
    main()
