"""Outputs are written under a temporary name and renamed; a folder that cannot be written is one line."""

import tempfile

import pytest

from pets.atomic import atomic_folder, write_json, write_text
from pets.errors import PetsError


def test_a_folder_that_cannot_be_written_is_one_line_naming_it(tmp_path, monkeypatch):
    def refuse(**options):  # what chmod -w, chattr +i or a read-only mount give (the tests may run as root)
        raise PermissionError(1, "Operation not permitted", options["dir"])

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    with pytest.raises(PetsError, match=r"metrics: cannot write index.json there \(Operation not permitted\); make"):
        write_json(tmp_path / "metrics/index.json", {"images": 1})


def test_written_in_full_or_not_at_all(tmp_path):
    write_json(tmp_path / "a.json", {"x": 1})
    assert (tmp_path / "a.json").read_text() == '{\n  "x": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary left beside it


def test_a_folder_where_a_file_is_to_be_written_is_refused_and_left_whole(tmp_path):
    """`compare --picture metrics` once removed metrics/ to write one PNG in its place."""
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/metrics.json").write_text("{}")
    with pytest.raises(PetsError, match=r"cannot write the file .*metrics: a folder is there \(it is left as it is\)"):
        write_text(tmp_path / "metrics", "a picture")
    assert (tmp_path / "metrics/metrics.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics"]  # no temporary left beside it


def test_a_path_inside_a_file_is_one_line(tmp_path):
    (tmp_path / "params.yaml").write_text("data: pets\n")
    with pytest.raises(PetsError, match=r"cannot write .*params.yaml/c.png: .*params.yaml is a file, not a folder"):
        write_text(tmp_path / "params.yaml/c.png", "a picture")
    assert (tmp_path / "params.yaml").read_text() == "data: pets\n"


def test_a_stages_own_output_folder_is_replaced_whole(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache/old.npy").write_bytes(b"old")
    with atomic_folder(tmp_path / "cache") as out:
        out.mkdir()
        (out / "new.npy").write_bytes(b"new")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["new.npy"]
