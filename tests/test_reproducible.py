"""On the CPU, the same commit and params give byte-identical metrics: twice, and through `dvc exp run` too."""

import json

import pytest

from pets.train.epoch_log import CURVES
from pets.train.loop import TIMINGS
from tests.project import stages_run

pytestmark = pytest.mark.e2e  # a copy of the project, real dvc commands

METRICS = ("metrics.json", "confusion.json", "most_confused.json", "per_class.tsv", "predictions.csv") + tuple(
    f"training/plots/metrics/{name}.tsv" for name in CURVES if name not in TIMINGS
)


def snapshot(project):
    """The metrics files' bytes (the per-epoch curves less the timings), and the latest epoch less its timings."""
    files = {name: (project.path / "metrics" / name).read_text() for name in METRICS}
    latest = project.json("metrics/training/metrics.json")
    return {**files, "latest": {k: v for k, v in latest.items() if k not in TIMINGS}}


def test_repro_twice_and_exp_run_give_the_same_metrics(mini_cached, tmp_path):
    """On the mini digits, up to evaluate: what gives the metrics (the export stage derives none)."""
    project = mini_cached.copy(tmp_path / "project")
    assert stages_run(project.run("dvc", "repro", "evaluate")) == ["train", "evaluate"]
    first = snapshot(project)
    forced = project.run("dvc", "repro", "--force", "evaluate")
    assert stages_run(forced) == ["download", "index", "cache", "train", "evaluate"]
    assert snapshot(project) == first

    output = project.run("dvc", "exp", "run", "--temp", "--force", "evaluate")
    assert "train" in stages_run(output)
    shown = json.loads(project.run("dvc", "exp", "show", "--json"))
    experiments = [rev for commit in shown for exp in commit.get("experiments") or [] for rev in exp["revs"]]
    assert len(experiments) == 1
    metrics = experiments[0]["data"]["metrics"]["metrics/metrics.json"]["data"]
    assert metrics == without_lists(json.loads(first["metrics.json"]))  # dvc exp show leaves lists out


def without_lists(value):
    return (
        {k: without_lists(v) for k, v in value.items() if not isinstance(v, list)} if isinstance(value, dict) else value
    )
