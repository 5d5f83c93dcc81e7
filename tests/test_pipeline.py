"""End to end on digits: the README's offline quick start, an experiment, and comparing commits."""

import json

import pytest
from PIL import Image

from tests.project import Project, quick_start_args, stages_run


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    return Project(root / "project", root / "torch_home")


def test_quick_start_learns_digits(project):
    output = project.run("dvc", "exp", "run", *quick_start_args())
    assert stages_run(output) == ["download", "index", "cache", "train", "evaluate"]
    metrics = project.json("metrics/metrics.json")
    assert metrics["valid"]["count"] == 359
    assert metrics["valid"]["error_rate"] <= 0.03, metrics
    confusion = project.json("metrics/confusion.json")
    assert len(confusion) == 359 and set(confusion[0]) == {"actual", "predicted"}
    wrong = sum(r["actual"] != r["predicted"] for r in confusion)
    assert wrong == round(metrics["valid"]["error_rate"] * 359)
    for picture in ("confusion.png", "top_losses.png"):
        with Image.open(project.path / "metrics" / picture) as image:
            assert image.format == "PNG" and min(image.size) > 200
    log = (project.path / "metrics/train_log.tsv").read_text().splitlines()
    assert log[0].split("\t")[:5] == ["epoch", "phase", "train_loss", "valid_loss", "error_rate"] and len(log) == 9
    project.commit("digits with resnet18")


def test_an_arch_experiment_reruns_only_train_and_evaluate(project):
    output = project.run("dvc", "exp", "run", "-S", "arch=resnet50", "-S", "train.epochs=1")
    assert stages_run(output) == ["train", "evaluate"]
    shown = json.loads(project.run("dvc", "exp", "show", "--json"))
    runs = [entry for commit in shown
            for entry in [commit] + [rev for exp in commit.get("experiments") or [] for rev in exp["revs"]]]
    archs, error_rates = [], []
    for run in runs:
        data = run["data"]
        metrics = (data.get("metrics") or {}).get("metrics/metrics.json", {}).get("data")
        if metrics:
            archs.append(data["params"]["params.yaml"]["data"]["arch"])
            error_rates.append(metrics["valid"]["error_rate"])
    assert "resnet50" in archs and "resnet18" in archs, archs
    assert len(error_rates) >= 2


def test_metrics_diff_between_two_commits(project):
    project.commit("digits with resnet50")
    diff = json.loads(project.run("dvc", "metrics", "diff", "HEAD~1", "HEAD", "--json"))
    change = diff["metrics/metrics.json"]["valid.error_rate"]
    assert change["old"] != change["new"] and change["diff"] == pytest.approx(change["new"] - change["old"])
    params = json.loads(project.run("dvc", "params", "diff", "HEAD~1", "HEAD", "--json"))
    assert params["params.yaml"]["arch"] == {"old": "resnet18", "new": "resnet50"}


def test_plots_of_two_revisions(project):
    plots = json.loads(project.run("dvc", "plots", "diff", "HEAD~1", "HEAD", "--json"))["data"]
    declared = {"losses", "error_rate", "confusion", "metrics/confusion.png", "metrics/top_losses.png"}
    assert declared <= set(plots)
    for name in ("losses", "confusion"):
        revisions = {rev for item in plots[name] for rev in item["revisions"]}
        assert revisions == {"HEAD~1", "HEAD"}, name
