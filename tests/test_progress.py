"""Progress off a terminal: a line every PETS_PROGRESS_SECONDS with the rate and ETA, in images for batches."""

import torch

from pets.progress import Progress, image_batches


class FakeBatches(list):
    images = 10  # what pets.data.loader.Batches says one epoch yields


def lines(capsys):
    return capsys.readouterr().err.splitlines()


def test_off_a_terminal_it_writes_whole_lines_with_the_rate_and_what_is_left(monkeypatch, capsys):
    monkeypatch.setenv("PETS_PROGRESS_SECONDS", "0")
    batches = FakeBatches([(torch.zeros(4), torch.zeros(4)), (torch.zeros(4), torch.zeros(4)), (None, torch.zeros(2))])
    assert len(list(image_batches(batches, "epoch 1 (frozen)"))) == 3
    shown = lines(capsys)
    assert [line.split(" [")[0] for line in shown] == [
        "epoch 1 (frozen): 4/10 img",
        "epoch 1 (frozen): 8/10 img",
        "epoch 1 (frozen): 10/10 img",  # and no closing line repeating it
    ]
    assert all("img/s]" in line and "<" in line and "\r" not in line for line in shown)


def test_work_that_showed_a_line_ends_with_one(monkeypatch, capsys):
    monkeypatch.setenv("PETS_PROGRESS_SECONDS", "0")
    with Progress(total=5, desc="cache train", unit=" img") as bar:
        bar.update(2)
        bar.every = 30  # the next update comes sooner than a line is due: only the closing line shows it
        bar.update(3)
    assert [line.split(" [")[0] for line in lines(capsys)] == ["cache train: 2/5 img", "cache train: 5/5 img"]


def test_short_work_says_nothing_and_off_or_another_rank_says_nothing_at_all(monkeypatch, capsys):
    monkeypatch.setenv("PETS_PROGRESS_SECONDS", "30")
    with Progress(total=3, desc="cache train", unit=" img") as bar:
        bar.update(3)
    assert lines(capsys) == []
    for setting, rank in (("off", "0"), ("0", "1")):
        monkeypatch.setenv("PETS_PROGRESS_SECONDS", setting)
        monkeypatch.setenv("RANK", rank)
        list(Progress(range(3), desc="x", unit=" img"))
        assert lines(capsys) == [], (setting, rank)
