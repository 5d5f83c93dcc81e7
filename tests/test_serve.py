"""The served page's server: answers, and every bad upload a 4xx with one line while it keeps serving, in bounded
memory. (The page itself, in a real browser: tests/test_ship.py.)"""

import contextlib
import http.client
import io
import json
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from pets.errors import PetsError
from pets.inference.predict import TorchClassifier
from pets.serve import server as serving
from pets.serve import web as serving_web
from tests.helpers import CPU, ROOT, save_model
from tests.imagefiles import encode, gradient


class Counting:
    """A classifier that records how many images it decodes at once."""

    def __init__(self, classifier):
        self.inner, self.now, self.most, self.lock = classifier, 0, 0, threading.Lock()
        self.classes, self.arch = classifier.classes, classifier.arch

    def load(self, source):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.05)  # long enough for the uploads sent at once to overlap here if they could
            return self.inner.load(source)
        finally:
            with self.lock:
                self.now -= 1

    def probabilities(self, pixels):
        return self.inner.probabilities(pixels)

    def top(self, probs, k):
        return self.inner.top(probs, k)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    path = tmp_path_factory.mktemp("serve") / "model.pt"
    save_model(path, "resnet18", ["a", "b", "c"], 32)
    classifier = Counting(TorchClassifier(path, CPU))
    server = serving.make_server(classifier, port=0, min_confidence=0.8)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, classifier
    server.shutdown()
    server.server_close()


def post(server, body, content_type="image/png", headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=60)
    connection.putrequest("POST", "/predict")
    connection.putheader("Content-Type", content_type)
    for key, value in ({"Content-Length": str(len(body))} if headers is None else headers).items():
        connection.putheader(key, value)
    connection.endheaders()
    if body:
        connection.send(body)
    response = connection.getresponse()
    reply = json.loads(response.read())
    connection.close()
    return response.status, reply


def png_claiming(width, height):
    """A tiny PNG whose header claims width x height: a decompression bomb's shape."""

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 4096))
        + chunk(b"IEND", b"")
    )


def test_binds_to_this_machine_alone_by_default(served):
    assert served[0].server_address[0] == "127.0.0.1"


def test_an_image_gets_its_top_classes_a_verdict_and_a_time(served):
    status, reply = post(served[0], encode(gradient(64, 48), "PNG"))
    assert status == 200
    probabilities = [p["probability"] for p in reply["predictions"]]
    assert [p["class"] for p in reply["predictions"]] != [] and sorted(probabilities, reverse=True) == probabilities
    assert abs(sum(probabilities) - 1) < 1e-4 and len(probabilities) == 3  # all three classes, as there are only 3
    assert reply["unsure"] == (probabilities[0] < 0.8) and reply["milliseconds"] > 0


def test_the_page_and_the_model_description(served):
    connection = http.client.HTTPConnection("127.0.0.1", served[0].server_port, timeout=10)
    connection.request("GET", "/")
    response = connection.getresponse()
    page = response.read().decode()
    assert response.status == 200 and '<input id="files" type="file"' in page
    assert "http://" not in page and "https://" not in page  # nothing fetched from anywhere else
    connection.request("GET", "/model")
    assert json.loads(connection.getresponse().read()) == {"arch": "resnet18", "classes": ["a", "b", "c"],
                                                            "min_confidence": 0.8}  # fmt: skip


def fifty_megapixels():
    """A 50-megapixel JPEG, as a phone takes (smooth, so it is small)."""
    x = np.linspace(0, 255, 8660, dtype=np.float32)
    pixels = np.empty((5774, 8660, 3), np.uint8)
    pixels[..., 0] = x
    pixels[..., 1] = x[::-1]
    pixels[..., 2] = 90
    return encode(Image.fromarray(pixels), "JPEG", quality=80)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "said"),
    [
        (b"this is not an image\n", "image/jpeg", 415, "not an image (UnidentifiedImageError)"),
        (b"", "image/jpeg", 400, "the file is empty (0 bytes): pick an image"),
        (encode(gradient(), "PNG"), "text/plain", 415, "expected an image's bytes (Content-Type image/* or "
         "application/octet-stream), got text/plain"),
        (png_claiming(9000, 9000), "image/png", 413, "the image is 9000 x 9000 (81 megapixels): the limit is 64 "
         "megapixels"),
        (png_claiming(40000, 40000), "image/png", 413, "the image claims over 179 megapixels (a decompression "
         "bomb?): the limit is 64 megapixels"),
        (encode(gradient(400, 300), "JPEG")[:2000], "image/jpeg", 422, "cannot decode this image"),
    ],
    ids=["not-an-image", "zero-bytes", "wrong-content-type", "81-megapixels", "bomb", "truncated"],
)  # fmt: skip
def test_a_bad_upload_is_a_4xx_with_one_line_and_the_server_goes_on(served, body, content_type, status, said):
    got, reply = post(served[0], body, content_type)
    assert got == status and said in reply["error"] and "\n" not in reply["error"]
    assert post(served[0], encode(gradient(), "PNG"))[0] == 200  # still serving


def test_an_upload_over_the_cap_is_refused_before_it_is_read(served):
    too_big = serving.MAX_UPLOAD_BYTES + 1
    status, reply = post(served[0], b"", headers={"Content-Length": str(too_big)})  # the body is never sent
    assert status == 413 and reply["error"] == f"the file is 20.0 MB: the limit is {serving.MAX_UPLOAD_BYTES >> 20} MB"
    assert post(served[0], b"x", headers={})[0] == 411  # no length: refused, not read until the socket closes


def test_an_upload_that_stalls_frees_its_slot_with_one_line(served, monkeypatch, capsys):
    monkeypatch.setattr(serving.Handler, "timeout", 0.5)
    server = served[0]
    status, reply = post(server, b"\x89PNG\r\n", "image/png", headers={"Content-Length": "1000"})  # 8 of 1000 bytes
    assert status == 408 and reply["error"] == (
        "the upload stalled or was too slow (6 of 1000 bytes arrived in time): send it again"
    )
    assert "Traceback" not in capsys.readouterr().err
    with ThreadPoolExecutor(4) as pool:  # both slots free again
        assert [status for status, _ in pool.map(lambda _: post(server, encode(gradient(), "PNG")), range(4))] == [
            200
        ] * 4


def test_a_fifty_megapixel_photo_is_answered(served):
    status, reply = post(served[0], fifty_megapixels(), "image/jpeg")
    assert status == 200 and len(reply["predictions"]) == 3


def test_twenty_uploads_at_once_are_all_answered_at_most_two_decoding_at_a_time(served):
    server, classifier = served
    bodies = [encode(gradient(40 + i, 30 + i), "PNG") for i in range(20)]
    classifier.most = 0
    with ThreadPoolExecutor(20) as pool:
        replies = list(pool.map(lambda body: post(server, body), bodies))
    assert [status for status, _ in replies] == [200] * 20, replies
    assert classifier.most == serving.SLOTS  # they overlapped, and never more than the slots held images at once


def test_beyond_the_queue_an_upload_is_told_to_try_again(served, monkeypatch):
    monkeypatch.setattr(serving, "WAITING", 0)
    server, _ = served
    bodies = [encode(gradient(), "PNG")] * (serving.READING + 4)
    with ThreadPoolExecutor(len(bodies)) as pool:
        replies = list(pool.map(lambda body: post(server, body), bodies))
    busy = [reply["error"] for status, reply in replies if status == 503]
    assert busy and set(busy) == {"busy: too many uploads at once, try again shortly"}
    assert {status for status, _ in replies} == {200, 503}


def test_serving_on_every_network_warns_in_one_line(tmp_path):
    save_model(tmp_path / "model.pt", "resnet18", ["a", "b"], 32)
    command = [sys.executable, "-m", "pets", "serve", "--model", str(tmp_path / "model.pt"), "--host", "0.0.0.0"]
    process = subprocess.Popen([*command, "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)  # fmt: skip
    try:
        line = process.stderr.readline()
    finally:
        process.kill()
        process.wait()
    assert line.startswith("warning: serving on 0.0.0.0: anyone who can reach this machine on port ")
    assert line.rstrip().endswith("can use the model (the default, 127.0.0.1, is this machine alone)")


def test_a_min_confidence_outside_0_to_1_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pets", "serve", "--min-confidence", "1.5"], cwd=ROOT,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2 and "--min-confidence: must be in (0, 1]" in result.stderr.splitlines()[-1]


def test_a_port_in_use_is_one_line(served):
    with pytest.raises(PetsError, match=r"^cannot serve on 127\.0\.0\.1:\d+: the port is in use; choose another with "
                       r"--port$"):  # fmt: skip
        serving.make_server(served[1], port=served[0].server_port)


@pytest.mark.parametrize(
    "host, said",
    [("nosuchhost.invalid", "cannot serve on nosuchhost.invalid: no such address here"),
     ("192.0.2.1", "cannot serve on 192.0.2.1:0 (Cannot assign requested address): --host must be an address of "
      "this machine")],
)  # fmt: skip
def test_a_host_it_cannot_listen_on_is_one_line_about_the_host_not_the_port(served, host, said):
    with pytest.raises(PetsError, match=re.escape(said)) as refused:
        serving.make_server(served[1], host=host, port=0)
    assert "--port" not in str(refused.value)


def test_ipv6_hosts_are_served(served):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        server = serving.make_server(served[1], host="::1", port=0)
    except PetsError as error:
        pytest.skip(f"no IPv6 loopback here: {error}")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connection = http.client.HTTPConnection("::1", server.server_port, timeout=10)
        connection.request("GET", "/model")
        assert json.loads(connection.getresponse().read())["classes"] == ["a", "b", "c"]
    finally:
        server.shutdown()
        server.server_close()


def test_a_port_out_of_range_is_one_line():
    result = subprocess.run([sys.executable, "-m", "pets", "serve", "--port", "70000"], cwd=ROOT,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].endswith("argument --port: must be 0 (any free port) to 65535, not 70000")


@pytest.mark.parametrize(
    "length, said",
    [("-5", "the upload's Content-Length -5 is not a size"),
     (str(10**20), "the file is 100,000,000,000,000,000,000 bytes: the limit is 20 MB"),
     ("12abc", "the upload's Content-Length '12abc' is not a number")],
)  # fmt: skip
def test_a_content_length_that_is_no_size_is_named_as_such(served, length, said):
    status, reply = post(served[0], b"", headers={"Content-Length": length})
    assert status in (400, 413) and reply["error"] == said


def trickle(port, seconds):
    """An upload declaring 1000 bytes and sending one byte every `seconds`, until the server answers."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=60)
    connection.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n")
    connection.settimeout(seconds)
    started = time.monotonic()
    while time.monotonic() - started < 60:
        try:
            answer = connection.recv(4096)
            connection.close()
            return answer.split(b"\r\n", 1)[0].decode(), time.monotonic() - started
        except TimeoutError:
            with contextlib.suppress(OSError):
                connection.sendall(b"x")
    raise AssertionError("the server never answered the trickling upload")


def test_uploads_trickling_a_byte_at_a_time_do_not_block_a_normal_one(served, monkeypatch):
    """Two clients sending a byte every 2 s held both decode slots, and a normal upload waited 47 s; now a body is read
    before a slot is taken, and one that falls behind the minimum rate is answered 408 within seconds."""
    monkeypatch.setattr(serving_web, "BODY_SECONDS", 2.0)
    server = served[0]
    with ThreadPoolExecutor(2) as pool:
        trickling = [pool.submit(trickle, server.server_port, 0.5) for _ in range(2)]
        time.sleep(0.5)  # both are reading
        started = time.monotonic()
        status, _ = post(server, encode(gradient(), "PNG"))
        answered = time.monotonic() - started
        slow = [future.result() for future in trickling]
    assert status == 200 and answered < 3, answered
    assert all(line == "HTTP/1.0 408 Request Timeout" and seconds < 10 for line, seconds in slow), slow


def test_a_client_that_leaves_before_its_answer_is_one_line_in_the_log_not_a_traceback(served, capfd):
    server = served[0]
    for request in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /model HTTP/1.1\r\nHost: x\r\n\r\n"):
        client = socket.create_connection(("127.0.0.1", server.server_port))
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # closed with a reset
        client.sendall(request)
        client.close()
    png = encode(gradient(), "PNG")
    client = socket.create_connection(("127.0.0.1", server.server_port))
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: "
                   + str(len(png)).encode() + b"\r\n\r\n" + png)  # fmt: skip
    client.close()
    time.sleep(1.0)
    assert post(server, png)[0] == 200  # still serving
    assert "Traceback" not in capfd.readouterr().err


def test_control_characters_of_a_request_are_escaped_in_the_log(served, capfd):
    client = socket.create_connection(("127.0.0.1", served[0].server_port), timeout=10)
    client.sendall(b"GET /\x1b[2J\x1b[31mred HTTP/1.1\r\nHost: x\r\n\r\n")
    client.recv(4096)
    client.close()
    time.sleep(0.2)
    err = capfd.readouterr().err
    assert "\x1b" not in err and "\\x1b[2J" in err  # as the standard library writes it


def test_the_decoded_image_is_what_predict_decodes(served, tmp_path):
    path = tmp_path / "a.png"
    gradient(70, 50).save(path)
    classifier = served[1].inner
    with open(path, "rb") as file:
        from_bytes = classifier.load(io.BytesIO(file.read()))
    assert np.array_equal(from_bytes, classifier.load(path))
