"""python -m pets lr_find: what it cannot do is said before the sweep, not after it."""

import pytest

from pets.__main__ import main


def test_an_out_that_is_a_file_is_refused_before_the_sweep(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no params.yaml, no cache: the sweep could not even start
    (tmp_path / "params.yaml").write_text("data: pets\n")
    with pytest.raises(SystemExit, match=r"error: --out params.yaml is a file: name a folder for lr_find.tsv"):
        main(["lr_find", "--out", "params.yaml"])


def test_too_few_iterations_to_sweep_are_refused_with_the_least(capsys):
    with pytest.raises(SystemExit):
        main(["lr_find", "--iterations", "2"])
    assert "argument --iterations: must be at least 10, not 2" in capsys.readouterr().err
