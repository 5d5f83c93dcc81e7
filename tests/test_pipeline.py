"""End to end on digits: the README's offline quick start, an experiment, and comparing commits."""

import json
import re
import subprocess

import pytest
import yaml
from PIL import Image

from pets.train.epoch_log import CURVES
from tests.project import Project, stages_run

pytestmark = pytest.mark.e2e  # a copy of the project, real dvc commands


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    return Project(root / "project", root / "torch_home")


def test_quick_start_learns_digits(project):
    # make digits, in 4 of its 8 epochs: enough to learn them, and what the tests after this one need
    output = project.run("python", "-m", "pets", "quickstart", "digits", "--set", "train.epochs=4")
    assert stages_run(output) == ["download", "index", "cache", "train", "evaluate", "export"]
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
    curves = project.path / "metrics/training/plots/metrics"
    assert sorted(p.name for p in curves.iterdir()) == sorted(f"{name}.tsv" for name in CURVES)
    for name in CURVES:  # dvclive's files: a header, then one row per epoch, numbered from 1
        rows = (curves / f"{name}.tsv").read_text().splitlines()
        assert rows[0] == f"step\t{name}" and [row.split("\t")[0] for row in rows[1:]] == [str(e) for e in range(1, 5)]
    latest = project.json("metrics/training/metrics.json")
    assert latest["step"] == 4 and set(latest) == {"step", *CURVES}
    assert metrics["train"]["count"] == 1438 and metrics["train"]["error_rate"] <= metrics["valid"]["error_rate"] + 0.01
    project.commit("digits with resnet18")


def test_the_model_is_a_dvc_artifact(project, tmp_path):
    listed = yaml.safe_load((project.path / "dvc.yaml").read_text())["artifacts"]["pets-classifier"]
    assert listed["path"] == "models/model.pt" and listed["type"] == "model" and listed["desc"] and listed["labels"]
    # a version in the model registry is a git tag (GTO's format), as the README shows
    project.run("git", "tag", "-a", "pets-classifier@v0.1.0", "-m", "digits, resnet18")
    project.run("dvc", "artifacts", "get", ".", "pets-classifier", "--rev", "v0.1.0", "-o", str(tmp_path / "model.pt"))
    assert (tmp_path / "model.pt").read_bytes() == (project.path / "models/model.pt").read_bytes()


def test_pictures_and_plots_are_there_with_data(project):
    for picture, width in (("show_batch.png", 200), ("show_valid.png", 200), ("confusion.png", 300)):
        with Image.open(project.path / "metrics" / picture) as image:
            assert image.format == "PNG" and image.size[0] >= width
    plots = json.loads(project.run("dvc", "plots", "show", "--json"))["data"]
    declared = {
        "losses",
        "error_rate",
        "metrics/confusion.json",
        "metrics/per_class.tsv",
        "metrics/predictions.csv",
        "metrics/curves.png",
        "metrics/show_batch.png",
        "metrics/show_valid.png",
        "metrics/confusion.png",
        "metrics/top_losses.png",
        "metrics/duplicates.png",
        "metrics/reliability.png",
        "metrics/coverage_risk.tsv",
    }
    assert set(plots) == declared
    for name in ("losses", "error_rate", "metrics/confusion.json", "metrics/per_class.tsv", "metrics/predictions.csv",
                 "metrics/coverage_risk.tsv"):  # fmt: skip
        assert plots[name][0]["content"]["data"]["values"], name
    confusion = plots["metrics/confusion.json"][0]["content"]["spec"]["encoding"]  # as confusion.png's axes
    assert confusion["x"]["field"] == "predicted" and confusion["y"]["field"] == "actual"
    assert '"title": "cross-entropy loss"' in json.dumps(plots["losses"])  # the y axis says what it is


def test_plots_show_writes_a_page_that_draws_offline(project):
    """No script from the network; vega, vega-lite and vega-embed in the page; each vega plot's spec with its data."""
    project.run("dvc", "plots", "show")
    page = (project.path / "dvc_plots/index.html").read_text()
    scripts = re.findall(r"<script([^>]*)>", page)
    assert scripts and not [attributes for attributes in scripts if "src" in attributes]  # inline, none fetched
    assert "cdn.jsdelivr.net" not in page  # where DVC's own page loads them from
    for library in ("vega@5.20.2", "vega-lite@5.2.0", "vega-embed@6.18.2"):
        assert f"/* {library}, BSD-3-Clause" in page
    specs = [json.loads(spec) for spec in re.findall(r"var spec = (\{.*?\});\n", page, re.DOTALL)]
    titles = {spec["title"]["text"] if isinstance(spec["title"], dict) else spec["title"]: spec for spec in specs}
    epochs = project.json("metrics/training/metrics.json")["step"]
    assert len(titles["Loss per epoch"]["data"]["values"]) == 2 * epochs  # train and valid loss
    assert len(titles["Validation error rate per epoch"]["data"]["values"]) == epochs
    assert len(titles["Confusion matrix (validation)"]["data"]["values"]) == 359
    assert '<img src="static/' in page  # the pictures, copied beside the page


def test_predict_agrees_with_evaluate(project):
    manifest = project.json("data/cache/manifest.json")
    valid_files = manifest["splits"]["valid"]["files"][:20]
    confusion = project.json("metrics/confusion.json")[:20]
    predictions = json.loads(
        project.run(
            "python",
            "-m",
            "pets",
            "predict",
            "--json",
            "--top",
            "2",
            *[f"data/raw/{name}" for name in valid_files],
            stdout_only=True,
        )
    )
    assert [p["path"] for p in predictions] == [f"data/raw/{name}" for name in valid_files]
    assert [p["predictions"][0]["class"] for p in predictions] == [r["predicted"] for r in confusion]
    assert all(
        len(p["predictions"]) == 2 and p["predictions"][0]["probability"] >= p["predictions"][1]["probability"]
        for p in predictions
    )
    folder = project.run("python", "-m", "pets", "predict", "data/raw/images", stdout_only=True)
    assert len(folder.strip().splitlines()) == 1797


def test_predict_says_clearly_when_an_input_is_not_an_image(project):
    (project.path / "notes.txt").write_text("not a picture")
    result = subprocess.run(
        ["python", "-m", "pets", "predict", "notes.txt", "data/raw/images/3_1.png"],
        cwd=project.path,
        env=project.env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "notes.txt: not an image" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "error: 1 of 2 input(s) could not be read as images (listed above)"
    assert result.stdout.startswith("data/raw/images/3_1.png\t")


def test_lr_find_sweeps_until_the_loss_explodes_and_suggests_a_rate_inside(project, tmp_path):
    # 40 batches sweep 1e-7..10 in steps of 1.6x: the digits' loss falls by a quarter and explodes within them
    project.run("python", "-m", "pets", "lr_find", "--iterations", "40", "--out", str(tmp_path))
    rows = [line.split("\t") for line in (tmp_path / "lr_find.tsv").read_text().splitlines()[1:]]
    rates, losses = [float(r) for r, _ in rows], [float(loss) for _, loss in rows]
    assert rates == sorted(rates) and rates[0] == pytest.approx(1e-7)
    lowest = losses.index(min(losses))
    assert losses[lowest] < losses[0] * 0.8  # it decreases...
    assert len(rates) < 40 or losses[-1] > 2 * losses[lowest]  # ...then explodes
    suggested = json.loads((tmp_path / "lr_find.json").read_text())
    assert set(suggested) == {"steepest", "minimum/10"}
    assert all(rates[0] <= rate <= rates[-1] for rate in suggested.values())
    with Image.open(tmp_path / "lr_find.png") as image:
        assert image.format == "PNG"


# a timm arch with fastai's head (train.head: fastai) on its ImageNet body (from its package, offline; frozen, so
# that one epoch is quick): what the head changes in the network must come back from model.pt and model.onnx alike
FASTAI_HEAD = ("-S", "arch=tf_efficientnet_lite0", "-S", "weights=imagenet", "-S", "train.head=fastai", "-S",
               "train.epochs=1")  # fmt: skip


def test_an_arch_experiment_reruns_from_train_and_its_head_survives_export_and_predict(project):
    output = project.run("dvc", "exp", "run", "export", *FASTAI_HEAD)
    assert stages_run(output) == ["train", "evaluate", "export"]
    check = project.json("metrics/export.json")
    assert check["max_abs_difference"] <= 1e-4 and check["top1_agreement"] == 1.0
    shown = json.loads(project.run("dvc", "exp", "show", "--json"))
    runs = [
        entry
        for commit in shown
        for entry in [commit] + [rev for exp in commit.get("experiments") or [] for rev in exp["revs"]]
    ]
    archs, error_rates = [], []
    for run in runs:
        data = run["data"]
        metrics = (data.get("metrics") or {}).get("metrics/metrics.json", {}).get("data")
        if metrics:
            params = data["params"]["params.yaml"]["data"]
            archs.append((params["arch"], params["train"]["head"]))
            error_rates.append(metrics["valid"]["error_rate"])
    assert ("tf_efficientnet_lite0", "fastai") in archs and ("resnet18", "linear") in archs, archs
    assert len(error_rates) >= 2
    valid_files = [f"data/raw/{name}" for name in project.json("data/cache/manifest.json")["splits"]["valid"]["files"]]
    answers = {}
    for model in ("models/model.pt", "models/model.onnx"):
        command = ("python", "-m", "pets", "predict", "--model", model, "--json", "--top", "3", *valid_files[:40])
        answers[model] = {a["path"]: a["predictions"] for a in json.loads(project.run(*command, stdout_only=True))}
    assert list(answers["models/model.pt"]) == valid_files[:40]
    for path, torch_answer in answers["models/model.pt"].items():
        onnx_answer = answers["models/model.onnx"][path]
        assert [a["class"] for a in onnx_answer] == [a["class"] for a in torch_answer], path
        assert all(abs(a["probability"] - b["probability"]) <= 1e-4 for a, b in zip(onnx_answer, torch_answer))
    predicted = [row["predicted"] for row in project.json("metrics/confusion.json")[:40]]
    assert [answers["models/model.pt"][path][0]["class"] for path in valid_files[:40]] == predicted


# the smallest run that splits the images anew: the digits quick start's model (the committed workspace has Lite0 with
# fastai's head, which trains slower), one epoch at 16 px
ANOTHER_SPLIT = ("-S", "index.seed=7", "-S", "train.epochs=1", "-S", "size=16", "-S", "cache.resolution=16", "-S",
                 "arch=resnet18", "-S", "weights=none", "-S", "train.head=linear")  # fmt: skip


def test_metrics_diff_between_two_commits(project):
    project.commit("digits with tf_efficientnet_lite0 and fastai's head")
    diff = json.loads(project.run("dvc", "metrics", "diff", "HEAD~1", "HEAD", "--json"))
    change = diff["metrics/metrics.json"]["valid.error_rate"]
    assert change["old"] != change["new"] and change["diff"] == pytest.approx(change["new"] - change["old"])
    params = json.loads(project.run("dvc", "params", "diff", "HEAD~1", "HEAD", "--json"))
    assert params["params.yaml"]["arch"] == {"old": "resnet18", "new": "tf_efficientnet_lite0"}
    assert params["params.yaml"]["train.head"] == {"old": "linear", "new": "fastai"}


def test_plots_of_two_revisions(project):
    plots = json.loads(project.run("dvc", "plots", "diff", "HEAD~1", "HEAD", "--json"))["data"]
    declared = {"losses", "error_rate", "metrics/confusion.json", "metrics/confusion.png", "metrics/top_losses.png"}
    assert declared <= set(plots)
    for name in ("losses", "metrics/confusion.json"):
        revisions = {rev for item in plots[name] for rev in item["revisions"]}
        assert revisions == {"HEAD~1", "HEAD"}, name


def compare(project, *args, check=True):
    return project.run("python", "-m", "pets", "compare", *args, check=check)


def test_compare_two_commits_image_by_image(project):
    result = json.loads(project.run("python", "-m", "pets", "compare", "HEAD~1", "HEAD", "--json", stdout_only=True))
    for side, rev in (("a", "HEAD~1"), ("b", "HEAD")):
        metrics = json.loads(project.run("git", "show", f"{rev}:metrics/metrics.json", stdout_only=True))
        assert result[f"error_rate_{side}"] == pytest.approx(metrics["valid"]["error_rate"], abs=1e-6)
    assert result["images"] == 359 and result["low"] <= result["difference"] <= result["high"]
    assert result["verdict"].startswith(("HEAD is better", "HEAD is worse", "no detectable difference"))
    rows = (project.path / "metrics/predictions.csv").read_text().splitlines()
    assert rows[0] == "split,file,label,predicted,p_label,p_predicted" and len(rows) == 1 + 359
    assert rows[1:] == sorted(rows[1:], key=lambda row: row.split(",")[1])  # by file: a git diff reads


def test_compare_refuses_runs_of_another_split_and_revisions_it_cannot_read(project):
    project.run("dvc", "exp", "run", "evaluate", *ANOTHER_SPLIT)
    refused = compare(project, "HEAD", "workspace", check=False)
    assert "error: HEAD and workspace were evaluated on other valid images (" in refused, refused
    assert "error: nope: no such commit, branch, tag or experiment" in compare(project, "nope", check=False)
    assert "error: HEAD~2: has no metrics/predictions.csv" in compare(project, "HEAD~2", check=False)
