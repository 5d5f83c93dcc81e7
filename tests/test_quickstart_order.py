"""End to end: the quick starts in every order, and back to params tried before from DVC's run cache.

Small slices of the three quick starts (quickstarts.yaml with fewer images, pixels and epochs; Pets from a local
archive shaped like the real one) run in a sequence that holds every ordered pair: each must give its own result
whatever ran before it, and a quick start run before comes back from the run cache, byte for byte, without training.
"""

import json
import subprocess

import pytest
import yaml

from pets.config.params import Loader
from pets.workspace.quickstarts import quickstart_params
from tests.pets_archive import pets_shaped_archives
from tests.project import ROOT, Project, stages_run

pytestmark = pytest.mark.e2e  # a copy of the project, real dvc commands

SLICES = {  # on top of each quick start's own values; what is tested is params, so the smallest model learns
    "photos": {"datasets.photos.train_per_class": 2, "datasets.photos.valid_per_class": 2, "arch": "resnet18",
               "weights": "none", "size": 32, "cache.resolution": 32, "train.epochs": 1, "train.epochs_unfrozen": 1},
    "digits": {"size": 16, "cache.resolution": 16, "train.epochs": 1},
    "pets": {"arch": "resnet18", "weights": "none", "size": 16, "cache.resolution": 16, "train.epochs": 1,
             "train.epochs_unfrozen": 0},
}  # fmt: skip
# every ordered pair of (photos, digits, pets) once: photos->digits, digits->photos, photos->pets, pets->digits,
# digits->pets, pets->photos
ORDER = ["photos", "digits", "photos", "pets", "digits", "pets", "photos"]
RESULTS = ("models/model.pt", "metrics/metrics.json", "metrics/confusion.json", "metrics/training/metrics.json")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("quickstarts")
    project = Project(root / "project", root / "torch_home")
    images, annotations, _ = pets_shaped_archives()
    (root / "images.tar.gz").write_bytes(images)
    (root / "annotations.tar.gz").write_bytes(annotations)
    project.set_params(
        datasets__pets={
            "sources": [{"archives": [{"url": str(root / "images.tar.gz")}, {"url": str(root / "annotations.tar.gz")}]}]
        },
        index__min_per_class=3,  # three images a breed in the archive, four a photograph in the photos' slice
    )
    quickstarts = yaml.safe_load((project.path / "quickstarts.yaml").read_text())
    sliced = {name: {**(quickstarts[name] or {}), **SLICES.get(name, {})} for name in quickstarts}
    (project.path / "quickstarts.yaml").write_text(yaml.safe_dump(sliced, sort_keys=False))
    project.commit("the quick starts, sliced")
    project.committed = yaml.load((project.path / "params.yaml").read_text(), Loader=Loader)
    project.sliced = sliced
    return project


def results(project):
    return {name: (project.path / name).read_bytes() for name in RESULTS}


def test_each_quick_start_gives_its_own_result_whatever_ran_before(project):
    first = {}
    for before, name in zip([None, *ORDER], ORDER):
        output = project.run("python", "-m", "pets", "quickstart", name)
        params = yaml.load((project.path / "params.yaml").read_text(), Loader=Loader)
        want = quickstart_params(committed=project.committed, workspace=project.committed, values=project.sliced[name])
        assert params == want, f"{name} after {before}"
        if name in first:  # params tried before: restored, not trained again, and the same files
            assert "Stage 'train' is cached - skipping run" in output, f"{name} after {before}"
            assert "Stage 'evaluate' is cached - skipping run" in output
            assert stages_run(output) == ["index"], output[-2000:]  # index is fast and not run-cached
            assert results(project) == first[name], f"{name} after {before}"
        else:
            assert "train" in stages_run(output)
            first[name] = results(project)
    assert len({files["metrics/metrics.json"] for files in first.values()}) == 3  # three different results
    assert not (project.path / "params.mine.yaml").exists()  # nothing of a user's was in the way


def test_back_to_params_tried_before_comes_from_the_run_cache_byte_for_byte(project):
    project.run("python", "-m", "pets", "quickstart", "digits")
    a = results(project)
    output = project.run("dvc", "exp", "run", "evaluate", "-S", "train.seed=7")  # another model: no need to ship it
    assert "train" in stages_run(output) and results(project) != a
    output = project.run("python", "-m", "pets", "quickstart", "digits")
    assert "Stage 'train' is cached - skipping run" in output and "Stage 'evaluate' is cached" in output
    assert results(project) == a


def experiment_names(project):
    shown = json.loads(project.run("dvc", "exp", "show", "--json", stdout_only=True))
    return [exp["name"] for commit in shown for exp in commit.get("experiments") or []]


def test_the_readmes_compare_commands_work_on_experiments_of_a_fresh_clone(project):
    names = experiment_names(project)
    assert len(names) >= 3
    diff = json.loads(project.run("dvc", "exp", "diff", names[0], names[1], "--json", stdout_only=True))
    assert "valid.error_rate" in diff["metrics"]["metrics/metrics.json"]
    plots = json.loads(project.run("dvc", "plots", "diff", names[0], names[1], "--json", stdout_only=True))["data"]
    assert {rev for item in plots["losses"] for rev in item["revisions"]} == {names[0], names[1]}
    recipe = (ROOT / "Makefile").read_text().split("\nruns:", 1)[1].splitlines()[1].strip().replace("$$", "$")
    table = subprocess.run(recipe, shell=True, cwd=project.path, env=project.env, capture_output=True, text=True)
    lines = table.stdout.splitlines()
    assert table.returncode == 0 and len(lines) >= 5 and max(len(line.rstrip()) for line in lines) <= 101, table
    assert lines[1].split() == ["Experiment", "valid.error_rate", "data", "arch", "size", "train.epochs"]
