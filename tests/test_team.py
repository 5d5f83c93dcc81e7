"""Experiments run on other machines and compared here, with DVC's own commands: a git remote (a bare repository)
and a DVC remote (a local folder), two clones as two machines. A seeds sweep split between them is pushed, pulled
and compared as one recipe; a fresh clone gets a pushed run's model without training it."""

import json
import subprocess

import pytest

from tests.project import Project, stages_run

pytestmark = pytest.mark.e2e  # copies of the project, real dvc and git commands


def clone(origin, path):
    subprocess.run(["git", "clone", "-q", str(origin), str(path)], check=True, capture_output=True)
    return Project(path, path.parent / "torch_home", files=False)


@pytest.fixture(scope="module")
def team(mini_cached, tmp_path_factory):
    """Alice's clone (the mini digits, cached) pushed to a bare repository and a DVC remote; Bob's clone of it."""
    root = tmp_path_factory.mktemp("team")
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(root / "origin.git")], check=True)
    alice = mini_cached.copy(root / "alice")
    alice.run("dvc", "remote", "add", "-d", "store", str(root / "storage"))
    alice.commit("a DVC remote")
    alice.run("git", "remote", "add", "origin", str(root / "origin.git"))
    alice.run("git", "push", "-q", "origin", "main")
    alice.run("dvc", "push")
    bob = clone(root / "origin.git", root / "bob")
    bob.run("dvc", "pull", "cache")  # the data and the pixel cache, not computed again
    return root, alice, bob


def sweep(project, seeds):
    """The README's sweep: queued seeds run up to evaluate, in the background (as on another machine)."""
    project.run("dvc", "exp", "run", "evaluate", "--queue", "-S", f"train.seed={seeds}")
    return subprocess.Popen(["dvc", "exp", "run", "--run-all"], cwd=project.path, env=project.env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def experiments(project):
    shown = json.loads(project.run("dvc", "exp", "show", "--json", stdout_only=True))
    return {exp["name"]: exp for commit in shown for exp in commit.get("experiments") or []}


def test_a_seeds_sweep_split_between_two_machines_is_pushed_pulled_and_compared_as_one_recipe(team):
    _, alice, bob = team
    runs = [sweep(alice, "range(1,4)"), sweep(bob, "range(4,7)")]
    for run in runs:
        output = run.communicate(timeout=900)[0]
        assert run.returncode == 0, output[-3000:]
    mine, theirs = experiments(alice), experiments(bob)
    assert len(mine) == len(theirs) == 3
    bob.run("dvc", "exp", "push", "origin")  # Bob's experiments and their outputs
    alice.run("dvc", "exp", "pull", "origin")
    everyone = experiments(alice)
    assert set(everyone) == set(mine) | set(theirs)  # dvc exp show here lists the runs made there
    grouped = alice.run("python", "-m", "pets", "compare", "--seeds", stdout_only=True)
    assert grouped.startswith("all runs: 6 run(s), error_rate "), grouped
    name = next(iter(theirs))
    compared = alice.run("python", "-m", "pets", "compare", next(iter(mine)), name, stdout_only=True)
    assert f"{name}: error_rate" in compared  # image by image, against a run made on the other machine


def test_a_fresh_clone_gets_a_pushed_runs_model_with_exp_run_pull_not_allow_missing(team):
    """`--allow-missing` skips a stage whose outputs are missing but unchanged, without fetching them (DVC's
    Stage.reproduce: the SkyPilot example's `--pull --allow-missing` is made to run only what changed); `--pull`
    alone fetches them from the remote instead of computing them."""
    root, alice, _ = team
    alice.run("dvc", "repro", "evaluate")  # a run of Alice's, committed and pushed
    alice.commit("a trained run")
    alice.run("git", "push", "-q", "origin", "main")
    alice.run("dvc", "push")
    carol = clone(root / "origin.git", root / "carol")
    skipped = carol.run("dvc", "exp", "run", "evaluate", "--pull", "--allow-missing")
    assert stages_run(skipped) == [] and not (carol.path / "models/model.pt").exists()
    pulled = carol.run("dvc", "exp", "run", "evaluate", "--pull")
    assert stages_run(pulled) == [] and "Pulling data for" in pulled  # nothing trained
    assert (carol.path / "models/model.pt").read_bytes() == (alice.path / "models/model.pt").read_bytes()
    assert carol.json("metrics/metrics.json") == alice.json("metrics/metrics.json")
