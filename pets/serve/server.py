"""`python -m pets serve`: a page to try the model in a browser, on the standard library's HTTP server.

Not Gradio, which fast.ai's course and Hugging Face Spaces use: its page template links Google Fonts and a cdnjs
script, and it sends analytics to api.gradio.app unless told not to (gradio-app/gradio#7968, bmaltais/kohya_ss#3508
for Gradio 5.34: each needs its own workaround), and it would add a web framework's dependencies for one page. Here
one static page (pets/serve/page.html, nothing external) posts each image's bytes to /predict and shows the answer.

Bounded by design: an upload over MAX_UPLOAD_BYTES is refused before it is read, an image over MAX_PIXELS before it
is decoded (a decompression bomb is a small file that claims a huge size). At most READING uploads are read and
answered at once, each read at a minimum rate (pets.serve.web: a client trickling bytes is answered 408 within
seconds), and of those at most SLOTS are decoded at once; WAITING more wait for a place without being read, and
beyond that a request gets 503. Memory stays below about READING x MAX_UPLOAD_BYTES + SLOTS x 3 x MAX_PIXELS bytes
above the model's.
"""

import contextlib
import io
import sys
import threading
import time
from http import HTTPStatus
from pathlib import Path

from PIL import Image

from pets.inference.answers import is_unsure
from pets.inference.predictor import loaded_classifier
from pets.serve.web import Handler, Refused, is_loopback, listen, serve_until_interrupted

MAX_UPLOAD_BYTES = 20 * 2**20  # a 50-megapixel phone photo is 10-20 MB as JPEG
MAX_PIXELS = 64_000_000  # width x height; a 50-megapixel photo passes, Pillow's own bomb check starts at 89 M
SLOTS = 2  # uploads decoded at once
READING = 8  # uploads read and answered at once, each read within its deadline: the bodies in memory
WAITING = 32  # uploads queued for a place, their bodies not yet read; more are refused (503)
TOP = 5
PAGE = Path(__file__).with_name("page.html")


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
        self.places, self.slots = threading.BoundedSemaphore(READING), threading.BoundedSemaphore(SLOTS)
        self.model_lock = threading.Lock()  # one forward pass at a time: the model's threads use every core
        self.counts, self.counts_lock = {"admitted": 0}, threading.Lock()

    @contextlib.contextmanager
    def place(self):
        """A place among the READING uploads read and answered at once, queued behind at most WAITING others (503
        beyond): only those with a place hold their body in memory. Then each waits for one of the SLOTS decoders."""
        with self.counts_lock:
            if self.counts["admitted"] >= READING + WAITING:
                raise Refused(HTTPStatus.SERVICE_UNAVAILABLE, "busy: too many uploads at once, try again shortly")
            self.counts["admitted"] += 1
        try:
            with self.places:
                yield
        finally:
            with self.counts_lock:
                self.counts["admitted"] -= 1

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


class PredictHandler(Handler):
    server_version = "pets"
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
            self.refuse(refused)

    def predict(self) -> dict:
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if not (kind.startswith("image/") or kind == "application/octet-stream"):
            raise Refused(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"expected an image's bytes (Content-Type image/* or application/octet-stream), got {kind or 'none'}",
            )
        length = self.body_length(MAX_UPLOAD_BYTES)
        with self.state.place():
            body = self.read_body(length)  # before a decoder is taken: a slow upload keeps no one else waiting
            with self.state.slots:
                return self.state.answer(body)


def make_server(classifier, *, host: str = "127.0.0.1", port: int = 8000, min_confidence: float | None = None):
    """A server answering the page and /predict (port 0: any free port; server.server_port says)."""
    return listen(
        type("PetsHandler", (PredictHandler,), {"state": Classifying(classifier, min_confidence)}), host, port
    )


def serve(model: str, *, host: str, port: int, min_confidence: float | None) -> None:
    """`python -m pets serve`: the page for a model.pt or model.onnx, until Ctrl-C."""
    classifier = loaded_classifier(model)
    server = make_server(classifier, host=host, port=port, min_confidence=min_confidence)
    if not is_loopback(host):
        print(
            f"warning: serving on {host}: anyone who can reach this machine on port {server.server_port} can "
            "use the model (the default, 127.0.0.1, is this machine alone)",
            file=sys.stderr,
        )
    shown_host = f"[{host}]" if ":" in host else host
    print(
        f"serving {model} ({classifier.arch}, {len(classifier.classes)} classes) at "
        f"http://{shown_host}:{server.server_port}/ (uploads up to {MAX_UPLOAD_BYTES // 2**20} MB and "
        f"{MAX_PIXELS // 10**6} megapixels); Ctrl-C stops",
        flush=True,
    )
    serve_until_interrupted(server)
