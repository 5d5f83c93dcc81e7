"""Where a quick start's time goes, stage by stage, as a user sees it: each stage's wall time split into start-up
(interpreter and imports), work, and writing pictures, metrics and models (pets.runtime.clock's
metrics/timings.json), and what DVC adds around them.

    python -m bench.stages                    # make photos, then make digits, each in a fresh clone of the last commit
    python -m bench.stages --only pets        # a Pets-sized synthetic archive: resnet34, weights none, 224 px, 1 epoch
    python -m bench.stages --smoke            # photos at 1 epoch and 64 px: checks the script
    python -m bench.stages --against c2ab81b  # each quick start at that commit and at this one, in turn: ratios

Each run is `dvc exp run` with the quick start's values (quickstarts.yaml), as `make photos` runs it, in a clone with
nothing computed; the venv is this interpreter's. Run it alone: another process on the cores skews every figure.
"""

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from bench.photos import make_photos
from bench.recipes import quick_start_flags
from bench.repro_noop import project_clone
from pets.config import layout

STAGES = ("sources", "download", "index", "cache", "train", "evaluate", "export")
PARTS = ("start_up", "work", "writing", "wall")
PETS_IMAGES = 7390  # Oxford-IIIT Pets' images; 20 % of them (1,478) validate


def pets_sized_archive(folder: Path, images: int) -> Path:
    """A local tar of `images` Pets-sized JPEGs (about 500x375, 37 classes, named like Pets)."""
    make_photos(folder / "images", count=images)
    archive = folder / "pets-synthetic.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(folder / "images", arcname="images")
    return archive


def quick_start_run(folder: Path, name: str, changes: dict | None = None, rev: str | None = None, **params) -> dict:
    """`dvc exp run` of quick start `name` (with `changes` as -S values, `params` written into the clone's
    params.yaml as project_clone does) in a fresh clone of the last commit or `rev`: total wall seconds, each stage's
    timings, the error rate."""
    project = project_clone(folder / f"{name}-{rev or 'head'}", rev, **params)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    started = time.perf_counter()
    subprocess.run(
        ["dvc", "exp", "run", *quick_start_flags(name, changes)], cwd=project, env=env, check=True, capture_output=True
    )
    total = time.perf_counter() - started
    metrics = json.loads((project / layout.METRICS_JSON).read_text())
    check = json.loads((project / layout.EXPORT_CHECK).read_text())
    return {
        "total": total,
        "stages": json.loads((project / layout.TIMINGS).read_text()),
        "error_rate": metrics["valid"]["error_rate"],
        "checked": f"{check['images']} of {check['of']} (largest difference {check['max_abs_difference']:.1e})",
    }


def stage_rows(label: str, run: dict) -> list[str]:
    """Markdown rows: one per stage (start-up, work, writing, wall), DVC's share, the total."""
    stages = run["stages"]
    rows = [
        f"| {label} | {stage} | " + " | ".join(f"{stages[stage][part]:.1f}" for part in PARTS) + " |"
        for stage in STAGES
        if stage in stages
    ]
    in_stages = sum(stages[stage]["wall"] for stage in STAGES if stage in stages)
    rows.append(f"| {label} | DVC and the rest (the total less the stages) | | | | {run['total'] - in_stages:.1f} |")
    rows.append(f"| {label} | **total** (error_rate {run['error_rate']:.4f}) | | | | **{run['total']:.1f}** |")
    return rows


def ratio_line(label: str, run: dict) -> str:
    stages = run["stages"]
    after = stages["evaluate"]["wall"] + stages["export"]["wall"]
    return (
        f"{label}: (evaluate + export) / train = {after:.1f} / {stages['train']['wall']:.1f} = "
        f"{after / stages['train']['wall']:.2f}; the export checked {run['checked']} validation images"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=("photos", "digits", "pets"), default=("photos", "digits"))
    parser.add_argument("--pets-images", type=int, default=PETS_IMAGES, help="images of the synthetic Pets archive")
    parser.add_argument("--smoke", action="store_true", help="photos at 1 epoch and 64 px: check the script runs")
    parser.add_argument("--against", metavar="REV", help="run each quick start at REV too, in turn with this commit")
    args = parser.parse_args()
    if args.against:
        return against(args.against, args.only)
    print("| quick start | stage | start-up s | work s | writing s | wall s |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in ("photos",) if args.smoke else args.only:
            if name == "pets":
                archive = pets_sized_archive(tmp / "archive", args.pets_images)
                recipe = {"sources": [{"archives": [{"url": str(archive)}]}]}
                changes = {"arch": "resnet34", "weights": "none", "size": 224, "train.epochs": 1}
                run = quick_start_run(tmp, "pets", changes | {"train.epochs_unfrozen": 0}, datasets__pets=recipe)
            else:
                smaller = {"train.epochs": 1, "train.epochs_unfrozen": 0, "size": 64, "cache.resolution": 80}
                run = quick_start_run(tmp, name, smaller if args.smoke else None)
            print("\n".join(stage_rows(name, run)), flush=True)
            ratios.append(ratio_line(name, run))
    print("\n".join(ratios))


def against(rev: str, names) -> None:
    """Each quick start at `rev`, then at the last commit, twice in turn (this machine's speed drifts by a third
    within minutes): each one's stage walls and the ratio of the totals."""
    print("| quick start | commit | " + " | ".join(STAGES) + " | DVC and the rest | total | error_rate |")
    print("| --- | --- |" + " ---: |" * (len(STAGES) + 3))
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            totals = {rev: [], "head": []}
            for round_ in range(2):
                for which in (rev, "head"):
                    run = quick_start_run(Path(tmp) / str(round_), name, rev=None if which == "head" else which)
                    walls = [run["stages"][stage]["wall"] for stage in STAGES]
                    print(f"| {name} | {which} | " + " | ".join(f"{wall:.1f}" for wall in walls)
                          + f" | {run['total'] - sum(walls):.1f} | {run['total']:.1f} | {run['error_rate']:.4f} |",
                          flush=True)  # fmt: skip
                    totals[which].append(run["total"])
            print(f"{name}: this commit / {rev} = {sum(totals['head']) / sum(totals[rev]):.2f} (totals of two rounds)")


if __name__ == "__main__":
    main()
