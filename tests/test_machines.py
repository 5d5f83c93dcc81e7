"""One training run on several machines: two clones of the project as two machines, on 127.0.0.1. The first runs the
train stage under dvc (node 0, rank 0, the one writer, the rendezvous' host), the second joins it with
`python -m pets join` (node 1). Their processes give the model that one machine with as many processes gives, byte for
byte; a machine killed mid-epoch stops every process, and the run started again goes on; a machine with other params
is refused."""

import contextlib
import hashlib
import os
import signal
import subprocess
import time

import psutil
import pytest
import yaml

from tests.project import free_port

pytestmark = pytest.mark.e2e  # copies of the project, real dvc commands, torchrun on loopback

# on the mini digits: 2 x 1 process of 1 thread, 3 epochs; the reference, one machine of 2 processes (2 threads: 1 each)
RUN = {"threads": 1, "train__devices": 1, "train__nodes": 2, "train__batch_size": 16, "train__epochs": 3}
ONE_MACHINE = {**RUN, "threads": 2, "train__devices": 2, "train__nodes": 1}
TRAIN = ("dvc", "repro", "train")


def machines(mini_cached, tmp_path, **changes):
    """Two clones, the params of RUN (and `changes`) committed in each, meeting at a free port of 127.0.0.1."""
    settings = {**RUN, "rendezvous": {"endpoint": f"127.0.0.1:{free_port()}", "timeout": 120}, **changes}
    pair = []
    for name in ("first", "second"):
        project = mini_cached.copy(tmp_path / name)
        project.set_params(**settings)
        project.commit("two machines")
        pair.append(project)
    return pair


def start(project, *command):
    environment = {**project.env, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(command, cwd=project.path, env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip


def together(first, second, timeout=300):
    """Run the train stage on the first machine and join it from the second; (exit status, output) of each."""
    runs = [start(first, *TRAIN), start(second, "python", "-m", "pets", "join")]
    outputs = [run.communicate(timeout=timeout)[0] for run in runs]
    return [(run.returncode, output) for run, output in zip(runs, outputs)]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def trained(project):
    return {name: digest(project.path / name) for name in ("models/model.pt", "models/scores.npz")}


def files(project):
    """Every file of a workspace but git's and Python's own, with its size and modification time."""
    return {
        path: (path.stat().st_size, path.stat().st_mtime_ns)
        for path in project.path.rglob("*")
        if path.is_file() and ".git" not in path.parts and "__pycache__" not in path.parts
    }


def alive(*projects):
    """The train stage's processes (torchrun's workers included) still running in these workspaces."""
    folders, found = {str(project.path) for project in projects}, []
    for process in psutil.process_iter(["cmdline", "cwd"]):
        with contextlib.suppress(psutil.Error):
            command = " ".join(process.info["cmdline"] or [])
            if ("stages.train" in command or "pets join" in command) and process.info["cwd"] in folders:
                found.append(process)
    return found


@pytest.fixture(scope="module")
def reference(mini_cached, tmp_path_factory):
    """What one machine with 2 processes trains."""
    project = mini_cached.copy(tmp_path_factory.mktemp("one-machine") / "project")
    project.set_params(**ONE_MACHINE)
    project.run(*TRAIN)
    return trained(project)


def test_two_machines_train_the_model_one_machine_with_as_many_processes_trains(mini_cached, tmp_path, reference):
    first, second = machines(mini_cached, tmp_path)
    before = files(second)
    (status, output), (joined, said) = together(first, second)
    assert status == 0 and joined == 0, output[-3000:] + said[-3000:]
    assert "on 2 x cpu, 2 machines (1 CPU threads each)" in output
    assert said.splitlines()[-1] == "join: node 1 done; the model and the run's outputs are node 0's"
    assert trained(first) == reference  # byte for byte
    assert files(second) == before  # the second machine wrote nothing into its workspace
    lock = yaml.safe_load((first.path / "dvc.lock").read_text())["stages"]["train"]
    assert lock["params"]["params.yaml"]["train"]["nodes"] == 2  # the run is DVC's, as any other
    assert first.up_to_date("train") and "Stage 'train' didn't change" in first.run(*TRAIN)


def test_a_machine_killed_mid_epoch_stops_every_process_and_the_run_started_again_goes_on(
    mini_cached, tmp_path, reference
):
    first, second = machines(mini_cached, tmp_path)
    runs = [start(first, *TRAIN), start(second, "python", "-m", "pets", "join")]
    for line in runs[0].stdout:
        if line.startswith("epoch 1 ("):
            break
    os.killpg(runs[1].pid, signal.SIGKILL)  # the second machine, its launcher and its worker, at once
    killed = time.monotonic()
    output = runs[0].communicate(timeout=60)[0]
    runs[1].wait()
    deadline = time.monotonic() + 10
    while alive(first, second) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(first, second) and time.monotonic() - killed < 15
    assert runs[0].returncode != 0
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: a process of this run stopped ("), output[-3000:]
    assert "Traceback" not in output
    (status, output), (joined, said) = together(first, second)  # at once, on the same endpoint
    assert status == 0 and joined == 0, output[-3000:] + said[-3000:]
    assert "train: resuming after epoch 1 from models/resume.pt" in output
    assert trained(first) == reference


def test_a_machine_with_other_params_is_refused_in_one_line_on_each(mini_cached, tmp_path):
    first, second = machines(mini_cached, tmp_path)
    second.set_params(train__lr=0.05)
    (status, output), (joined, said) = together(first, second)
    assert status != 0 and joined != 0
    for text in (output, said):
        errors = [line for line in text.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "the machines of this run differ: node 1" in errors[0], text[-3000:]
        assert "other params, data or code than node 0" in errors[0] and "Traceback" not in text
    assert not (first.path / "models/resume.pt").exists()


def test_joining_a_run_of_one_machine_or_as_node_zero_is_one_line(mini_cached, tmp_path):
    alone = mini_cached.copy(tmp_path / "alone")
    said = alone.run("python", "-m", "pets", "join", check=False)
    assert said.strip().splitlines()[-1] == (
        "error: params.yaml's train.nodes is 1: a run on one machine has nothing to join (set train.nodes first)"
    )
    alone.set_params(train__nodes=2)
    said = alone.run("python", "-m", "pets", "join", "--node-rank", "2", check=False)
    assert said.strip().splitlines()[-1].startswith("error: --node-rank 2: params.yaml's train.nodes is 2, so the")
