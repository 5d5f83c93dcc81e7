import hashlib
import shutil
import socket

import pytest

from pets.errors import PetsError
from pets.fetch import fetch
from tests.httpserver import FileServer

BODY = bytes(range(256)) * 4096  # 1 MiB
SHA = hashlib.sha256(BODY).hexdigest()


def test_http_download_verifies_and_lands_under_its_name(tmp_path):
    with FileServer({"/a/pets.tgz": BODY}) as server:
        path = fetch(f"{server.url}/a/pets.tgz", tmp_path, sha256=SHA, size=len(BODY))
    assert path == tmp_path / "pets.tgz"
    assert path.read_bytes() == BODY
    assert not (tmp_path / "pets.tgz.part").exists()


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
    assert list(tmp_path.iterdir()) == []


def test_wrong_size_is_refused(tmp_path):
    with FileServer({"/pets.tgz": BODY}) as server, pytest.raises(PetsError, match="expected 10$"):
        fetch(f"{server.url}/pets.tgz", tmp_path, size=10)


def test_partial_download_resumes_with_a_range_request(tmp_path):
    (tmp_path / "pets.tgz.part").write_bytes(BODY[:1000])
    with FileServer({"/pets.tgz": BODY}) as server:
        path = fetch(f"{server.url}/pets.tgz", tmp_path, sha256=SHA)
    assert server.requests == [("/pets.tgz", "bytes=1000-")]
    assert path.read_bytes() == BODY


def test_dropped_connection_is_retried_and_resumed(tmp_path, monkeypatch):
    monkeypatch.setattr("pets.fetch.time.sleep", lambda s: None)
    with FileServer({"/pets.tgz": BODY}) as server:
        server.drop_after = 300_000
        path = fetch(f"{server.url}/pets.tgz", tmp_path, sha256=SHA)
    assert path.read_bytes() == BODY
    assert server.requests[1] == ("/pets.tgz", "bytes=300000-")


def test_server_that_ignores_range_still_gives_a_correct_file(tmp_path):
    (tmp_path / "pets.tgz.part").write_bytes(b"x" * 1000)
    with FileServer({"/pets.tgz": BODY}) as server:
        server.ignore_range = True
        path = fetch(f"{server.url}/pets.tgz", tmp_path, sha256=SHA)
    assert path.read_bytes() == BODY


def test_not_found_is_a_clear_error(tmp_path):
    with FileServer({}) as server, pytest.raises(PetsError, match="404"):
        fetch(f"{server.url}/missing.tgz", tmp_path)


def test_server_errors_are_retried_then_reported(tmp_path, monkeypatch):
    monkeypatch.setattr("pets.fetch.time.sleep", lambda s: None)
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
    with pytest.raises(PetsError) as error:
        fetch(f"http://127.0.0.1:{port}/pets.tgz", tmp_path)
    assert "cannot reach 127.0.0.1" in str(error.value) and "make digits" in str(error.value)


def test_server_that_never_answers_times_out(tmp_path, monkeypatch):
    monkeypatch.setattr("pets.fetch.time.sleep", lambda s: None)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with pytest.raises(PetsError, match="no answer"):
            fetch(f"http://127.0.0.1:{silent.getsockname()[1]}/pets.tgz", tmp_path, retries=2, timeout=0.5)


def test_too_little_disk_space_stops_before_downloading_with_the_figures(tmp_path, monkeypatch):
    monkeypatch.setattr("pets.fetch.shutil.disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    with FileServer({"/pets.tgz": BODY}) as server, pytest.raises(PetsError, match="needs 1,048,576 bytes but only 1,000 are free"):
        fetch(f"{server.url}/pets.tgz", tmp_path)
    assert not (tmp_path / "pets.tgz").exists()
