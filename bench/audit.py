"""How well the label audit finds wrong labels, on planted errors in both splits.

    python -m bench.audit            # 5 % and 10 % of the files moved, 3 seeds each, the default pictures recipe
    python -m bench.audit --smoke    # one tiny run: checks the script

For each share and seed: a folder of CROPS crops of each built-in photograph (pets.data.photos: 13 classes), a share
of its files moved into another class's folder (the file keeps its name, so the truth is known), then `make pictures
DIR=...`'s recipe (quickstarts.yaml) in a clone of the last commit, up to the train stage, and the audit's ranking
(pets.report.audit: from the run's scores file, no model loaded). Per split, with N the planted errors in that split:
recall@N, which is also precision@N, of the ranking the audit uses (training pictures by the out-of-fold probe,
pets.inference.probe) and of the model's own scores.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.recipes import quick_start_flags
from bench.repro_noop import project_clone
from pets.config import layout
from pets.data.cache import read_manifest
from pets.data.photos import QUADRANTS, photographs, random_crop
from pets.inference.scores import read_scores
from pets.report.audit import audit_rows, ranked
from pets.report.predictions import prediction_rows

CROPS = 30  # per photograph: 390 pictures, 312 to train on
SHARES = (0.05, 0.10)
SEEDS = (1, 2, 3)


def planted_folder(folder: Path, share: float, seed: int, crops: int) -> set[str]:
    """A picture folder of crops, one subfolder per photograph, with `share` of the files in a wrong subfolder;
    returns the misplaced files as the index names them (folder/file)."""
    rng = np.random.default_rng(seed)
    photos = photographs()
    names = sorted(photos)
    files = [(name, i) for name in names for i in range(crops)]
    wrong = {files[k] for k in rng.choice(len(files), round(share * len(files)), replace=False)}
    quadrants = [q for split in QUADRANTS.values() for q in split]
    misplaced = set()
    for name, i in files:
        crop = random_crop(photos[name], quadrants[rng.integers(len(quadrants))], rng)
        into = name
        if (name, i) in wrong:
            into = rng.choice([other for other in names if other != name])
            misplaced.add(f"{into}/{name}_{i}.jpg")
        (folder / into).mkdir(parents=True, exist_ok=True)
        crop.convert("RGB").save(folder / into / f"{name}_{i}.jpg", quality=90)
    return misplaced


def model_rows(project: Path) -> list[dict]:
    """The ranking by the model's own scores, every split (what the audit ranked by before the probe)."""
    manifest = read_manifest(project / layout.CACHE)
    scores, _ = read_scores(project / layout.SCORES, manifest)
    rows = []
    for name, split in manifest["splits"].items():
        rows += prediction_rows(name, split["files"], np.exp(scores[name]), split["labels"], manifest["classes"])
    return ranked(rows)


def recall_at_n(rows: list[dict], misplaced: set[str], split: str) -> tuple[float, int]:
    """(recall@N, N) in `split`, N its planted count: the share of its first N rows that are planted."""
    ours = [row["file"] for row in rows if row["split"] == split]
    planted = misplaced & set(ours)
    if not planted:
        return float("nan"), 0
    return len(planted & set(ours[: len(planted)])) / len(planted), len(planted)


def one_run(share: float, seed: int, crops: int, smoke: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        misplaced = planted_folder(tmp / "pictures", share, seed, crops)
        project = project_clone(tmp / "project")
        changes = {"datasets.pictures.folder": str(tmp / "pictures"), "index.seed": seed, "train.seed": seed}
        if smoke:
            changes |= {"train.epochs": 1, "train.epochs_unfrozen": 0, "size": 64, "cache.resolution": 80}
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        flags = quick_start_flags("pictures", changes)
        subprocess.run(["dvc", "exp", "run", "train", *flags], cwd=project, env=env, check=True, capture_output=True)
        found = {}
        for ranking, rows in (("audit", audit_rows(project / layout.CACHE, project / layout.SCORES)),
                              ("model", model_rows(project))):  # fmt: skip
            for split in ("train", "valid"):
                found[ranking, split] = recall_at_n(rows, misplaced, split)
        return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one tiny run")
    args = parser.parse_args()
    shares, seeds, crops = ((0.10,), (1,), 8) if args.smoke else (SHARES, SEEDS, CROPS)
    print(f"{crops} crops of each of 13 photographs, the pictures recipe{' (smoke: 1 epoch, 64 px)' * args.smoke}")
    print("| moved | seed | planted train / valid | audit: train recall@N | valid | model alone: train | valid |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for share in shares:
        runs = []
        for seed in seeds:
            found = one_run(share, seed, crops, args.smoke)
            runs.append(found)
            cells = [f"{found[key][0]:.2f}" for key in (("audit", "train"), ("audit", "valid"),
                                                        ("model", "train"), ("model", "valid"))]  # fmt: skip
            print(f"| {share:.0%} | {seed} | {found['audit', 'train'][1]} / {found['audit', 'valid'][1]} | "
                  + " | ".join(cells) + " |", flush=True)  # fmt: skip
        means = []
        for key in (("audit", "train"), ("audit", "valid"), ("model", "train"), ("model", "valid")):
            values = [run[key][0] for run in runs]
            spread = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
            means.append(f"**{statistics.mean(values):.2f}**{spread}")
        print(f"| {share:.0%} | mean ± sd | | " + " | ".join(means) + " |", flush=True)


if __name__ == "__main__":
    main()
