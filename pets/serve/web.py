"""What the project's pages share on the standard library's HTTP server: answers that a client which left does not
turn into tracebacks, request bodies read within a deadline (a client trickling bytes holds nothing for long), the
standard library's escaped log lines, and a server on a host and port said in one line when it cannot listen."""

import errno
import ipaddress
import json
import socket
import sys
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pets.errors import PetsError

BODY_SECONDS = 10.0  # every body may take this long, and longer only at MIN_BYTES_PER_SECOND or faster
MIN_BYTES_PER_SECOND = 50_000  # the slowest upload taken: a 20 MB photo in under 7 minutes


class Refused(Exception):
    """A request answered with a 4xx or 5xx status and one line saying why."""

    def __init__(self, status: HTTPStatus, reason: str):
        super().__init__(reason)
        self.status = status


def size_text(length: int) -> str:
    return f"{length / 2**20:.1f} MB" if length < 2**40 else f"{length:,} bytes"


class Handler(BaseHTTPRequestHandler):
    timeout = 30  # seconds a client may take to send its request line and headers

    def body_length(self, limit: int) -> int:
        """The request's Content-Length, refused when missing, not a size, 0, or over `limit` bytes."""
        declared = self.headers.get("Content-Length")
        if declared is None:
            raise Refused(HTTPStatus.LENGTH_REQUIRED, "the upload has no Content-Length")
        try:
            length = int(declared)
        except ValueError:
            raise Refused(HTTPStatus.BAD_REQUEST, f"the upload's Content-Length {declared!r} is not a number") from None
        if length < 0:
            raise Refused(HTTPStatus.BAD_REQUEST, f"the upload's Content-Length {length} is not a size")
        if length == 0:
            raise Refused(HTTPStatus.BAD_REQUEST, "the file is empty (0 bytes): pick an image")
        if length > limit:
            raise Refused(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the file is {size_text(length)}: the limit is {limit / 2**20:.0f} MB",
            )
        return length

    def read_body(self, length: int) -> bytes:
        """The body, refused (408) once it falls behind MIN_BYTES_PER_SECOND after the first BODY_SECONDS: a bound
        on the whole upload, not only on each read, so that a client sending a byte now and then holds its place for
        seconds, not minutes."""
        started, chunks, received = time.monotonic(), [], 0
        try:
            while received < length:
                behind_at = started + BODY_SECONDS + received / MIN_BYTES_PER_SECOND  # when `received` is too few
                left = behind_at - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                self.connection.settimeout(min(left, self.timeout))
                chunk = self.rfile.read1(min(length - received, 1 << 20))
                if not chunk:
                    raise Refused(HTTPStatus.BAD_REQUEST, f"the upload stopped after {received} of {length} bytes")
                chunks.append(chunk)
                received += len(chunk)
        except TimeoutError:
            raise Refused(
                HTTPStatus.REQUEST_TIMEOUT,
                f"the upload stalled or was too slow ({received} of {length} bytes arrived in time): send it again",
            ) from None
        finally:
            self.connection.settimeout(self.timeout)
        return b"".join(chunks)

    def refuse(self, refused: Refused) -> None:
        self.close_connection = True  # an unread body must not be taken for the next request
        self.send_json(refused.status, {"error": str(refused)})

    def send_json(self, status, payload):
        self.send(status, json.dumps(payload).encode(), "application/json")

    def send(self, status, body, content_type):
        """Answer; a client that left before its answer is only logged."""
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            self.log_message("%s", "the client left before its answer")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # connections the kernel holds until they are accepted: socketserver's 5 overflows when a burst of uploads meets
    # a busy machine (20 at once came back "connection reset" in one test run); the handlers queue them instead
    request_queue_size = 128

    def handle_error(self, request, client_address):
        """A client that drops its connection is one line in the log, not a traceback; other errors as before."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            print(f"{client_address[0]}: the connection ended ({type(error).__name__})", file=sys.stderr, flush=True)
            return
        super().handle_error(request, client_address)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def listen(handler: type[Handler], host: str, port: int) -> Server:
    """A Server for `handler` on host:port (port 0: any free one; server.server_port says which), IPv4 or IPv6."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except (socket.gaierror, UnicodeError) as error:
        raise PetsError(f"cannot serve on {host}: no such address here ({error}); e.g. --host 127.0.0.1") from None
    server_class = type("Server", (Server,), {"address_family": family})
    try:
        return server_class((host, port), handler)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise PetsError(f"cannot serve on {host}:{port}: the port is in use; choose another with --port") from None
        raise PetsError(
            f"cannot serve on {host}:{port} ({error.strerror}): --host must be an address of this machine "
            "(127.0.0.1, ::1, 0.0.0.0, ::)"
        ) from None


def serve_until_interrupted(server: Server) -> None:
    """Serve until Ctrl-C, then say so in one line and close the socket."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
