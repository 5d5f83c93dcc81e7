"""Two digits experiments through `dvc queue`: one after the other (-j 1) against side by side (-j 2), each run with
`threads: auto` (its share of the cores), and side by side with every core for each run (what -j 2 did before).

    python -m bench.queue [--epochs N]

A clone of the project's last commit runs `make digits`' recipe once, so that download, index and cache come from
DVC's run cache; each way then queues that recipe with two new training seeds and times `dvc queue start -j N`
until both experiments have finished. Run it alone: it measures how runs contend for the cores.
"""

import argparse
import re
import subprocess
import tempfile
import time
from pathlib import Path

from bench.recipes import QUICKSTARTS, quick_start_flags
from bench.repro_noop import project_clone
from pets.runtime.sharing import cores


def dvc(path, *args):
    return subprocess.run(["dvc", *args], cwd=path, check=True, capture_output=True, text=True).stdout


def queue_tasks(path):
    """{task: status} of `dvc queue status`."""
    rows = re.findall(r"^([0-9a-f]{7,})\s.*\s(\w+)$", dvc(path, "queue", "status"), re.MULTILINE)
    return dict(rows)


def workers_running(path):
    active, idle = re.search(r"Worker status: (\d+) active, (\d+) idle", dvc(path, "queue", "status")).groups()
    return int(active) + int(idle)


def queued_pair(path, jobs, threads, seeds, flags):
    """(wall seconds, CPU threads each run used) of two experiments queued, then run by `dvc queue start -j jobs`."""
    while workers_running(path):  # the workers of the previous way must be gone
        time.sleep(1)
    for seed in seeds:
        dvc(path, "exp", "run", "--queue", *flags, "-S", f"threads={threads}", "-S", f"train.seed={seed}")
    tasks = set(queue_tasks(path))
    started = time.perf_counter()
    dvc(path, "queue", "start", "-j", str(jobs))
    while any(status in ("Queued", "Running") for task, status in queue_tasks(path).items() if task in tasks):
        time.sleep(0.5)
    seconds = time.perf_counter() - started
    statuses = {task: status for task, status in queue_tasks(path).items() if task in tasks}
    assert set(statuses.values()) == {"Success"}, statuses
    used = {
        int(n) for task in tasks for n in re.findall(r"\((\d+) CPU threads each\)", dvc(path, "queue", "logs", task))
    }
    dvc(path, "queue", "remove", "--success")
    return seconds, used


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, help="train.epochs instead of the quick start's")
    args = parser.parse_args()
    epochs = args.epochs or QUICKSTARTS["digits"]["train.epochs"]
    flags = quick_start_flags("digits", {"train.epochs": epochs})
    ways = [
        ("-j 1, threads auto (one after the other)", 1, "auto"),
        ("-j 2, threads auto (a share of the cores each)", 2, "auto"),
        (f"-j 2, threads {cores()} (every core each, as before)", 2, cores()),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = project_clone(Path(tmp) / "project")
        dvc(path, "exp", "run", *flags)  # download, index and cache into the run cache
        results = [
            (name, *queued_pair(path, jobs, threads, (2 * i + 1, 2 * i + 2), flags))
            for i, (name, jobs, threads) in enumerate(ways)
        ]
    baseline = results[0][1]
    print(f"Two digits experiments (make digits' recipe, {epochs} epochs) through dvc queue, {cores()} cores:\n")
    print("| way | CPU threads per run | wall seconds for both | / one after the other |")
    print("| --- | --- | --- | --- |")
    for name, seconds, used in results:
        print(f"| {name} | {', '.join(map(str, sorted(used)))} | {seconds:.1f} | {seconds / baseline:.2f} |")


if __name__ == "__main__":
    main()
