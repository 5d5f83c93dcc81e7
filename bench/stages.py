"""Where a quick start's time goes, stage by stage, as a user sees it: each stage's wall time split into start-up
(interpreter and imports), work, and writing pictures, metrics and models (pets.runtime.clock's
metrics/timings.json), and what DVC adds around them.

    python -m bench.stages                    # make photos, then make digits, each in a fresh clone of the last commit
    python -m bench.stages --only pets        # a Pets-sized synthetic archive: resnet34, weights none, 224 px, 1 epoch
    python -m bench.stages --smoke            # photos at 1 epoch and 64 px: checks the script

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


def quick_start_run(folder: Path, name: str, changes: dict | None = None, **params) -> dict:
    """`dvc exp run` of quick start `name` (with `changes` as -S values, `params` written into the clone's
    params.yaml as project_clone does) in a fresh clone: total wall seconds, each stage's timings, the error rate."""
    project = project_clone(folder / name, **params)
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
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
