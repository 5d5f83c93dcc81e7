import os

if os.environ.get("PYTEST_XDIST_WORKER"):  # two workers on two cores: one thread each (OpenMP spins while it waits)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
# oneDNN's AMX kernels (bf16: the accelerator's path tested on the CPU) gave a NaN loss now and then on this VM when
# the process was preempted (test_runtime: 9 of 60 trainings with two busy loops beside them, 0 of 50 without AMX):
# the ISA below it computes the same path, stable
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from pets.data.cache import build_cache  # noqa: E402
from tests.helpers import SHORT, mini_digits  # noqa: E402
from tests.pets_archive import digits_archive  # noqa: E402
from tests.project import template  # noqa: E402

os.environ["PETS_PROGRESS_SECONDS"] = "off"  # no progress lines in the tests' output, theirs or their subprocesses'


# the files that take longest (--durations; docs/contributing.md), started first so that no worker ends on one of
# them alone while the other has nothing left (make test keeps this order: --no-loadscope-reorder)
LONGEST = (
    "test_interruptions",  # the end-to-end files
    "test_team",
    "test_quickstart_order",
    "test_pipeline",
    "test_machines",
    "test_pictures_quickstart",
    "test_distributed",
    "test_ship",
    "test_families",  # the unit files
    "test_export",
    "test_train",
    "test_resume",
    "test_serve",
    "test_fetch",
    "test_models",
)


def pytest_collection_modifyitems(items):
    """The end-to-end tests first, the longest files first among them and among the unit tests after: under xdist the
    minutes-long files start at once and the seconds-long ones fill the workers' ends."""

    def order(item):
        module = item.path.stem
        return item.get_closest_marker("e2e") is None, LONGEST.index(module) if module in LONGEST else len(LONGEST)

    items.sort(key=order)


def colours(root, n, is_valid):
    """A tiny two-class cache at `root` (reddish vs bluish noise, 16 px): learnable in a few steps on the CPU."""
    rng = np.random.default_rng(0)
    rows = []
    (root / "images").mkdir(exist_ok=True)
    for i in range(n):
        label = "red" if i % 2 else "blue"
        pixels = rng.integers(0, 120, (20, 20, 3), dtype=np.uint8)
        pixels[..., 0 if label == "red" else 2] += 120
        name = f"images/{label}_{i}.png"
        Image.fromarray(pixels).save(root / name)
        rows.append({"path": name, "label": label, "split": "valid" if is_valid(i) else "train"})
    build_cache(rows, ["blue", "red"], root, root, resolution=16, resize="squish", max_bad_frac=0, workers=1)
    return root


@pytest.fixture(scope="session")
def colour_cache(tmp_path_factory):
    """48 images: 36 to train, 12 to validate (all of them red)."""
    return colours(tmp_path_factory.mktemp("colours"), 48, lambda i: i % 4 == 3)


@pytest.fixture(scope="session")
def balanced_colour_cache(tmp_path_factory):
    """48 images: 32 to train, 16 to validate, half of each colour."""
    return colours(tmp_path_factory.mktemp("balanced"), 48, lambda i: i % 6 >= 4)


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    """A folder all of this session's xdist workers share: templates are built there once."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def digits_cached(shared):
    """The project on the digits at 16 px (tests.helpers.SHORT: resnet18 from scratch, one epoch), downloaded, indexed
    and cached, committed: where a test that trains starts."""

    def build(project):
        project.set_params(**SHORT)
        project.run("dvc", "repro", "cache")
        project.commit("short digits, cached")

    return template(shared, "digits-16", build)


@pytest.fixture(scope="session")
def mini_cached(shared):
    """The project on 300 digits (tests.helpers.mini_digits: a local archive, 240 to train and 60 to validate), at
    16 px, downloaded, indexed and cached, committed: where a test about training or DVC, not accuracy, starts."""

    def build(project):
        archive = project.path.parent / "mini-digits.tar"
        archive.write_bytes(digits_archive(30))
        project.set_params(**mini_digits(archive))
        project.run("dvc", "repro", "cache")
        project.commit("mini digits, cached")

    return template(shared, "mini-digits", build)
