"""`dvc repro` with nothing to do, on a Pets-sized tree (7400 images of 37 classes and 3 .mat files), from a local
archive and from a folder of pictures.

    python -m bench.repro_noop

The tree is tiny JPEGs named like Pets, packed into a local tar that the download stage unpacks, or the same files
in a folder (a `folder:` recipe, whose every file's name, size and mtime the sources stage records each run); a
clone of the project's last commit runs the pipeline once in full (small settings), then `dvc repro` is timed with
nothing to do.
"""

import argparse
import io
import statistics
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PETS_NAMES = [f"breed{c}_{n}.jpg" for c in range(37) for n in range(1, 201)] + [
    f"Abyssinian_{n}.mat" for n in (100, 101, 102)
]


def pets_sized_tar(path):
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w") as tar:
        for name in PETS_NAMES:
            buffer = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(buffer, format="JPEG")
            data = buffer.getvalue() if name.endswith(".jpg") else b"MATLAB 5.0 MAT-file"
            info = tarfile.TarInfo(f"images/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def project_clone(path, rev=None, **params):
    """A clone of the project's last commit (or `rev`) at `path`, with params changed (dotted keys written with
    '__')."""
    subprocess.run(["git", "clone", "-q", str(ROOT), str(path)], check=True)
    if rev:
        subprocess.run(["git", "checkout", "-q", rev], cwd=path, check=True)
    settings = yaml.safe_load((path / "params.yaml").read_text())
    for key, value in params.items():
        *parents, last = key.split("__")
        section = settings
        for part in parents:
            section = section[part]
        section[last] = value
    (path / "params.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    subprocess.run(["git", "commit", "-qam", "bench settings"], cwd=path, check=True)
    return path


def timed(path, *command):
    """(seconds, names of the stages the command ran) of a command in the project at `path`."""
    started = time.perf_counter()
    output = subprocess.run(command, cwd=path, check=True, capture_output=True, text=True).stdout
    seconds = time.perf_counter() - started
    return seconds, [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")]


def measure(tmp, kind, recipe):
    """(first repro, no-op repros, dvc status, the stages a picture added re-runs) of a project on `recipe`."""
    project = project_clone(
        tmp / f"project-{kind}",
        arch="resnet18",
        weights="none",
        size=16,
        cache__resolution=16,
        train__epochs=1,
        train__epochs_unfrozen=0,
        datasets__pets=recipe,
    )
    first, stages = timed(project, "dvc", "repro")
    assert stages == ["sources", "download", "index", "cache", "train", "evaluate"], stages
    noop = []
    for _ in range(5):
        seconds, stages = timed(project, "dvc", "repro")
        assert stages == ["sources"], stages  # it runs every time (dvc.yaml: always_changed)
        noop.append(seconds)
    status, _ = timed(project, "dvc", "status")
    files = sum(1 for _ in (project / "data/raw/images").iterdir())
    return first, noop, status, files


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pets_sized_tar(tmp / "pets.tar")
        with tarfile.open(tmp / "pets.tar") as tar:
            tar.extractall(tmp / "pictures", filter="data")
        results = {
            "a local archive (`sources`)": measure(
                tmp, "archive", {"sources": [{"archives": [{"url": str(tmp / "pets.tar")}]}]}
            ),
            "a folder of pictures (`folder`)": measure(tmp, "folder", {"folder": str(tmp / "pictures")}),
        }
    print(f"Pets-sized tree: {next(iter(results.values()))[3]} files in data/raw/images")
    print("| recipe | first `dvc repro` (small settings) | `dvc repro`, nothing to do (median of 5) | `dvc status` |")
    print("| --- | --- | --- | --- |")
    for name, (first, noop, status, _) in results.items():
        print(
            f"| {name} | {first:.1f} | {statistics.median(noop):.2f} (min {min(noop):.2f}, max {max(noop):.2f}) "
            f"| {status:.2f} |"
        )


if __name__ == "__main__":
    main()
