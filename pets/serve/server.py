"""`python -m pets serve`: a page to try the model in a browser, on the standard library's HTTP server.

Not Gradio, which fast.ai's course and Hugging Face Spaces use: its page template links Google Fonts and a cdnjs
script, and it sends analytics to api.gradio.app unless told not to (gradio-app/gradio#7968, bmaltais/kohya_ss#3508
for Gradio 5.34: each needs its own workaround), and it would add a web framework's dependencies for one page. Here
one static page (pets/serve/page.html, nothing external) posts each image's bytes to /predict and shows the answer.

Bounded by design: an upload over MAX_UPLOAD_BYTES is refused before it is read, an image over MAX_PIXELS before it
is decoded (a decompression bomb is a small file that claims a huge size), at most SLOTS uploads are read and decoded
at once and WAITING more wait their turn; beyond that a request gets 503. Memory stays below about
SLOTS x (MAX_UPLOAD_BYTES + 3 x MAX_PIXELS) bytes above the model's.
"""

import contextlib
import io
import ipaddress
import json
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import Image

from pets.errors import PetsError
from pets.inference.answers import is_unsure

MAX_UPLOAD_BYTES = 20 * 2**20  # a 50-megapixel phone photo is 10-20 MB as JPEG
MAX_PIXELS = 64_000_000  # width x height; a 50-megapixel photo passes, Pillow's own bomb check starts at 89 M
SLOTS = 2  # uploads read and decoded at once
WAITING = 32  # uploads queued for a slot; more are refused (503)
TOP = 5
PAGE = Path(__file__).with_name("page.html")


class Refused(Exception):
    """An upload answered with a 4xx or 5xx status and one line saying why."""

    def __init__(self, status: HTTPStatus, reason: str):
        super().__init__(reason)
        self.status = status


def checked_image_bytes(body: bytes) -> None:
    """Refuse what is not an image Pillow knows or is larger than MAX_PIXELS, reading only its header."""
    try:
        with Image.open(io.BytesIO(body)) as image:
            width, height = image.size
    except Image.DecompressionBombError:  # Pillow's own check, at twice Image.MAX_IMAGE_PIXELS
        raise Refused(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"the image claims over {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels (a decompression bomb?): "
            f"the limit is {MAX_PIXELS / 1e6:.0f} megapixels",
        ) from None
    except Exception as error:  # noqa: BLE001 - Pillow's UnidentifiedImageError and format errors alike
        raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"not an image ({type(error).__name__})") from None
    if width * height > MAX_PIXELS:
        raise Refused(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"the image is {width} x {height} ({width * height / 1e6:.0f} megapixels): the limit is "
            f"{MAX_PIXELS / 1e6:.0f} megapixels",
        )


class Classifying:
    """What the handlers share: the classifier, the answer threshold, and the slots that bound memory."""

    def __init__(self, classifier, min_confidence: float | None):
        self.classifier, self.min_confidence = classifier, min_confidence
        self.slots = threading.BoundedSemaphore(SLOTS)
        self.model_lock = threading.Lock()  # one forward pass at a time: the model's threads use every core
        self.waiting, self.waiting_lock = 0, threading.Lock()

    def slot(self):
        with self.waiting_lock:
            if self.waiting >= SLOTS + WAITING:
                raise Refused(HTTPStatus.SERVICE_UNAVAILABLE, "busy: too many uploads at once, try again shortly")
            self.waiting += 1
        return self

    def __enter__(self):
        self.slots.acquire()

    def __exit__(self, *exc):
        self.slots.release()
        with self.waiting_lock:
            self.waiting -= 1

    def answer(self, body: bytes) -> dict:
        started = time.perf_counter()
        checked_image_bytes(body)
        try:
            pixels = self.classifier.load(io.BytesIO(body))
        except Exception as error:  # noqa: BLE001 - a truncated or damaged file of a known format
            reason = " ".join(str(error).split())[:200]
            raise Refused(HTTPStatus.UNPROCESSABLE_ENTITY, f"cannot decode this image ({reason})") from None
        with self.model_lock:
            probs = self.classifier.probabilities(pixels[None])[0]
        top = self.classifier.top(probs, TOP)
        return {
            "predictions": [{"class": name, "probability": round(p, 6)} for name, p in top],
            "unsure": is_unsure(top, self.min_confidence),
            "min_confidence": self.min_confidence,
            "milliseconds": round(1000 * (time.perf_counter() - started), 1),
        }


class Handler(BaseHTTPRequestHandler):
    server_version = "pets"
    timeout = 30  # seconds a client may take to send its request: a stalled upload does not hold a slot forever
    state: Classifying  # set on the subclass make_server builds

    def do_GET(self):
        if self.path in ("/", "/index.html"):
            self.send(HTTPStatus.OK, PAGE.read_bytes(), "text/html; charset=utf-8")
        elif self.path == "/model":
            classifier = self.state.classifier
            about = {
                "arch": classifier.arch,
                "classes": classifier.classes,
                "min_confidence": self.state.min_confidence,
            }
            self.send_json(HTTPStatus.OK, about)
        elif self.path == "/favicon.ico":
            self.send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
        else:
            self.send_json(HTTPStatus.NOT_FOUND, {"error": f"no page {self.path}: the page is /"})

    def do_POST(self):
        try:
            if self.path != "/predict":
                raise Refused(HTTPStatus.NOT_FOUND, f"no {self.path}: post images to /predict")
            self.send_json(HTTPStatus.OK, self.predict())
        except Refused as refused:
            self.close_connection = True  # an unread body must not be taken for the next request
            with contextlib.suppress(OSError):  # a client that left does not hear it
                self.send_json(refused.status, {"error": str(refused)})

    def predict(self) -> dict:
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if not (kind.startswith("image/") or kind == "application/octet-stream"):
            raise Refused(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"expected an image's bytes (Content-Type image/* or application/octet-stream), got {kind or 'none'}",
            )
        if self.headers.get("Content-Length") is None:
            raise Refused(HTTPStatus.LENGTH_REQUIRED, "the upload has no Content-Length")
        try:
            length = int(self.headers["Content-Length"])
        except ValueError:
            raise Refused(HTTPStatus.BAD_REQUEST, "the upload's Content-Length is not a number") from None
        if length <= 0:
            raise Refused(HTTPStatus.BAD_REQUEST, "the file is empty (0 bytes): pick an image")
        if length > MAX_UPLOAD_BYTES:
            raise Refused(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the file is {length / 2**20:.1f} MB: the limit is {MAX_UPLOAD_BYTES / 2**20:.0f} MB",
            )
        with self.state.slot():
            try:
                body = self.rfile.read(length)
            except TimeoutError:
                raise Refused(
                    HTTPStatus.REQUEST_TIMEOUT, f"the upload stalled for {self.timeout} s: send it again"
                ) from None
            if len(body) < length:
                raise Refused(HTTPStatus.BAD_REQUEST, f"the upload stopped after {len(body)} of {length} bytes")
            return self.state.answer(body)

    def send_json(self, status, payload):
        self.send(status, json.dumps(payload).encode(), "application/json")

    def send(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - the signature BaseHTTPRequestHandler calls
        print(f"{self.address_string()} {format % args}", file=sys.stderr, flush=True)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def make_server(classifier, *, host: str = "127.0.0.1", port: int = 8000, min_confidence: float | None = None):
    """A ThreadingHTTPServer answering the page and /predict (port 0: any free port; server.server_port says)."""
    handler = type("PetsHandler", (Handler,), {"state": Classifying(classifier, min_confidence)})
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as error:
        raise PetsError(f"cannot serve on {host}:{port} ({error.strerror}): choose another with --port") from None
    server.daemon_threads = True
    return server
