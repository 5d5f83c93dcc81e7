"""End to end, what the README's "Ship the model" says after `make photos`: the export stage's ONNX model, card and
reliability plot; predict on the ONNX model agreeing with model.pt's; and the served page in a real Chromium."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from PIL import Image

from tests.browser import launch, sync_playwright
from tests.project import Project, stages_run

pytestmark = pytest.mark.e2e  # a copy of the project, real dvc commands
SCREENSHOT = Path("metrics/served_page.png")  # in the test's project copy, kept with the other pictures of the run
SHORTER = ("--set", "train.epochs=4", "--set", "train.epochs_unfrozen=1")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("ship")
    project = Project(root / "project", root / "torch_home")
    # make photos, in 4 + 1 of its 8 + 2 epochs: what is shipped, not how well it learns (README's figure: bench.stages)
    project.output = project.run("python", "-m", "pets", "quickstart", "photos", *SHORTER)
    return project


def valid_images(project):
    rows = (project.path / "data/index/index.csv").read_text().splitlines()[1:]
    return sorted(str(Path("data/raw") / row.split(",")[0]) for row in rows if row.endswith(",valid"))


def test_make_photos_exports_onnx_with_a_card_and_calibration(project):
    assert stages_run(project.output) == ["download", "index", "cache", "train", "evaluate", "export"]
    check = project.json("metrics/export.json")
    assert check["of"] == 260 and 256 <= check["images"] <= 260  # a bounded set: a seeded 256 and the closest calls
    assert check["max_abs_difference"] <= 1e-4 and check["top1_agreement"] == 1.0
    metrics = project.json("metrics/metrics.json")
    calibration = metrics["calibration"]
    assert calibration["fitted_on"] == "valid (even positions), 130 images"
    assert calibration["measured_on"] == "valid (odd positions), 130 images"
    assert 0 < calibration["temperature"] < 20 and 0 <= calibration["ece_after"] <= 1
    assert [row["threshold"] for row in calibration["coverage_risk"]] == [round(0.5 + 0.05 * i, 2) for i in range(10)]
    coverage = [row["coverage"] for row in calibration["coverage_risk"]]
    assert coverage == sorted(coverage, reverse=True) and coverage[0] > 0.5  # fewer answered as the bar rises
    with Image.open(project.path / "metrics/reliability.png") as picture:
        assert picture.format == "PNG" and picture.size[0] >= 600
    card = (project.path / "models/MODEL_CARD.md").read_text()
    assert card.startswith("# Model card: tf_efficientnet_lite0 on photos")
    assert f"temperature {calibration['temperature']:.3f}" in card.lower() and "Weakest classes" in card
    assert "| valid | 260 |" in card and "## Limits" in card and "chelsea" in card
    plots = json.loads(project.run("dvc", "plots", "show", "--json", stdout_only=True))["data"]
    assert "metrics/reliability.png" in plots and "metrics/coverage_risk.tsv" in plots
    assert project.up_to_date("export")  # the model, card and check are the lock's: nothing left to run
    assert "export" not in stages_run(project.run("dvc", "repro", "export"))


def test_predict_on_the_onnx_model_agrees_with_model_pt_on_every_validation_image(project):
    images = valid_images(project)
    assert len(images) == 260
    answers = {}
    for model in ("models/model.pt", "models/model.onnx"):
        output = project.run("python", "-m", "pets", "predict", "--model", model, "--json", *images, stdout_only=True)
        answers[model] = {a["path"]: a["predictions"] for a in json.loads(output)}
    torch_answers, onnx_answers = answers["models/model.pt"], answers["models/model.onnx"]
    assert sorted(torch_answers) == sorted(onnx_answers) == images
    for path in images:
        want, got = torch_answers[path], onnx_answers[path]
        assert [p["class"] for p in got] == [p["class"] for p in want], path
        assert max(abs(a["probability"] - b["probability"]) for a, b in zip(got, want)) <= 1e-4, path


def test_predict_abstains_below_min_confidence(project):
    images = valid_images(project)
    lines = project.run("python", "-m", "pets", "predict", "--model", "models/model.onnx", "--min-confidence", "0.95",
                        *images, stdout_only=True).splitlines()  # fmt: skip
    unsure = [line for line in lines if line.split("\t")[1] == "unsure"]
    coverage = {row["threshold"]: row["coverage"] for row in project.json("metrics/metrics.json")["calibration"]
                ["coverage_risk"]}  # fmt: skip
    assert 0 < len(unsure) < len(lines) and all(len(line.split("\t")) == 3 for line in unsure)
    # the answered share on the odd half that evaluate measured is close to the one here, on all 260
    assert abs((len(lines) - len(unsure)) / len(lines) - coverage[0.95]) < 0.15


def test_the_served_page_in_chromium_names_a_photo_and_asks_nothing_of_other_hosts(project, tmp_path):
    browsers = sync_playwright()
    photo = next(path for path in valid_images(project) if "/chelsea_" in path)
    upload = tmp_path / "my cat.jpg"  # a file a person picks, outside the project
    shutil.copy(project.path / photo, upload)
    command = [sys.executable, "-m", "pets", "serve", "--model", "models/model.onnx", "--port", "0"]
    server = subprocess.Popen(command, cwd=project.path, env=project.env, stdout=subprocess.PIPE, text=True)
    try:
        banner = server.stdout.readline()
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", banner).group(1))
        requests = []
        with browsers as playwright:
            browser = launch(playwright)
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("document.getElementById('about').textContent.includes('classes')")
            page.set_input_files("#files", [str(upload), str(project.path / "dvc.yaml")])
            page.wait_for_selector(".verdict.prediction, .verdict.unsure")
            page.wait_for_selector(".verdict.error")
            verdicts = page.locator(".verdict").all_inner_texts()
            best = page.locator(".verdict").first.get_attribute("data-class")
            timing = page.locator(".time").first.inner_text()
            page.screenshot(path=str(project.path / SCREENSHOT), full_page=True)
            browser.close()
    finally:
        server.kill()
        server.wait()
    assert best == "chelsea" and "chelsea" in verdicts[0]
    assert re.fullmatch(r"model [\d.]+ ms, round trip \d+ ms", timing)
    assert verdicts[1].startswith("expected an image's bytes")  # the YAML file, told on the page
    hosts = {urlparse(url.removeprefix("blob:")).hostname for url in requests}
    assert hosts == {"127.0.0.1"}, requests  # the page, its model description, the uploads and their previews
    with Image.open(project.path / SCREENSHOT) as shot:
        assert shot.format == "PNG" and shot.size[0] >= 700


def test_predict_into_a_pipe_closed_early_stops_without_a_traceback(project):
    command = f"set -o pipefail; {sys.executable} -m pets predict --model models/model.onnx data/raw | true"
    result = subprocess.run(["bash", "-c", command], cwd=project.path, env=project.env, capture_output=True, text=True)
    assert result.returncode == 1 and result.stderr == ""  # the reader left: status 1, and nothing else said
