"""The review page's server (python -m pets review) on a small run: the audit's ranking from the scores file (the
training pictures by their out-of-fold probe), decisions written to labels_fix.csv at once with the other rows kept,
undo, and bad requests refused in one line with nothing written. The page itself, in Chromium, is
tests/test_pictures_quickstart.py's."""

import codecs
import io
import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from pets.config import layout
from pets.data.cache import build_cache
from pets.data.fixes import edit_fix, read_fixes
from pets.errors import PetsError
from pets.inference.scores import write_scores
from pets.report.audit import audit_rows
from pets.serve.review import PER_PAGE, fixes_file, make_server

CLASSES = ["blue", "red"]
PLANTED = "red/red_3.png"  # a blue picture in the red folder: the model learned "red", a probe on colour says blue


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A project's run as the review page reads it: data/raw, data/cache and models/scores.npz, 40 pictures."""
    root = tmp_path_factory.mktemp("run")
    rng, rows = np.random.default_rng(0), []
    for i in range(40):
        label = CLASSES[i % 2]
        pixels = rng.integers(0, 100, (20, 20, 3), dtype=np.uint8)
        pixels[..., 2 if label == "blue" or f"{label}/{label}_{i}.png" == PLANTED else 0] += 150
        path = root / layout.RAW / label / f"{label}_{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path)
        rows.append({"path": f"{label}/{label}_{i}.png", "label": label, "split": "valid" if i % 5 == 4 else "train"})
    (root / layout.CACHE).mkdir(parents=True)
    manifest = build_cache(rows, CLASSES, root / layout.RAW, root / layout.CACHE, resolution=16, resize="squish",
                           max_bad_frac=0, workers=1)  # fmt: skip
    scores = {}
    for name, split in manifest["splits"].items():
        labels = np.asarray(split["labels"])
        sure = np.full((len(labels), 2), np.log(0.05), np.float32)
        sure[np.arange(len(labels)), labels] = np.log(0.95)  # the model agrees with every label, the planted one too
        scores[name] = sure
    pixels = np.load(root / layout.CACHE / "train.npy", mmap_mode="r")
    features = pixels.reshape(len(pixels), -1, 3).mean(1)  # the body's features, as the probe sees them: the colour
    write_scores(root / layout.SCORES, scores, CLASSES, 1.0, features, seed=0)
    return root


@pytest.fixture
def server(run):
    fixes = run / "labels_fix.csv"
    fixes.unlink(missing_ok=True)
    server = make_server(run, fixes, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, fixes
    server.shutdown()
    server.server_close()


def call(server, path, body=None, content_type="application/json"):
    """(status, answer) of a GET, or of a POST of `body` (a dict as JSON, or bytes as they are)."""
    url = f"http://127.0.0.1:{server.server_port}{path}"
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw, status, kind = response.read(), response.status, response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        raw, status, kind = error.read(), error.code, error.headers["Content-Type"]
    return status, json.loads(raw) if kind == "application/json" else raw


def test_the_ranking_puts_a_training_picture_the_model_learned_wrong_first_by_its_out_of_fold_probe(run):
    rows = audit_rows(run / layout.CACHE, run / layout.SCORES)
    first = rows[0]
    assert (first["file"], first["split"], first["predicted"]) == (PLANTED, "train", "blue")
    assert first["scored_by"] == "probe"
    assert first["p_label"] < 0.5 and first["p_predicted"] > 0.5  # the probe that never saw it: blue
    assert {row["scored_by"] for row in rows if row["split"] == "valid"} == {"model"}
    assert len(rows) == 40


def test_decisions_are_written_at_once_and_undo_removes_the_row(server):
    server, fixes = server
    status, page = call(server, "/cards?page=1")
    assert status == 200 and page["total"] == 40 and page["pages"] == 40 // PER_PAGE + 1
    first = page["rows"][0]
    assert first["file"] == PLANTED and first["choices"][0] == "blue" and first["fix"] is None
    assert page["apply"] == "dvc exp run -S index.fixes=labels_fix.csv"
    others = [row["file"] for row in page["rows"][1:3]]
    assert call(server, "/decide", {"file": PLANTED, "decision": "blue"})[1]["fix"] == "blue"
    assert fixes.read_text() == f"file,label\n{PLANTED},blue\n"
    assert call(server, "/decide", {"file": others[0], "decision": "-"})[1]["fix"] == "-"
    assert call(server, "/decide", {"file": others[1], "decision": "-"})[1]["fix"] == "-"
    undone = call(server, "/undo", {"file": others[1]})[1]
    assert undone["fix"] is None
    assert fixes.read_text() == f"file,label\n{PLANTED},blue\n{others[0]},-\n"
    kept = call(server, "/decide", {"file": PLANTED, "decision": "keep"})[1]
    assert kept["fix"] is None and kept["kept"] and fixes.read_text() == f"file,label\n{others[0]},-\n"
    assert call(server, "/cards?page=1")[1]["rows"][0]["kept"]  # the page shows it, reloaded
    files = set(server.RequestHandlerClass.review.by_file)
    assert read_fixes(fixes, files=files, classes=CLASSES) == {others[0]: None}  # what the index stage reads


def test_rows_already_there_are_kept_with_their_bom_and_line_endings(server):
    server, fixes = server
    fixes.write_bytes(codecs.BOM_UTF8 + b"file,label\r\nelsewhere/gone.png,-\r\nred/red_1.png,red\r\n")
    call(server, "/decide", {"file": "red/red_1.png", "decision": "blue"})  # its row changes in place
    call(server, "/decide", {"file": PLANTED, "decision": "blue"})
    assert (
        fixes.read_bytes()
        == codecs.BOM_UTF8
        + (f"file,label\r\nelsewhere/gone.png,-\r\nred/red_1.png,blue\r\n{PLANTED},blue\r\n").encode()
    )
    assert call(server, "/cards?page=1")[1]["fixed"] == 2  # the row of a picture not in this run is not counted


def test_bad_requests_are_refused_in_one_line_and_nothing_is_written(server):
    server, fixes = server
    fixes.write_text("file,label\n")
    refused = {
        "outside": call(server, "/decide", {"file": "../../params.yaml", "decision": "-"}),
        "class": call(server, "/decide", {"file": PLANTED, "decision": "purple"}),
        "undo": call(server, "/undo", {"file": "nowhere.png"}),
        "not json": call(server, "/decide", b"file=x"),
        "not a string": call(server, "/decide", {"file": PLANTED, "decision": 3}),
        "content type": call(server, "/decide", b"{}", content_type="text/plain"),
        "page": call(server, "/cards?page=9"),
        "page text": call(server, "/cards?page=two"),
        "picture": call(server, "/picture?file=../../params.yaml"),
        "no such path": call(server, "/decisions", {"file": PLANTED}),
    }
    statuses = {name: status for name, (status, _) in refused.items()}
    assert statuses == {"outside": 400, "class": 400, "undo": 400, "not json": 400, "not a string": 400,
                        "content type": 415, "page": 400, "page text": 400, "picture": 404,
                        "no such path": 404}  # fmt: skip
    errors = {name: answer["error"] for name, (_, answer) in refused.items()}
    assert errors["outside"] == "'../../params.yaml' is not a picture of this run: nothing was written"
    assert errors["class"].startswith("'purple' is not a class of this run")
    assert errors["page"] == "page 9: there are pages 1 to 2"
    assert all("\n" not in error for error in errors.values())
    assert fixes.read_text() == "file,label\n"


def test_a_picture_is_sent_as_a_small_jpeg(server):
    server, _ = server
    status, body = call(server, f"/picture?file={PLANTED}")
    with Image.open(io.BytesIO(body)) as picture:
        assert status == 200 and picture.format == "JPEG" and picture.size == (20, 20)


def test_decisions_at_once_all_land(server):
    server, fixes = server
    files = [row["file"] for row in server.RequestHandlerClass.review.rows][:20]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda file: call(server, "/decide", {"file": file, "decision": "-"}), files))
    assert all(status == 200 for status, _ in answers)
    assert sorted(fixes.read_text().splitlines()[1:]) == sorted(f"{file},-" for file in files)


def test_a_fixes_file_outside_the_project_is_refused(run):
    with pytest.raises(PetsError, match="is not a file inside the project"):
        fixes_file(run, "../labels_fix.csv")
    assert fixes_file(run, "") == (run / "labels_fix.csv").resolve()


def test_edit_fix_keeps_a_row_in_its_place_and_quotes_a_name_with_a_comma(tmp_path):
    path = tmp_path / "fixes.csv"
    edit_fix(path, "a.png", "cat")
    edit_fix(path, "b, c.png", "-")
    edit_fix(path, "a.png", "dog")
    assert path.read_text() == 'file,label\na.png,dog\n"b, c.png",-\n'
    edit_fix(path, "a.png", None)
    assert path.read_text() == 'file,label\n"b, c.png",-\n'
