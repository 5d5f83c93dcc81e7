"""train.devices > 1: the train stage runs itself under torchrun (gloo on the CPU) and still learns."""

import pytest

from tests.project import stages_run

pytestmark = pytest.mark.e2e  # a copy of the project, real dvc commands

RUN = {"train__epochs": 3, "train__batch_size": 64}  # on the digits at 16 px
OUTPUTS = [
    ".gitignore",  # DVC's, for the outputs in its cache (training/, most_confused.json)
    "confusion.json",
    "confusion.png",
    "coverage_risk.tsv",
    "curves.png",
    "data_check.json",
    "duplicates.png",
    "index.json",
    "metrics.json",
    "most_confused.json",
    "per_class.tsv",
    "predictions.csv",
    "reliability.png",
    "show_batch.png",
    "show_valid.png",
    "timings.json",  # where each stage's time went: ignored by git, no output of DVC's
    "top_losses.png",
    "training",
]


def test_two_processes_write_the_same_outputs_and_learn_as_well(digits_cached, tmp_path):
    project = digits_cached.copy(tmp_path / "project")
    project.set_params(**RUN)
    project.run("dvc", "repro", "evaluate")
    single = project.json("metrics/metrics.json")["valid"]["error_rate"]
    project.commit("one process")

    # the same effective batch: 2 processes of 32
    output = project.run("dvc", "exp", "run", "evaluate", "-S", "train.devices=2", "-S", "train.batch_size=32")
    assert stages_run(output) == ["train", "evaluate"]
    assert "on 2 x cpu" in output
    assert sorted(p.name for p in (project.path / "metrics").iterdir()) == OUTPUTS
    log = (project.path / "metrics/training/plots/metrics/error_rate.tsv").read_text().splitlines()
    assert len(log) == 1 + 3  # one row per epoch, written once (by process 0)
    double = project.json("metrics/metrics.json")["valid"]["error_rate"]
    assert double == pytest.approx(single, abs=0.05), (single, double)
