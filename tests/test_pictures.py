import numpy as np
from PIL import Image

from pets.report.pictures import training_curves


def history(last_error):
    return [
        {
            "epoch": epoch,
            "phase": "frozen" if epoch <= 3 else "unfrozen",
            "train_loss": 2 / epoch,
            "valid_loss": 1.5 / epoch,
            "error_rate": 0.5 / epoch if epoch < 5 else last_error,
        }
        for epoch in range(1, 6)
    ]


def test_training_curves_are_a_png_that_follows_the_log(tmp_path):
    training_curves(history(0.1), tmp_path / "a.png")
    training_curves(history(0.4), tmp_path / "b.png")
    with Image.open(tmp_path / "a.png") as a, Image.open(tmp_path / "b.png") as b:
        assert a.format == b.format == "PNG" and a.size == b.size == (800, 320)
        changed = np.argwhere((np.asarray(a.convert("RGB")) != np.asarray(b.convert("RGB"))).any(2))
    assert len(changed) and changed[:, 1].min() > 400  # only the right panel, the error rate's, differs
