"""`dvc repro` with nothing to do, on a Pets-sized tree (7390 images and the 3 .mat files).

    python -m bench.repro_noop

The tree is tiny JPEGs under the real Pets names, packed into a local tar that the download stage
unpacks; the pipeline runs once in full (small settings), then `dvc repro` is timed with nothing to do.
"""

import io
import statistics
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tests.pets_archive import shared_text
from tests.project import Project, stages_run


def pets_sized_tar(path):
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w") as tar:
        for name in shared_text("images.txt").split():
            buffer = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(buffer, format="JPEG")
            data = buffer.getvalue() if name.endswith(".jpg") else b"MATLAB 5.0 MAT-file"
            info = tarfile.TarInfo(f"images/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def timed(project, *command):
    started = time.perf_counter()
    output = project.run(*command)
    return time.perf_counter() - started, output


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pets_sized_tar(tmp / "pets.tar")
        project = Project(tmp / "project", tmp / "torch_home")
        project.set_params(arch="resnet18", weights="none", size=16, cache__resolution=16, train__epochs=1,
                           train__epochs_unfrozen=0, datasets__pets__sources=[{"archives": [{"url": str(tmp / "pets.tar")}]}])
        first, output = timed(project, "dvc", "repro")
        assert stages_run(output) == ["download", "index", "cache", "train", "evaluate"]
        project.commit("pipeline run")
        noop = []
        for _ in range(5):
            seconds, output = timed(project, "dvc", "repro")
            assert stages_run(output) == [], output
            noop.append(seconds)
        status, _ = timed(project, "dvc", "status")
        files = sum(1 for _ in (project.path / "data/raw/images").iterdir())
    print(f"Pets-sized tree: {files} files in data/raw/images")
    print("| command | seconds |\n| --- | --- |")
    print(f"| first `dvc repro` (everything, small settings) | {first:.1f} |")
    print(f"| `dvc repro`, nothing to do (median of 5; min {min(noop):.2f}, max {max(noop):.2f}) | "
          f"{statistics.median(noop):.2f} |")
    print(f"| `dvc status` | {status:.2f} |")


if __name__ == "__main__":
    main()
