"""Ctrl-C (SIGINT) or a hard kill (SIGKILL) in the middle of a stage loses nothing: the next `dvc repro`
completes, and its outputs equal those of a run that was never interrupted.

The runs stop where what is interrupted ends: caching (`dvc repro cache`, on the digits at 192 px, which take long
enough to decode to be interrupted) or training (`dvc repro train`, on the mini digits, tests.helpers.mini_digits):
the stages after them run on outputs found equal."""

import contextlib
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import tarfile
import threading
import time

import psutil
import pytest
import torch

from tests.helpers import SHORT
from tests.httpserver import FileServer
from tests.pets_archive import pets_shaped_archives
from tests.project import Project, template

pytestmark = pytest.mark.e2e  # a copy of the project, real dvc commands

DIGITS_192 = {**SHORT, "cache__resolution": 192}
MINI = {"train__epochs": 3, "train__epochs_unfrozen": 1}  # on top of the mini digits: a frozen, then an unfrozen phase
CURVES = ("train_loss", "valid_loss", "error_rate", "lr")  # dvclive's files, less the timings
CACHE, TRAIN = ("dvc", "repro", "cache"), ("dvc", "repro", "train")


@pytest.fixture(scope="module")
def indexed(shared):
    """The digits downloaded and indexed, not yet cached (at 192 px, caching takes long enough to interrupt)."""

    def build(project):
        project.set_params(**DIGITS_192)
        project.run("dvc", "repro", "index")
        project.commit("digits at 192 px, indexed")

    return template(shared, "digits-192-indexed", build)


@pytest.fixture
def mini(mini_cached, tmp_path):
    """A copy of the cached mini digits with MINI's epochs."""
    project = mini_cached.copy(tmp_path / "project")
    project.set_params(**MINI)
    return project


@pytest.fixture(autouse=True)
def sigint_not_ignored():
    """A shell that starts the tests in the background ignores SIGINT, and so would every run started from here;
    with a handler in this process, the runs start with SIGINT's default action instead."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def interrupt(project, ready, sig, delay, command=TRAIN):
    """Start `command`; `delay` seconds after `ready(output so far)` holds, signal its whole process group."""
    process = subprocess.Popen(
        command,
        cwd=project.path,
        env={**project.env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while not ready("".join(output)):
        assert process.poll() is None, "the run finished before it could be interrupted:\n" + "".join(output)
        assert time.monotonic() < deadline, "the moment to interrupt never came:\n" + "".join(output)
        time.sleep(0.05)
    time.sleep(delay)
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError("the interrupted run did not stop within 60 s") from None
    reader.join(timeout=10)
    assert process.returncode != 0, "the run finished before it was interrupted"
    return "".join(output)


def printed(text):
    return lambda output: text in output


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cached(project):
    return {name: digest(project.path / "data/cache" / name) for name in ("train.npy", "valid.npy", "manifest.json")}


def trained(project):
    """What a finished training produced, in comparable form: the model, its scores (evaluate's metrics are computed
    from them alone) and the curves."""
    state = torch.load(project.path / "models/model.pt", weights_only=True)["state_dict"]
    return {
        "scores": digest(project.path / "models/scores.npz"),
        "model": {k: hashlib.sha256(v.numpy().tobytes()).hexdigest() for k, v in state.items()},
        "curves": {name: (project.path / f"metrics/training/plots/metrics/{name}.tsv").read_text() for name in CURVES},
    }


@pytest.fixture(scope="module")
def reference_cache(indexed, tmp_path_factory):
    project = indexed.copy(tmp_path_factory.mktemp("reference-cache") / "project")
    project.run(*CACHE)
    return cached(project)


@pytest.fixture(scope="module")
def reference(mini_cached, tmp_path_factory):
    project = mini_cached.copy(tmp_path_factory.mktemp("reference") / "project")
    project.set_params(**MINI)
    project.run(*TRAIN)
    return trained(project)


def no_temporaries(project):
    return not [path for folder in ("data", "models", "metrics") for path in (project.path / folder).glob(".*.tmp")]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_caching_completes_with_the_same_cache(indexed, tmp_path, reference_cache, sig):
    """The cache stage decodes the digits in a second or two after its first line: interrupted early in that."""
    project = indexed.copy(tmp_path / "project")
    output = interrupt(project, printed("\ncache: decoding"), sig, 0.1, command=CACHE)
    if sig == signal.SIGINT:
        assert "interrupted" in output
    project.run(*CACHE)
    assert cached(project) == reference_cache
    assert project.up_to_date("cache") and no_temporaries(project)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_training_completes_with_the_same_model(mini, reference, sig):
    output = interrupt(mini, printed("\ntrain:"), sig, 2.0)
    if sig == signal.SIGINT:
        assert "interrupted" in output
    mini.run(*TRAIN)
    assert trained(mini) == reference
    assert mini.up_to_date("train") and no_temporaries(mini)


def test_training_killed_after_an_epoch_resumes_there_and_ends_byte_identical(mini, reference):
    project = mini
    interrupt(project, printed("\nepoch 2 (all)"), signal.SIGKILL, 0.0)
    # what `dvc exp show` and `dvc plots` see of a run that is training: the epochs it has finished
    latest = project.json("metrics/training/metrics.json")
    assert latest["step"] >= 2 and latest["error_rate"] < 0.9, latest
    shown = json.loads(project.run("dvc", "exp", "show", "--json"))
    assert shown[0]["rev"] == "workspace"
    assert shown[0]["data"]["metrics"]["metrics/training/metrics.json"]["data"] == latest
    assert (project.path / "models/resume.pt").exists()

    output = project.run(*TRAIN)
    done = int(re.search(r"resuming after epoch (\d) from models/resume.pt", output).group(1))
    assert done == latest["step"]
    trained_now = re.findall(r"^epoch (\d) \(", output, re.MULTILINE)
    assert trained_now == [str(epoch) for epoch in range(done + 1, 5)]  # only the epochs left
    assert trained(project) == reference
    assert not (project.path / "models/resume.pt").exists()
    assert project.up_to_date("train")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_download_resumes_and_unpacks_the_same_tree(tmp_path, sig):
    images, annotations, _ = pets_shaped_archives()
    with FileServer({"/images.tar.gz": images, "/annotations.tar.gz": annotations}) as server:
        server.seconds_per_mib = 3 / (len(images) / 2**20)  # about 3 s for the images archive
        project = Project(tmp_path / "project", tmp_path / "torch_home")
        project.set_params(
            size=16,
            cache__resolution=16,
            index__min_per_class=3,  # the archive's three images a breed
            datasets__pets__sources=[
                {
                    "archives": [
                        {"url": f"{server.url}/images.tar.gz", "sha256": hashlib.sha256(images).hexdigest()},
                        {"url": f"{server.url}/annotations.tar.gz", "sha256": hashlib.sha256(annotations).hexdigest()},
                    ]
                }
            ],
        )
        started = lambda output: any(path == "/images.tar.gz" for path, _ in server.requests)  # noqa: E731
        interrupt(project, started, sig, 1.0, command=("dvc", "repro", "index"))
        [part] = (project.path / "data/downloads").glob("*/images.tar.gz.part")
        had = part.stat().st_size
        assert 0 < had < len(images)  # what came before the interruption is kept
        assert not (project.path / "data/raw").exists()
        server.seconds_per_mib = 0.0
        project.run("dvc", "repro", "index")
    assert ("/images.tar.gz", f"bytes={had}-") in server.requests  # the next run asked for the rest only
    with tarfile.open(fileobj=io.BytesIO(images)) as tar:
        in_archive = sorted(m.name for m in tar.getmembers() if m.isfile())
    assert (
        sorted(
            p.relative_to(project.path / "data/raw").as_posix() for p in (project.path / "data/raw/images").iterdir()
        )
        == in_archive
    )
    assert project.json("metrics/index.json")["classes"] == 37


# three processes under torchrun, on the CPU: with three or more, the order of an all-reduce's sums shows in the bits
DISTRIBUTED = {**MINI, "train__devices": 3, "train__batch_size": 16}


def test_training_under_torchrun_stopped_after_an_epoch_resumes_byte_identical_with_one_line(mini_cached, tmp_path):
    reference = mini_cached.copy(tmp_path / "reference")
    reference.set_params(**DISTRIBUTED)
    reference.run(*TRAIN)
    project = mini_cached.copy(tmp_path / "project")
    project.set_params(**DISTRIBUTED)
    stopped = interrupt(project, printed("\nepoch 2 ("), signal.SIGINT, 0.0)
    said = stopped[stopped.index("epoch 2 (") :]
    assert said.count("interrupted") == 1 and "Traceback" not in said, said  # one line, once, for all processes
    output = project.run(*TRAIN)
    assert int(re.search(r"resuming after epoch (\d) from models/resume.pt", output).group(1)) >= 1
    assert trained(project) == trained(reference)


def training_processes(project):
    """The processes of this project's train stage still alive (workers included)."""
    alive = []
    for process in psutil.process_iter(["cmdline", "cwd"]):
        with contextlib.suppress(psutil.Error):
            if "stages.train" in " ".join(process.info["cmdline"] or []) and process.info["cwd"] == str(project.path):
                alive.append(process)
    return alive


def gone_within(project, seconds):
    deadline = time.monotonic() + seconds
    while training_processes(project) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not training_processes(project)


@pytest.mark.parametrize(
    "settings, whole_group",
    # on the digits at 32 px an epoch takes 8 s or more: a stage that outlived dvc would have seconds to spare before
    # its next line to dvc's closed pipe (the BrokenPipeError that ends it then is not what the test is after)
    [
        ({"size": 32, "cache__resolution": 32, "train__epochs": 2}, False),
        ({"size": 32, "cache__resolution": 32, "train__epochs": 2, "train__devices": 2, "train__batch_size": 32}, True),
    ],
    ids=["dvc alone killed, one process", "the whole group killed, torchrun's workers"],
)
def test_training_dies_with_the_dvc_that_started_it(digits_cached, tmp_path, settings, whole_group):
    project = digits_cached.copy(tmp_path / "project")
    project.set_params(**settings)
    process = subprocess.Popen(
        TRAIN, cwd=project.path, env={**project.env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    for line in process.stdout:
        if line.startswith("epoch 1 ("):
            break
    assert training_processes(project)
    if whole_group:  # kill -9 -- -<pgid>: torchrun's workers are in sessions of their own
        os.killpg(process.pid, signal.SIGKILL)
    else:  # kill -9 of dvc alone: the shell it ran the stage in, and the stage, stay
        process.kill()
    process.wait()
    assert gone_within(project, 4), [p.info for p in training_processes(project)]
    project.run(*TRAIN)  # goes on, alone: one row per epoch in the log
    steps = [
        line.split("\t")[0]
        for line in (project.path / "metrics/training/plots/metrics/error_rate.tsv").read_text().splitlines()[1:]
    ]
    assert steps == [str(step) for step in range(1, len(steps) + 1)]
