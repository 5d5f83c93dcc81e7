"""python -m pets compare: the paired statistics, the predictions file, revisions read through git, seeds grouped."""

import json
import subprocess

import numpy as np
import pytest
import torch

from pets.errors import PetsError
from pets.report.compare import bootstrap_interval, changed, mcnemar_p, paired
from pets.report.predictions import prediction_rows, predictions_csv, read_predictions
from pets.report.seeds import group_by_recipe, report_lines, runs_of, seed_report
from pets.workspace.revisions import read_at

CLASSES = ["cat", "dog, spotted", 'say "hi"']  # labels from file names may hold commas and quotes


def rows(rights, labels=None, split="valid"):
    """Prediction rows of images f000, f001, ...: right where `rights` is true, else predicting the next class."""
    labels = labels or [i % 3 for i in range(len(rights))]
    probs = torch.zeros(len(rights), 3)
    for i, (ok, label) in enumerate(zip(rights, labels)):
        probs[i, label if ok else (label + 1) % 3] = 0.9
        probs[i] += 0.05 / 3
    return prediction_rows(split, [f"images/f{i:03}.jpg" for i in range(len(rights))], probs, labels, CLASSES)


def test_mcnemar_is_the_exact_binomial_on_the_discordant_images():
    assert mcnemar_p(10, 2) == pytest.approx(2 * (1 + 12 + 66) / 2**12)  # 2 P(X <= 2), X ~ Bin(12, 1/2)
    assert mcnemar_p(2, 10) == mcnemar_p(10, 2) and mcnemar_p(0, 0) == 1.0


def test_identical_predictions_give_p_1_and_an_interval_of_zero():
    same = rows([True, False] * 50)
    comparison = paired(same, same, a="A", b="B")
    assert (comparison.p, comparison.low, comparison.high, comparison.difference) == (1.0, 0.0, 0.0, 0.0)
    assert comparison.verdict() == "no detectable difference: p = 1; run more seeds (python -m pets compare --seeds)"


def test_the_bootstrap_of_counts_is_the_bootstrap_over_images():
    a = np.array([1] * 150 + [0] * 50)
    b = np.array([1] * 140 + [0] * 10 + [1] * 30 + [0] * 20)  # 10 broken, 30 fixed
    rng = np.random.default_rng(1)
    picks = rng.integers(0, 200, (10_000, 200))
    direct = np.percentile(((1 - b[picks]) - (1 - a[picks])).mean(1), [2.5, 97.5])
    assert np.allclose(bootstrap_interval(30, 10, 200), direct, atol=0.006)


def test_the_verdict_says_better_or_worse_with_the_counts():
    a, b = rows([False] * 21 + [True] * 6 + [True] * 100), rows([True] * 21 + [False] * 6 + [True] * 100)
    better = paired(a, b, a="HEAD", b="workspace")
    assert (better.fixed, better.broken, better.errors_a, better.errors_b) == (21, 6, 21, 6)
    assert better.verdict() == f"workspace is better: 21 images fixed, 6 broken, p = {better.p:.2g}" and better.p < 0.01
    assert better.low < better.difference < better.high < 0
    worse = paired(b, a, a="x", b="y")
    assert worse.verdict().startswith("y is worse: 21 images broken, 6 fixed, p = ")
    assert [kind for kind, _, _ in changed(a, b)] == ["fixed"] * 21 + ["broken"] * 6


def test_runs_on_other_images_or_labels_are_refused_saying_how_many():
    a = rows([True] * 10)
    other_files = [dict(row, file=row["file"].replace("f00", "g00")) for row in a[:3]] + a[3:]
    with pytest.raises(PetsError, match=r"A and B were evaluated on other valid images \(3 only in A, 3 only in B, 0"):
        paired(a, other_files, a="A", b="B")
    relabelled = [dict(a[0], label="dog, spotted" if a[0]["label"] == "cat" else "cat"), *a[1:]]
    with pytest.raises(PetsError, match="0 only in A, 0 only in B, 1 with another label"):
        paired(a, relabelled, a="A", b="B")


def test_the_predictions_file_round_trips_in_file_order_and_bad_ones_are_one_line():
    written = rows([True, False, True]) + rows([True], split="test")
    text = predictions_csv(list(reversed(written)))
    assert text.splitlines()[0] == "split,file,label,predicted,p_label,p_predicted"
    assert [line.split(",")[1] for line in text.splitlines()[1:]] == [f"images/f00{i}.jpg" for i in (0, 1, 2, 0)]
    assert '"dog, spotted"' in text and read_predictions(text, "x") == written
    for damage, said in (
        (text.replace("valid,", "train,", 1), "line 2: split 'train' is not one of valid, test"),
        (text.replace(",0.9", ",1.9", 1), "line 2: p_label 1.91\\d* is not a probability"),
        (text + "valid,images/f000.jpg,cat,cat,0.9,0.9\n", "line 6: images/f000.jpg is listed twice"),
        (text + "valid,x.jpg,cat\n", "line 6: wrong number of fields"),
        ("a,b\n1,2\n", "not a predictions file"),
    ):
        with pytest.raises(PetsError, match="^HEAD:metrics/predictions.csv: " + said):
            read_predictions(damage, "HEAD:metrics/predictions.csv")
    assert read_predictions("\ufeff" + text, "x") == written  # saved by a spreadsheet, with a byte order mark


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(key, "t@t")
    subprocess.run(["git", "init", "-q"], check=True)
    (tmp_path / "metrics").mkdir()
    return tmp_path


def commit(repo, text, message):
    (repo / "metrics/predictions.csv").write_text(text)
    subprocess.run(["git", "add", "-A"], check=True)
    subprocess.run(["git", "commit", "-q", "-m", message], check=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()


def test_revisions_are_commits_experiment_names_or_the_workspace_and_bad_ones_are_one_line(repo):
    from pathlib import Path

    path = Path("metrics/predictions.csv")
    first = commit(repo, "first\n", "one")
    second = commit(repo, "second\n", "two")
    subprocess.run(["git", "update-ref", f"refs/exps/{first[:2]}/{first[2:]}/lucky-seed", first], check=True)
    (repo / path).write_text("workspace\n")
    assert [read_at(rev, path) for rev in ("HEAD~1", "HEAD", "lucky-seed", "workspace")] == [
        "first\n",
        "second\n",
        "first\n",
        "workspace\n",
    ]
    with pytest.raises(PetsError, match="^nope: no such commit, branch, tag or experiment"):
        read_at("nope", path)
    subprocess.run(["git", "update-ref", f"refs/exps/{second[:2]}/{second[2:]}/lucky-seed", second], check=True)
    with pytest.raises(PetsError, match="^lucky-seed: 2 experiments have this name"):
        read_at("lucky-seed", path)
    with pytest.raises(PetsError, match="^HEAD: has no metrics/other.csv"):
        read_at("HEAD", Path("metrics/other.csv"))
    assert (repo / path).read_text() == "workspace\n"  # nothing checked out


def run_main(*argv):
    """(exit status, stderr's last line) of `python -m pets` in this process."""
    from pets.__main__ import main

    try:
        main(list(argv))
    except SystemExit as stop:
        return (stop.code if isinstance(stop.code, int) else 1), str(stop.code)
    return 0, ""


def test_compare_outside_a_repository_or_before_a_commit_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # the tests' own folder may be in a repository
    assert run_main("compare", "--picture", "none") == (
        1,
        f"error: {tmp_path} is not in a git repository: runs are compared through git (their commits and DVC's "
        "experiments); run this in the project's clone",
    )
    subprocess.run(["git", "init", "-q"], check=True)
    status, said = run_main("compare", "--picture", "none")
    assert status == 1 and said == (
        "error: this git repository has no commit yet: commit the project, then dvc exp run, then compare"
    )


def test_three_revisions_are_one_line(repo):
    commit(repo, predictions_csv(rows([True, False])), "one")
    status, said = run_main("compare", "HEAD", "HEAD", "workspace")
    assert status == 1 and said == "error: compare takes two revisions at most (A B), not 3: HEAD HEAD workspace"


@pytest.mark.parametrize(
    "picture, said",
    [("metrics", "metrics is a folder: name a file in it, e.g. metrics/compare.png"),
     ("params.yaml/c.png", "params.yaml/c.png: params.yaml is a file, not a folder"),
     ("nowhere/c.png", "nowhere/c.png: there is no folder nowhere (no folder is made for it)")],
)  # fmt: skip
def test_a_picture_path_that_is_a_folder_inside_a_file_or_in_no_folder_is_refused_and_nothing_is_removed(
    repo, capsys, picture, said
):
    """`compare --picture metrics` once replaced metrics/ (metrics.json, predictions.csv, ...) by one PNG file."""
    text = predictions_csv(rows([True, False] * 5))
    commit(repo, text, "one")
    (repo / "metrics/predictions.csv").write_text(predictions_csv(rows([False, True] * 5)))  # images changed
    (repo / "params.yaml").write_text("data: pets\n")
    assert run_main("compare", "--picture", picture)[0] == 2
    assert said in capsys.readouterr().err
    assert sorted(p.name for p in (repo / "metrics").iterdir()) == ["predictions.csv"]
    assert (repo / "params.yaml").read_text() == "data: pets\n" and not (repo / "nowhere").exists()


def exp_show(runs):
    """`dvc exp show --json` as DVC 3 writes it: the workspace, the baseline commit and its experiments."""

    def entry(name, arch, seed, error):
        params = {"arch": arch, "train": {"seed": seed, "epochs": 4}}
        metrics = {"metrics/metrics.json": {"data": {"valid": {"error_rate": error}}}}
        return {"rev": f"{abs(hash(name)):x}", "name": name, "data": {"params": {"params.yaml": {"data": params}},
                "metrics": metrics}}  # fmt: skip

    experiments = [{"name": name, "revs": [entry(name, *run)]} for name, run in runs.items()]
    workspace = entry("workspace", "resnet18", 1, 0.5)
    return [dict(workspace, rev="workspace"), {**entry("main", "resnet34", 42, 0.07), "experiments": experiments}]


def test_seeds_group_runs_by_every_other_param_and_test_each_group_against_the_best():
    shown = exp_show(
        {
            **{f"a{s}": ("resnet18", s, e) for s, e in zip(range(1, 6), (0.10, 0.12, 0.11, 0.13, 0.09))},
            **{f"b{s}": ("resnet50", s, e) for s, e in zip(range(1, 6), (0.06, 0.08, 0.07, 0.08, 0.06))},
        }
    )
    shown[1]["experiments"].append(
        {"name": "again", "revs": [dict(shown[1]["experiments"][0]["revs"][0], name="again")]}
    )
    runs = runs_of(json.loads(json.dumps(shown)))
    assert len(runs) == 12  # the workspace, which repeats an applied run, is left out; `again` repeats a1
    report = seed_report(group_by_recipe(runs))
    assert [(row["recipe"], row["runs"]) for row in report] == [
        ("arch=resnet50", 5),
        ("arch=resnet34", 1),
        ("arch=resnet18", 5),
    ]
    best, single, other = report
    assert best["mean"] == pytest.approx(0.07) and best["sd"] == pytest.approx(np.std([6, 8, 7, 8, 6], ddof=1) / 100)
    assert single["note"] == "1 run: no spread; queue more seeds" and single["test"] == ""
    assert other["test"] == "paired t over 5 seeds" and other["p"] < 0.001  # same seeds, 0.04 apart each
    lines = report_lines(report)
    assert lines[0] == "arch=resnet50: 5 run(s), error_rate 0.0700 ± 0.0100 (best)"
    assert lines[1].endswith("1 run: no spread; queue more seeds")
    assert "+0.0400 against the best, paired t over 5 seeds p = " in lines[2]
    unmatched = exp_show({"a1": ("resnet18", 1, 0.1), "a2": ("resnet18", 2, 0.12), "b3": ("resnet50", 3, 0.06),
                          "b4": ("resnet50", 4, 0.07)})  # fmt: skip
    report = seed_report(group_by_recipe(runs_of(unmatched)))
    assert report[-1]["test"] == "Welch's t"
    extra = exp_show({"a1": ("resnet18", 1, 0.1), "a2": ("resnet18", 2, 0.12), "a9": ("resnet18", 9, 0.2),
                      "b1": ("resnet50", 1, 0.06), "b2": ("resnet50", 2, 0.07)})  # fmt: skip
    assert seed_report(group_by_recipe(runs_of(extra)))[-1]["test"] == "paired t over 2 seeds"  # a9 has no pair
