"""`python -m pets predict`: bad arguments and odd inputs end with one line, never a traceback."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pets.__main__ import main
from pets.train.resume import write_state
from tests.helpers import save_model


@pytest.fixture
def checkpoint(tmp_path):
    save_model(tmp_path / "model.pt", "resnet18", ["cat", "dog"], 16)
    return tmp_path / "model.pt"


def run(*argv):
    """(exit status, stderr's last line) of the command line; 0 when it returned."""
    try:
        main(list(argv))
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1, str(stop.code)
    return 0, ""


@pytest.mark.parametrize(
    "option, said",
    [(["--top", "-1"], "must be at least 1, not -1"), (["--batch-size", "0"], "must be at least 1, not 0"),
     (["--top", "abc"], "must be a whole number, not 'abc'")],
)  # fmt: skip
def test_counts_below_one_or_not_numbers_are_refused(checkpoint, tmp_path, option, said, capsys):
    assert run("predict", "--model", str(checkpoint), *option, str(tmp_path))[0] == 2
    assert said in capsys.readouterr().err


def test_a_folder_without_images_is_an_error_not_silence(checkpoint, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes/readme.txt").write_text("no pictures here")
    for folder in ("empty", "notes"):
        status, message = run("predict", "--model", str(checkpoint), str(tmp_path / folder))
        assert status == 1 and message.startswith("error: no images (by suffix: ") and folder in message


def test_a_file_name_with_a_newline_stays_on_one_line(checkpoint, tmp_path, capsys):
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "two\nlines.png")
    assert run("predict", "--model", str(checkpoint), str(tmp_path / "two\nlines.png"))[0] == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(repr(str(tmp_path / "two\nlines.png")) + "\t")


def test_a_checkpoint_of_an_unknown_arch_is_named(tmp_path):
    save_model(tmp_path / "odd.pt", "resnet18", ["cat", "dog"], 16)
    checkpoint = torch.load(tmp_path / "odd.pt", weights_only=True)
    torch.save({**checkpoint, "arch": "resnet_from_the_future"}, tmp_path / "odd.pt")
    status, message = run("predict", "--model", str(tmp_path / "odd.pt"), str(tmp_path))
    assert (
        status == 1 and f"{tmp_path / 'odd.pt'}: a model of an architecture this installation does not have" in message
    )


def test_a_folder_it_cannot_read_is_named_and_the_status_is_1(checkpoint, tmp_path, capsys, monkeypatch):
    for name in ("a/1.png", "b/2.png", "c/3.png"):
        (tmp_path / name).parent.mkdir()
        Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / name)
    real_scandir = os.scandir

    def refuse_b(path):  # as chmod 000 does for anyone but root (the tests may run as root)
        if str(path).endswith("/b"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", refuse_b)
    status, message = run("predict", "--model", str(checkpoint), str(tmp_path))
    err = capsys.readouterr()
    assert status == 1 and "0 of 2 input(s) could not be read as images and 1 folder(s) could not be read" in message
    assert f"{tmp_path / 'b'}: cannot read this folder (Permission denied)" in err.err
    assert len(err.out.splitlines()) == 2  # a/1.png and c/3.png are still predicted


def test_a_model_path_that_is_not_a_model_says_what_it_is(checkpoint, tmp_path):
    status, message = run("predict", "--model", str(tmp_path / "nope.pt"), str(tmp_path))
    assert (
        status == 1
        and message
        == f"error: {tmp_path / 'nope.pt'}: no such model (dvc repro trains models/model.pt; --model names another)"
    )
    state = torch.load(checkpoint, weights_only=True)
    del state["size"]
    torch.save(state, tmp_path / "no_size.pt")
    status, message = run("predict", "--model", str(tmp_path / "no_size.pt"), str(tmp_path))
    assert status == 1 and message == f"error: {tmp_path / 'no_size.pt'}: not a pets model (it has no size)"
    write_state(tmp_path / "resume.pt", {"model": state["state_dict"]})
    status, message = run("predict", "--model", str(tmp_path / "resume.pt"), str(tmp_path))
    assert status == 1 and "is the resume checkpoint of an unfinished training run, not a model" in message
    (tmp_path / "fifo").mkdir()
    os.mkfifo(tmp_path / "fifo/pipe")
    status, message = run("predict", "--model", str(checkpoint), str(tmp_path / "fifo/pipe"))
    assert status == 1 and message.endswith("pipe: not a file or folder of images (a device, FIFO or socket)")


def test_a_symlinked_subfolder_is_followed_as_training_follows_it_and_a_loop_ends(checkpoint, tmp_path, capsys):
    folder, elsewhere = tmp_path / "pictures", tmp_path / "elsewhere"
    for path in (folder / "real/a.png", elsewhere / "b.png"):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(path)
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)
    (folder / "real/loop").symlink_to(folder, target_is_directory=True)  # a link back up
    assert run("predict", "--model", str(checkpoint), str(folder))[0] == 0
    answered = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert sorted(Path(path).name for path in answered) == ["a.png", "b.png"]  # each image once
