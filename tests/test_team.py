"""Experiments run on other machines and compared here, with DVC's own commands: a git remote (a bare repository)
and a DVC remote (a local folder), clones as machines. A seeds sweep split between two is pushed, pulled and compared
as one recipe; a fresh clone gets a pushed run's model without training it; the launchers (launchers/) run as Slurm
and SkyPilot would run them, two nodes on 127.0.0.1, and their experiment is pulled here."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.project import Project, free_port, stages_run

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
    bob.run("dvc", "pull", "--with-deps", "cache")  # the data and the pixel cache, not computed again
    return root, alice, bob


def sweep(project, seeds):
    """The README's sweep: queued seeds run up to evaluate, in the background (as on another machine)."""
    project.run("dvc", "exp", "run", "evaluate", "--queue", "-S", f"train.seed={seeds}")
    return subprocess.Popen(["dvc", "exp", "run", "--run-all"], cwd=project.path, env=project.env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def seed(exp):
    return exp["revs"][0]["data"]["params"]["params.yaml"]["data"]["train"]["seed"]


def experiments(project):
    shown = json.loads(project.run("dvc", "exp", "show", "--json", stdout_only=True))
    return {exp["name"]: exp for commit in shown for exp in commit.get("experiments") or []}


def test_a_seeds_sweep_split_between_two_machines_is_pushed_pulled_and_compared_as_one_recipe(team):
    """Also what a queued sweep on one machine must give (test_pipeline's queued seeds test, merged here): each run
    compared by name with the error rate dvc exp show has for it, the workspace untouched."""
    _, alice, bob = team
    runs = [sweep(alice, "range(1,3)"), sweep(bob, "range(3,5)")]  # the README's commands, two seeds a machine
    for run in runs:
        output = run.communicate(timeout=900)[0]
        assert run.returncode == 0, output[-3000:]
    mine, theirs = experiments(alice), experiments(bob)
    assert sorted(seed(exp) for exp in mine.values()) == [1, 2]
    assert sorted(seed(exp) for exp in theirs.values()) == [3, 4]
    bob.run("dvc", "exp", "push", "origin")  # Bob's experiments and their outputs
    alice.run("dvc", "exp", "pull", "origin")
    everyone = experiments(alice)
    assert set(everyone) == set(mine) | set(theirs)  # dvc exp show here lists the runs made there
    grouped = alice.run("python", "-m", "pets", "compare", "--seeds", stdout_only=True)
    assert grouped.startswith("all runs: 4 run(s), error_rate "), grouped
    before = alice.run("git", "status", "--porcelain")
    pair = [next(iter(mine)), next(iter(theirs))]
    compared = alice.run("python", "-m", "pets", "compare", *pair, stdout_only=True)
    for name in pair:  # image by image, against a run made on the other machine
        rate = everyone[name]["revs"][0]["data"]["metrics"]["metrics/metrics.json"]["data"]["valid"]["error_rate"]
        assert f"{name}: error_rate {rate:.4f}" in compared, compared
    assert alice.run("git", "status", "--porcelain") == before  # nothing in the workspace changed


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


# the launchers' params on two nodes of one process and one thread each, the mini digits' short run
LAUNCHED = "threads=1 train.devices=1 train.batch_size=16"

# Slurm's own commands for a job of 2 nodes on this machine: srun starts its command once per node, as the tasks of
# one step, with each node's variables; scontrol expands the job's node list
SRUN = """#!/usr/bin/env bash
while [[ $1 == -* ]]; do shift; done
pids=()
for ((node = 0; node < SLURM_NNODES; node++)); do
  SLURM_NODEID=$node SLURM_PROCID=$node SLURM_LOCALID=0 "$@" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit $status
"""
SCONTROL = """#!/usr/bin/env bash
[[ "$1 $2" == "show hostnames" ]] && tr , "\\n" <<< "$3"
"""


def launched(project):
    """The experiments `dvc exp pull origin` brings into `project` that ran on two machines: {name: params}. The
    project first takes the commit they ran on (another test pushed one): dvc exp pull brings a commit's own."""
    project.run("git", "pull", "-q", "--ff-only", "origin", "main")
    project.run("dvc", "exp", "pull", "origin")
    found = {}
    for name, exp in experiments(project).items():
        params = exp["revs"][0]["data"]["params"]["params.yaml"]["data"]
        if params["train"]["nodes"] == 2:
            found[name] = params
    return found


def test_the_slurm_launcher_run_as_slurm_runs_it_trains_on_two_nodes_and_pushes_the_experiment(team, tmp_path):
    root, _, bob = team
    cluster = clone(root / "origin.git", root / "slurm")  # the project's folder on the cluster's shared filesystem
    (cluster.path / ".venv").symlink_to(sys.prefix)  # made by `make` there
    cluster.run("dvc", "pull", "--with-deps", "cache")
    for name, text in (("srun", SRUN), ("scontrol", SCONTROL)):
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o755)
    job = {"SLURM_JOB_ID": "7", "SLURM_NNODES": "2", "SLURM_JOB_NODELIST": "127.0.0.1,127.0.0.1"}
    env = {**cluster.env, **job, "PETS_PORT": str(free_port()), "PATH": f"{tmp_path}{os.pathsep}{cluster.env['PATH']}"}
    batch = subprocess.run(["bash", "launchers/slurm.sbatch", *LAUNCHED.split()], cwd=cluster.path, env=env,
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    output = batch.stdout + batch.stderr
    assert batch.returncode == 0, output[-4000:]
    assert "join: node 1 of 2" in output and "2 machines" in output  # both nodes took part in one run
    assert (cluster.path / "models/model.onnx").is_file()  # the whole pipeline, on node 0's workspace
    pulled = launched(bob)
    assert len(pulled) == 1 and next(iter(pulled.values()))["threads"] == 1, pulled


def test_the_skypilot_task_set_up_and_run_as_skypilot_runs_it_trains_on_two_nodes_and_pushes(team, tmp_path):
    root, alice, _ = team
    task = yaml.safe_load((Path(__file__).resolve().parents[1] / "launchers/skypilot.yaml").read_text())
    assert task["num_nodes"] == 2
    port, nodes = str(free_port()), []
    for rank in range(2):
        home = tmp_path / f"node{rank}"  # a machine of the cluster: its home, with the venv its setup made before
        home.mkdir()
        (home / "pets-venv").symlink_to(sys.prefix)
        variables = {"REPO": str(root / "origin.git"), "SETTINGS": LAUNCHED, "PORT": port,
                     "SKYPILOT_NODE_RANK": str(rank), "SKYPILOT_NODE_IPS": "127.0.0.1\n127.0.0.1",
                     "SKYPILOT_NUM_NODES": "2", "SKYPILOT_NUM_GPUS_PER_NODE": "0"}  # fmt: skip
        env = {**alice.env, **{k: str(v) for k, v in task["envs"].items()}, **variables, "HOME": str(home)}
        setup = subprocess.run(["bash", "-c", task["setup"]], cwd=home, env=env, capture_output=True, text=True)
        assert setup.returncode == 0, (setup.stdout + setup.stderr)[-3000:]
        assert (home / "pets/data/cache").is_dir()  # pulled, not computed
        nodes.append((home, env))
    runs = [subprocess.Popen(["bash", "-c", task["run"]], cwd=home, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for home, env in nodes]  # fmt: skip
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    for run, output in zip(runs, outputs):
        assert run.returncode == 0, output[-4000:]
    assert "join: node 1 of 2" in outputs[1] and "2 machines" in outputs[0]
    assert not (nodes[1][0] / "pets/models/model.pt").exists()  # node 1 trained and wrote nothing
    pulled = launched(alice)
    assert len(pulled) >= 1 and all(params["train"]["nodes"] == 2 for params in pulled.values())
