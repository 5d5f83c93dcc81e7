"""Fetch an archive from a URL or a local path: resumable, retried, verified."""

import errno
import http.client
import shutil
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from pets.digest import bytes_sha256, file_sha256
from pets.errors import PetsError
from pets.progress import progress

CHUNK = 1 << 20
BYTES = {"unit": "B", "unit_scale": True, "unit_divisor": 1024}  # a progress bar counting bytes (KiB, MiB)
OFFLINE_HINT = "or run the offline quick start: make photos"
STALL_SECONDS, STALL_BYTES = 120.0, 64 * 1024  # a download slower than this for this long has stalled


class Unreachable(PetsError):
    """The host of a URL cannot be reached at all (no network, no such host, refused)."""

    def __init__(self, message, host):
        super().__init__(message)
        self.host = host


def verify(path, sha256=None, size=None, source=None):
    """Raise PetsError when `path` does not have the expected size or sha256."""
    source = source or path
    actual_size = Path(path).stat().st_size
    if size is not None and actual_size != size:
        raise PetsError(f"{source}: size is {actual_size} bytes, expected {size}")
    if sha256 is not None:
        actual = file_sha256(path)
        if actual != sha256.lower():
            raise PetsError(f"{source}: sha256 mismatch, expected {sha256.lower()} but got {actual}")


def archive_name(url):
    name = Path(urllib.parse.urlparse(url).path).name
    if not name:
        raise PetsError(f"{url}: the URL names no file")
    return name


def download_path(url, downloads, sha256=None, size=None):
    """Where the download of `url` is kept: `downloads/<key>/<name>`, the key a digest of the URL and the
    expected sha256 and size, so another URL (or other checks) never reuses a file of the same name."""
    key = bytes_sha256(f"{url}\n{(sha256 or '').lower()}\n{size or ''}".encode())[:16]
    return Path(downloads) / key / archive_name(url)


def local_path(url):
    """The file a file:// URL or a plain path names; None for an http(s) URL."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in ("http", "https"):
        return None
    return Path(urllib.request.url2pathname(parsed.path)) if parsed.scheme == "file" else Path(url)


def fetch(
    url: str,
    downloads: str | Path,
    sha256: str | None = None,
    size: int | None = None,
    retries: int = 3,
    timeout: float = 30.0,
) -> Path:
    """Return the path of a verified local copy of `url`.

    http(s) downloads go to `download_path(...)` through `<name>.part`, which a later call resumes
    with a Range request; a file that fails verification is deleted, never kept as good.
    file:// URLs and plain paths are verified where they are.
    """
    path = local_path(url)
    if path is not None:
        if not path.is_file():
            raise PetsError(f"{url}: no such file")
        verify(path, sha256, size)
        print(f"download: using {path}")
        return path

    target = download_path(url, downloads, sha256, size)
    if target.exists():
        try:
            verify(target, sha256, size)
            print(f"download: reusing {target}, fetched earlier from {url}")
            return target
        except PetsError as error:
            print(f"download: {error}; fetching it again")
            target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"download: fetching {url}")
    partial = target.with_name(target.name + ".part")
    for attempt in range(retries):
        try:
            _download(url, partial, size, timeout)
            break
        except _Transient as error:
            if attempt == retries - 1:
                raise PetsError(
                    f"{url}: {error} after {retries} attempts; the partial file is kept in "
                    f"{partial} and the next run resumes it"
                ) from None
            time.sleep(2**attempt)
    try:
        verify(partial, sha256, size, source=url)
    except PetsError:
        partial.unlink()
        raise
    partial.replace(target)
    return target


def _range_start(response):
    """The first byte a 206 response carries, from its Content-Range (`bytes 1000-1999/2000`), or None."""
    unit, _, spec = (response.headers.get("Content-Range") or "").partition(" ")
    start = spec.split("-", 1)[0]
    return int(start) if unit == "bytes" and start.isdigit() else None


def _unreachable(reason):
    """True when the host cannot be reached at all (no DNS, refused, no route): retrying will not help."""
    return isinstance(reason, (socket.gaierror, ConnectionRefusedError)) or (
        isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH)
    )


class _Transient(Exception):
    """A failure worth another attempt: dropped connection, timeout, server error."""


def _download(url, partial, size, timeout):
    """Append to `partial` what the server sends from its current size on (all of it when the server ignores Range)."""
    have = partial.stat().st_size if partial.exists() else 0
    host = urllib.parse.urlparse(url).hostname
    response = _open(url, host, have, size, timeout)
    if response is None:
        return  # the partial file is already complete
    with response:
        if response.headers.get_content_type() == "text/html":
            raise PetsError(f"{url}: the server sent an HTML page, not an archive (is the URL right?)")
        resumed = response.status == 206
        if resumed and _range_start(response) != have:
            partial.unlink()
            raise _Transient(
                f"{url} answered a range from byte {_range_start(response)} where {have} was asked; starting over"
            )
        if not resumed:
            have = 0  # the server ignored Range: start over
        length = response.headers.get("Content-Length")
        total = have + int(length) if length else size
        free = shutil.disk_usage(partial.parent).free
        if total is not None and total - have > free:
            raise PetsError(f"{url}: needs {total - have:,} bytes but only {free:,} are free in {partial.parent}")
        _copy(response, partial, resumed, have, total, host)
    got = partial.stat().st_size
    if total is not None and got < total:
        raise _Transient(f"connection to {host} closed after {got:,} of {total:,} bytes")


def _open(url, host, have, size, timeout):
    """The server's response to a request for `url` from byte `have` on; None when the file is already whole."""
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and size is not None and have == size:
            return None
        if error.code >= 500:
            raise _Transient(f"server error {error.code}") from None
        if 300 <= error.code < 400:  # urllib gives up on a loop, or after 10 redirects, with a three-line reason
            raise PetsError(f"{url}: the server redirects in a loop (or more than 10 times); check the URL") from None
        raise PetsError(f"{url}: the server answered {error.code} {' '.join(str(error.reason).split())}") from None
    except urllib.error.URLError as error:
        if _unreachable(error.reason):
            raise Unreachable(f"cannot reach {host} for {url} ({error.reason})", host) from None
        raise _Transient(f"no answer from {host} ({error.reason})") from None
    except TimeoutError:
        raise _Transient(f"no answer from {host} within {timeout:g} s") from None


def _copy(response, partial, resumed, have, total, host):
    """Write the response's body to `partial` as it arrives, so that a kill keeps it, with a progress bar; a stall
    (under STALL_BYTES in STALL_SECONDS) or a broken connection is transient."""
    with (
        open(partial, "ab" if resumed else "wb") as out,
        progress(total=total, initial=have, desc=f"download {partial.name[:-5]}", **BYTES) as bar,
    ):
        window_start, window_bytes = time.monotonic(), 0
        try:
            for block in iter(lambda: response.read1(CHUNK), b""):
                out.write(block)
                bar.update(len(block))
                window_bytes += len(block)
                if time.monotonic() - window_start > STALL_SECONDS:
                    if window_bytes < STALL_BYTES:
                        raise _Transient(
                            f"the download from {host} stalled ({window_bytes:,} bytes in {STALL_SECONDS:g} s)"
                        )
                    window_start, window_bytes = time.monotonic(), 0
        except (OSError, http.client.HTTPException) as error:
            raise _Transient(f"connection to {host} broke off ({error})") from None
