"""Outputs are written under a temporary name and renamed; a folder that cannot be written is one line."""

import tempfile

import pytest

from pets.atomic import write_json
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
