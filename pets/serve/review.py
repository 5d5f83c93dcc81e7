"""`python -m pets review`: the audit's ranking (pets.report.audit) as a page of pictures, the least likely label
first, each with its given label, the class the model (or, for a training picture, the out-of-fold probe) gives it
and both probabilities; keep, relabel or drop each. Every decision is written to the fixes file at once (atomically,
the other rows kept: pets.data.fixes), so closing the page or the server loses nothing; `dvc exp run -S
index.fixes=labels_fix.csv` applies them.

On 127.0.0.1 only. The page reads the run's pictures and writes the fixes file, nothing else: a request naming a
file that is no picture of this run, or a class the run does not have, is refused in one line."""

import io
import json
import math
import threading
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from PIL import Image, ImageOps

from pets.config import layout
from pets.data.cache import read_manifest
from pets.data.fixes import DROP, current_fixes, edit_fix
from pets.errors import PetsError
from pets.report.audit import audit_rows
from pets.serve.web import Handler, Refused, listen, serve_until_interrupted

PAGE = Path(__file__).with_name("review.html")
PER_PAGE = 24
THUMBNAIL = 320  # pixels on the longer side: sharp in a grid of cards on a high-density screen
MAX_REQUEST_BYTES = 4096  # a decision is a file name and a class
DEFAULT_FIXES = Path("labels_fix.csv")


class Review:
    """The run's ranked pictures and the fixes file the decisions go to, shared by the handlers."""

    def __init__(self, root: Path, fixes: Path):
        self.root, self.fixes = root, fixes
        self.rows = audit_rows(root / layout.CACHE, root / layout.SCORES)
        self.by_file = {row["file"]: row for row in self.rows}
        self.classes = read_manifest(root / layout.CACHE)["classes"]
        self.raw = (root / layout.RAW).resolve()
        self.kept: set[str] = set()  # kept as labelled this session: nothing to write
        self.lock = threading.Lock()

    @property
    def fixes_name(self) -> str:
        return self.fixes.relative_to(self.root).as_posix()

    def page(self, number: int) -> dict:
        pages = max(1, math.ceil(len(self.rows) / PER_PAGE))
        if not 1 <= number <= pages:
            raise Refused(HTTPStatus.BAD_REQUEST, f"page {number}: there are pages 1 to {pages}")
        with self.lock:
            fixes = current_fixes(self.fixes)
            rows = [self.card(row, fixes) for row in self.rows[(number - 1) * PER_PAGE : number * PER_PAGE]]
        return {
            "page": number,
            "pages": pages,
            "total": len(self.rows),
            "rows": rows,
            "fixes_file": self.fixes_name,
            "fixed": sum(file in self.by_file for file in fixes),
            "apply": f"dvc exp run -S index.fixes={self.fixes_name}",
        }

    def card(self, row: dict, fixes: dict) -> dict:
        """A picture's row, its fix (a class, DROP, or None), whether it was kept, and the classes to relabel it to,
        the predicted one first."""
        others = [name for name in self.classes if name not in (row["predicted"], row["label"])]
        choices = ([row["predicted"]] if row["predicted"] != row["label"] else []) + others
        return {**row, "fix": fixes.get(row["file"]), "kept": row["file"] in self.kept, "choices": choices}

    def picture(self, file: str) -> Path:
        if file not in self.by_file:
            raise Refused(HTTPStatus.NOT_FOUND, f"{file!r} is not a picture of this run")
        path = (self.raw / file).resolve()
        if not path.is_relative_to(self.raw):
            raise Refused(HTTPStatus.FORBIDDEN, f"{file!r} is outside {layout.RAW}")
        return path

    def decide(self, file: str, decision: str) -> dict:
        """keep, DROP or a class: the fixes file's row for `file` set (or removed for keep, and for the label the
        picture has); its card as it now is."""
        if file not in self.by_file:
            raise Refused(HTTPStatus.BAD_REQUEST, f"{file!r} is not a picture of this run: nothing was written")
        if decision not in ("keep", DROP, *self.classes):
            raise Refused(
                HTTPStatus.BAD_REQUEST,
                f"{decision!r} is not a class of this run (nor keep, nor {DROP} to drop): nothing was written",
            )
        row = self.by_file[file]
        with self.lock:
            unchanged = decision in ("keep", row["label"])
            edit_fix(self.fixes, file, None if unchanged else decision)
            (self.kept.add if unchanged else self.kept.discard)(file)
            return self.card(row, current_fixes(self.fixes))

    def undo(self, file: str) -> dict:
        if file not in self.by_file:
            raise Refused(HTTPStatus.BAD_REQUEST, f"{file!r} is not a picture of this run: nothing was written")
        with self.lock:
            if file in current_fixes(self.fixes):
                edit_fix(self.fixes, file, None)
            self.kept.discard(file)
            return self.card(self.by_file[file], current_fixes(self.fixes))


def thumbnail_jpeg(path: Path) -> bytes:
    """The picture, upright and at most THUMBNAIL pixels on its longer side, as JPEG (any format Pillow reads)."""
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            image.thumbnail((THUMBNAIL, THUMBNAIL))
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=85)
    except Exception as error:  # noqa: BLE001 - a file of the run that no longer decodes: its card says so
        raise Refused(HTTPStatus.UNPROCESSABLE_ENTITY, f"cannot show {path.name} ({type(error).__name__})") from None
    return out.getvalue()


class ReviewHandler(Handler):
    server_version = "pets-review"
    review: Review  # set on the subclass make_server builds

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        try:
            if url.path in ("/", "/index.html"):
                self.send(HTTPStatus.OK, PAGE.read_bytes(), "text/html; charset=utf-8")
            elif url.path == "/cards":
                self.send_json(HTTPStatus.OK, self.review.page(self.number(query.get("page", ["1"])[0])))
            elif url.path == "/picture":
                picture = self.review.picture(query.get("file", [""])[0])
                self.send(HTTPStatus.OK, thumbnail_jpeg(picture), "image/jpeg")
            elif url.path == "/favicon.ico":
                self.send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
            else:
                raise Refused(HTTPStatus.NOT_FOUND, f"no page {url.path}: the page is /")
        except Refused as refused:
            self.refuse(refused)

    def do_POST(self):
        try:
            request = self.request_json()
            if self.path == "/decide":
                self.send_json(HTTPStatus.OK, self.review.decide(request["file"], request["decision"]))
            elif self.path == "/undo":
                self.send_json(HTTPStatus.OK, self.review.undo(request["file"]))
            else:
                raise Refused(HTTPStatus.NOT_FOUND, f"no {self.path}: post decisions to /decide or /undo")
        except Refused as refused:
            self.refuse(refused)

    @staticmethod
    def number(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise Refused(HTTPStatus.BAD_REQUEST, f"page {text!r} is not a number") from None

    def request_json(self) -> dict:
        """The request's JSON object of strings, `file` and, for /decide, `decision`."""
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"expected JSON (application/json), got {kind or 'none'}")
        body = self.read_body(self.body_length(MAX_REQUEST_BYTES))
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Refused(HTTPStatus.BAD_REQUEST, "the request is not JSON") from None
        needed = ("file", "decision") if self.path == "/decide" else ("file",)
        if not isinstance(request, dict) or not all(isinstance(request.get(key), str) for key in needed):
            raise Refused(HTTPStatus.BAD_REQUEST, f"the request needs {' and '.join(needed)}, as text")
        return request


def fixes_file(root: Path, setting: str) -> Path:
    """Where decisions go: params.yaml's index.fixes, or labels_fix.csv; refused outside the project."""
    path = (root / (setting or DEFAULT_FIXES)).resolve()
    if not path.is_relative_to(root.resolve()) or path.is_dir():
        raise PetsError(
            f"index.fixes: {setting} is not a file inside the project: the review page writes its decisions to a "
            "file of the project (labels_fix.csv by default)"
        )
    return path


def make_server(root: Path, fixes: Path, port: int = 8001):
    """The review page's server on 127.0.0.1 (port 0: any free port; server.server_port says)."""
    review = Review(root.resolve(), fixes)
    return listen(type("PetsReviewHandler", (ReviewHandler,), {"review": review}), "127.0.0.1", port)


def review(port: int) -> None:
    """`python -m pets review`: the page for this project's last run, until Ctrl-C."""
    from pets.config.params import load_params

    root = Path.cwd()
    fixes = fixes_file(root, load_params().index.fixes)
    server = make_server(root, fixes, port)
    state = server.RequestHandlerClass.review
    print(
        f"reviewing {len(state.rows)} pictures, the least likely label first, at "
        f"http://127.0.0.1:{server.server_port}/ ; decisions go to {state.fixes_name} as they are made; "
        f"apply them with: dvc exp run -S index.fixes={state.fixes_name}; Ctrl-C stops",
        flush=True,
    )
    serve_until_interrupted(server)
