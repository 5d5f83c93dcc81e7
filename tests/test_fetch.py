import hashlib
import shutil
import socket

import pytest

from pets.data.fetch import Unreachable, download_path, fetch
from pets.data.recipes import prepare_dataset
from pets.errors import PetsError
from tests.httpserver import FileServer

BODY = bytes(range(256)) * 4096  # 1 MiB
SHA = hashlib.sha256(BODY).hexdigest()


def test_http_download_verifies_and_lands_under_its_name(tmp_path):
    with FileServer({"/a/pets.tgz": BODY}) as server:
        path = fetch(f"{server.url}/a/pets.tgz", tmp_path, sha256=SHA, size=len(BODY))
    assert path == download_path(f"{server.url}/a/pets.tgz", tmp_path, SHA, len(BODY)) and path.name == "pets.tgz"
    assert path.read_bytes() == BODY
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["pets.tgz"]  # no .part left


def test_a_verified_download_is_not_fetched_again(tmp_path):
    with FileServer({"/pets.tgz": BODY}) as server:
        fetch(f"{server.url}/pets.tgz", tmp_path, sha256=SHA)
        fetch(f"{server.url}/pets.tgz", tmp_path, sha256=SHA)
    assert len(server.requests) == 1


def test_local_path_and_file_url_are_verified_in_place(tmp_path):
    archive = tmp_path / "local.tar"
    archive.write_bytes(BODY)
    assert fetch(str(archive), tmp_path / "downloads", sha256=SHA) == archive
    assert fetch(archive.as_uri(), tmp_path / "downloads", size=len(BODY)) == archive
    with pytest.raises(PetsError, match="no such file"):
        fetch(str(tmp_path / "missing.tar"), tmp_path)


def test_checksum_mismatch_names_the_file_and_both_hashes_and_keeps_nothing(tmp_path):
    wrong = "0" * 64
    with FileServer({"/pets.tgz": BODY}) as server, pytest.raises(PetsError) as error:
        fetch(f"{server.url}/pets.tgz", tmp_path, sha256=wrong)
    message = str(error.value)
    assert "pets.tgz" in message and wrong in message and SHA in message
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_wrong_size_is_refused(tmp_path):
    with FileServer({"/pets.tgz": BODY}) as server, pytest.raises(PetsError, match="expected 10$"):
        fetch(f"{server.url}/pets.tgz", tmp_path, size=10)


def partial_file(url, downloads, data, sha256=None):
    """A partial download of `url`, as an interrupted run leaves it."""
    path = download_path(url, downloads, sha256)
    path.parent.mkdir(parents=True)
    path.with_name(path.name + ".part").write_bytes(data)


def test_partial_download_resumes_with_a_range_request(tmp_path):
    with FileServer({"/pets.tgz": BODY}) as server:
        partial_file(f"{server.url}/pets.tgz", tmp_path, BODY[:1000], SHA)
        path = fetch(f"{server.url}/pets.tgz", tmp_path, sha256=SHA)
    assert server.requests == [("/pets.tgz", "bytes=1000-")]
    assert path.read_bytes() == BODY


def test_dropped_connection_is_retried_and_resumed(tmp_path, monkeypatch):
    monkeypatch.setattr("pets.data.fetch.time.sleep", lambda s: None)
    with FileServer({"/pets.tgz": BODY}) as server:
        server.drop_after = 300_000
        path = fetch(f"{server.url}/pets.tgz", tmp_path, sha256=SHA)
    assert path.read_bytes() == BODY
    assert server.requests[1] == ("/pets.tgz", "bytes=300000-")


def test_server_that_ignores_range_still_gives_a_correct_file(tmp_path):
    with FileServer({"/pets.tgz": BODY}) as server:
        partial_file(f"{server.url}/pets.tgz", tmp_path, b"x" * 1000, SHA)
        server.ignore_range = True
        path = fetch(f"{server.url}/pets.tgz", tmp_path, sha256=SHA)
    assert path.read_bytes() == BODY


def test_not_found_is_a_clear_error(tmp_path):
    with FileServer({}) as server, pytest.raises(PetsError, match="404"):
        fetch(f"{server.url}/missing.tgz", tmp_path)


def test_a_redirect_loop_is_one_line_naming_the_url(tmp_path):
    with FileServer({}) as server:
        server.redirects = {"/a.tgz": "/b.tgz", "/b.tgz": "/a.tgz"}
        with pytest.raises(PetsError) as error:
            fetch(f"{server.url}/a.tgz", tmp_path)
    assert (
        str(error.value) == f"{server.url}/a.tgz: the server redirects in a loop (or more than 10 times); check the URL"
    )


def test_another_url_with_the_same_file_name_is_fetched_not_reused(tmp_path):
    other = BODY[::-1]
    with FileServer({"/a/pets.tgz": BODY, "/b/pets.tgz": other}) as server:
        first = fetch(f"{server.url}/a/pets.tgz", tmp_path)
        second = fetch(f"{server.url}/b/pets.tgz", tmp_path)
        assert fetch(f"{server.url}/a/pets.tgz", tmp_path) == first  # each kept under its own source
    assert first.read_bytes() == BODY and second.read_bytes() == other
    assert [path for path, _ in server.requests] == ["/a/pets.tgz", "/b/pets.tgz"]


def test_a_206_for_another_range_starts_the_download_over(tmp_path, monkeypatch):
    monkeypatch.setattr("pets.data.fetch.time.sleep", lambda s: None)
    with FileServer({"/pets.tgz": BODY}) as server:
        partial_file(f"{server.url}/pets.tgz", tmp_path, BODY[:1000], SHA)
        server.range_offset = 500  # answers bytes 1500- to a request for 1000-
        path = fetch(f"{server.url}/pets.tgz", tmp_path, sha256=SHA)
    assert path.read_bytes() == BODY
    assert server.requests == [("/pets.tgz", "bytes=1000-"), ("/pets.tgz", None)]


def test_server_errors_are_retried_then_reported(tmp_path, monkeypatch):
    monkeypatch.setattr("pets.data.fetch.time.sleep", lambda s: None)
    with FileServer({"/pets.tgz": BODY}) as server, pytest.raises(PetsError, match="server error 500 after 3 attempts"):
        server.status = 500
        fetch(f"{server.url}/pets.tgz", tmp_path)
    assert len(server.requests) == 3


def test_html_page_instead_of_the_archive_is_refused(tmp_path):
    with FileServer({"/pets.tgz": b"<html>login</html>"}) as server, pytest.raises(PetsError, match="HTML page"):
        server.content_type = "text/html"
        fetch(f"{server.url}/pets.tgz", tmp_path)
    assert not (tmp_path / "pets.tgz").exists()


def test_unreachable_host_names_it_and_points_to_the_offline_quick_start(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(Unreachable, match=f"cannot reach 127.0.0.1 for http://127.0.0.1:{port}/pets.tgz"):
        fetch(f"http://127.0.0.1:{port}/pets.tgz", tmp_path)
    recipe = {"sources": [{"archives": [{"url": f"http://127.0.0.1:{port}/{name}"}]} for name in ("a.tgz", "b.tgz")]}
    with pytest.raises(PetsError) as error:
        prepare_dataset("pets", recipe, tmp_path / "raw", tmp_path)
    message = str(error.value)  # each source's own failure was printed as it failed: not repeated
    assert message.startswith("no source of dataset pets could be fetched: no network (cannot reach 127.0.0.1);")
    assert "set their url to its path (datasets.pets in params.yaml)" in message and message.endswith("make photos")
    assert len(message) < 250


def test_each_source_says_what_it_fetches_reuses_or_uses_and_a_failure_names_the_next(tmp_path, capsys):
    (tmp_path / "local.tar").write_bytes(BODY)
    with FileServer({"/pets.tgz": BODY}) as server:
        fetch(f"{server.url}/pets.tgz", tmp_path / "downloads")
        fetch(f"{server.url}/pets.tgz", tmp_path / "downloads")
    fetch(str(tmp_path / "local.tar"), tmp_path / "downloads")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"download: fetching {server.url}/pets.tgz"
    assert lines[1].startswith("download: reusing ") and lines[1].endswith(
        f"fetched earlier from {server.url}/pets.tgz"
    )
    assert lines[2] == f"download: using {tmp_path / 'local.tar'}"


def test_a_download_that_trickles_is_ended_as_stalled(tmp_path, monkeypatch):
    monkeypatch.setattr("pets.data.fetch.STALL_SECONDS", 0.2)
    monkeypatch.setattr("pets.data.fetch.STALL_BYTES", 10 * len(BODY))
    with (
        FileServer({"/pets.tgz": BODY}) as server,
        pytest.raises(
            PetsError,
            match=r"stalled \(.* bytes in 0.2 s\) "
            r"after 2 attempts",
        ),
    ):
        server.seconds_per_mib = 2.0
        fetch(f"{server.url}/pets.tgz", tmp_path, retries=2)


def test_server_that_never_answers_times_out(tmp_path, monkeypatch):
    monkeypatch.setattr("pets.data.fetch.time.sleep", lambda s: None)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with pytest.raises(PetsError, match="no answer"):
            fetch(f"http://127.0.0.1:{silent.getsockname()[1]}/pets.tgz", tmp_path, retries=2, timeout=0.5)


def test_too_little_disk_space_stops_before_downloading_with_the_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(
        "pets.data.fetch.shutil.disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000)
    )
    with (
        FileServer({"/pets.tgz": BODY}) as server,
        pytest.raises(PetsError, match="needs 1,048,576 bytes but only 1,000 are free"),
    ):
        fetch(f"{server.url}/pets.tgz", tmp_path)
    assert not (tmp_path / "pets.tgz").exists()
