"""models/MODEL_CARD.md from what a run knows: the weakest classes, the splits, the calibration, the limits."""

from types import SimpleNamespace

from pets.model.classifier import Classifier
from pets.report.model_card import model_card, per_class_rows
from tests.helpers import PARAMS, preprocess

# what the card reads of a model: its arch's name, head, classes, preprocessing and temperature (no weights)
CLASSIFIER = Classifier(None, SimpleNamespace(name="resnet34"), "linear", [f"breed{i}" for i in range(8)],
                        preprocess(224, resolution=288), temperature=1.25)  # fmt: skip
SPLIT = {"error_rate": 0.05, "accuracy": 0.95, "loss": 0.2, "count": 100}
CALIBRATION = {"temperature": 1.25, "bins": 15, "ece_before": 0.08, "ece_after": 0.02, "nll_before": 0.3,
               "nll_after": 0.2, "fitted_on": "valid, 100 images", "measured_on": "test, 200 images",
               "coverage_risk": [{"threshold": 0.8, "coverage": 0.9, "error_rate": 0.01},
                                 {"threshold": 0.95, "coverage": 0.0, "error_rate": None}]}  # fmt: skip
TSV = "class\tcount\taccuracy\tmost_confused_with\n" + "".join(
    f"breed{i}\t{10 if i else 0}\t{'' if i == 0 else 1 - i / 20}\t\n" for i in range(8)
)
PERFECT = "class\tcount\taccuracy\tmost_confused_with\nbreed0\t10\t1.0\t\nbreed1\t10\t0.9\tbreed0\n"


def card(table=TSV, calibration=CALIBRATION):
    metrics = {"train": SPLIT, "valid": SPLIT, "test": {**SPLIT, "count": 200}, "calibration": calibration}
    return model_card(params=PARAMS, classifier=CLASSIFIER, metrics=metrics, per_class=per_class_rows(table),
                      export={"images": 100, "of": 100, "max_abs_difference": 2e-6})  # fmt: skip


def test_the_card_names_the_five_weakest_classes_leaving_out_one_without_validation_images():
    weakest = next(line for line in card().splitlines() if line.startswith("Weakest classes"))
    assert weakest == ("Weakest classes (validation accuracy): breed7 65.0 %, breed6 70.0 %, breed5 75.0 %, "
                       "breed4 80.0 %, breed3 85.0 %.")  # fmt: skip


def test_classes_right_on_every_image_are_not_called_weak():
    assert "Weakest classes (validation accuracy): breed1 90.0 %." in card(PERFECT)
    assert "Every class is right on every validation image." in card(PERFECT.replace("0.9\tbreed0", "1.0\t"))


def test_the_card_has_every_split_the_calibration_and_how_to_use_and_not_use_it():
    text = card()
    assert text.startswith("# Model card: resnet34 on pets\n")
    assert "| test | 200 | 5.0 % | 95.0 % | 0.2000 |" in text and "Images: 100 train, 100 valid, 200 test." in text
    assert "fitted on valid, 100 images; measured on test, 200 images" in text and "0.080 before, 0.020 after" in text
    assert "0.8 or more: 90.0 % of images answered, 1.0 % of those wrong" in text
    assert "python -m pets predict --model models/model.onnx" in text and "## Limits" in text
    assert "It knows only these 8 classes" in text


def test_a_temperature_not_fitted_is_said_so_with_the_reason():
    reason = "6 images are too few to fit a temperature (at least 50)"
    text = card(calibration={**CALIBRATION, "temperature": 1.0, "not_fitted": reason})
    assert f"- No temperature (1, the softmax as trained): {reason}; measured on test, 200 images" in text
    assert "fitted on valid" not in text
