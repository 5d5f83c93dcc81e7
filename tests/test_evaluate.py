import functools

import numpy as np
import torch

from pets.data.augment import tta_views, valid_view
from pets.data.cache import cached_pixels
from pets.data.loader import CachedSplit
from pets.inference.forward import predict_probs
from pets.report.metrics import most_confused, per_class_table, summarize, top_losses
from tests.helpers import CPU, DEFAULT_AUGMENT, classifier_on

CLASSES = ["cat", "dog", "fox"]


def pixels_of(cache, split="valid"):
    return functools.partial(cached_pixels, cache, split)


def test_summary_counts_errors_top5_and_loss():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1], [0.2, 0.2, 0.6]])
    summary = summarize(probs, [0, 1, 1, 2])
    assert summary["error_rate"] == 0.5 and summary["accuracy"] == 0.5 and summary["count"] == 4
    assert "top5_accuracy" not in summary  # with 5 classes or fewer it would always be 1
    last, first = [0.0, 0.3, 0.25, 0.2, 0.15, 0.1], [0.3, 0.0, 0.25, 0.2, 0.15, 0.1]  # class 0 out of, in the top 5
    assert summarize(np.array([last] * 5 + [first] * 2), [0] * 7)["top5_accuracy"] == round(2 / 7, 6)
    expected_loss = -torch.log(torch.tensor([0.7, 0.3, 0.4, 0.6])).mean().item()
    assert abs(summary["loss"] - expected_loss) < 1e-5
    assert top_losses(probs, [0, 1, 1, 2], 2) == [1, 2]


def test_most_confused_and_per_class_table():
    labels = [0, 0, 0, 1, 1, 2, 2, 2]
    predicted = np.array([1, 1, 0, 1, 2, 1, 2, 1])
    assert most_confused(predicted, labels, CLASSES, min_count=2) == [
        {"actual": "cat", "predicted": "dog", "count": 2},
        {"actual": "fox", "predicted": "dog", "count": 2},
    ]
    rows = {r["class"]: r for r in per_class_table(predicted, labels, CLASSES)}
    assert rows["cat"] == {"class": "cat", "count": 3, "accuracy": round(1 / 3, 4), "most_confused_with": "dog"}
    assert rows["dog"]["accuracy"] == 0.5 and rows["dog"]["most_confused_with"] == "fox"


def test_tta_views_with_zero_augmentation_are_the_plain_view():
    batch = torch.randint(0, 255, (3, 20, 20, 3), dtype=torch.uint8)
    views = tta_views(batch, 16, flip=False, zoom=1.0)
    assert all(torch.equal(view, valid_view(batch, 16)) for view in views)
    flipped = tta_views(batch, 16)
    assert len(flipped) == 4 and torch.equal(flipped[2], flipped[0].flip(-1))


def test_tta_predictions_are_probabilities_of_the_right_shape(colour_cache):
    split = CachedSplit(colour_cache, "valid")
    classifier = classifier_on(colour_cache)
    plain = predict_probs(classifier, split, CPU)
    tta = predict_probs(classifier, split, CPU, tta=True)
    assert plain.shape == tta.shape == (len(split), 2)
    assert torch.allclose(tta.sum(1), torch.ones(len(split)))
    assert not torch.allclose(plain, tta)


def test_no_top_losses_asked_for_gives_a_picture_that_says_so(colour_cache, tmp_path):
    from PIL import Image

    from pets.report.interpret import write_interpretation

    split = CachedSplit(colour_cache, "valid")
    probs = np.full((len(split), 2), 0.5)
    write_interpretation(probs, split.labels.tolist(), ["blue", "red"], pixels_of(colour_cache), tmp_path, 0)
    with Image.open(tmp_path / "top_losses.png") as picture:
        assert picture.format == "PNG"
    assert (tmp_path / "confusion.json").is_file()


def test_top_losses_mark_each_image_right_or_wrong_and_the_pictures_say_what_they_show(
    colour_cache, tmp_path, monkeypatch
):
    from pets.report import batches, interpret

    drawn = []
    monkeypatch.setattr(interpret, "image_grid", lambda *a, **k: drawn.append((a, k)))
    monkeypatch.setattr(batches, "image_grid", lambda *a, **k: drawn.append((a, k)))
    split = CachedSplit(colour_cache, "valid")  # every image red (class 1)
    probs = np.array([[0.9, 0.1], [0.4, 0.6]] + [[0.1, 0.9]] * (len(split) - 2))
    interpret.write_interpretation(probs, split.labels.tolist(), ["blue", "red"], pixels_of(colour_cache), tmp_path, 2)
    (images, titles, _), options = drawn.pop()
    assert titles[0].startswith("WRONG: blue / red") and titles[1].startswith("right: red / red")
    assert options["colours"] == ["red", "green"] and "WRONG in red" in options["heading"]
    assert np.array_equal(images, split[[0, 1]][0].numpy())  # the two worst images' cached pixels
    batches.show_batch(split, 16, DEFAULT_AUGMENT, ["blue", "red"], tmp_path / "a.png", n=2)
    batches.show_batch(split, 16, None, ["blue", "red"], tmp_path / "b.png", n=2)
    assert drawn[0][1]["heading"].startswith("training images as the model sees them: augmented")
    assert drawn[1][1]["heading"].startswith("validation images as the model sees them")


def test_labels_with_a_comma_tab_or_quote_keep_per_class_tsv_four_columns(colour_cache, tmp_path):
    import csv

    from pets.report.interpret import write_interpretation

    split = CachedSplit(colour_cache, "valid")
    classes = ['blue, "navy"', "red\tcrimson"]  # labels come from file and folder names
    write_interpretation(np.full((len(split), 2), 0.5), split.labels.tolist(), classes, pixels_of(colour_cache),
                         tmp_path, 0)  # fmt: skip
    with open(tmp_path / "per_class.tsv", newline="") as table:
        rows = list(csv.reader(table, delimiter="\t"))
    assert [len(row) for row in rows] == [4, 4, 4] and [row[0] for row in rows[1:]] == classes
