"""A small HTTP server on 127.0.0.1 for download tests: Range support and scripted faults."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FileServer:
    """Serves `files` ({url path: bytes}). Faults: `drop_after` bytes on the first response, `ignore_range`,
    `range_offset`, `status` (answer every request with it), `content_type`, `redirects` ({path: the path it sends
    to}); `seconds_per_mib` slows it down."""

    def __init__(self, files):
        self.files = dict(files)
        self.drop_after = None
        self.ignore_range = False
        self.range_offset = 0  # answer a Range request with the bytes this many further on
        self.status = None
        self.content_type = "application/octet-stream"
        self.seconds_per_mib = 0.0
        self.redirects = {}
        self.requests = []  # (path, Range header) of each request
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                if server.status:
                    self.send_error(server.status)
                    return
                if self.path in server.redirects:
                    self.send_response(302)
                    self.send_header("Location", server.redirects[self.path])
                    self.end_headers()
                    return
                if self.path not in server.files:
                    self.send_error(404)
                    return
                body = server.files[self.path]
                start = 0
                requested = self.headers.get("Range")
                if requested and not server.ignore_range:
                    start = int(requested.split("=")[1].split("-")[0]) + server.range_offset
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Type", server.content_type)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                payload = body[start:]
                if server.drop_after is not None:
                    payload, server.drop_after = payload[: server.drop_after], None
                    self.wfile.write(payload)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                try:
                    for start in range(0, len(payload), 1 << 14):
                        self.wfile.write(payload[start : start + (1 << 14)])
                        time.sleep(server.seconds_per_mib / 64)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away: that is what some tests do

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
