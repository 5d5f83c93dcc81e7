"""Temperature scaling, the expected calibration error, coverage-risk, and how an unsure answer is told."""

import argparse

import numpy as np
import pytest
import torch

from pets.inference.answers import answer_line, answer_record, min_confidence
from pets.inference.calibration import (
    calibration_report,
    calibration_sets,
    coverage_risk,
    expected_calibration_error,
    fit_temperature,
    scaled,
    why_not_fitted,
)


def sampled(temperature, n=6000, classes=10, seed=0):
    """Logits, and labels drawn from softmax(logits / temperature): the temperature that calibrates them is known."""
    generator = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(n, classes, generator=generator)
    labels = torch.multinomial((logits / temperature).softmax(1), 1, generator=generator).squeeze(1)
    return logits.log_softmax(1).numpy(), labels.numpy()


@pytest.mark.parametrize("true_temperature", [0.7, 2.5])
def test_the_fitted_temperature_is_the_one_the_labels_were_drawn_with(true_temperature):
    log_probs, labels = sampled(true_temperature)
    assert fit_temperature(log_probs, labels) == pytest.approx(true_temperature, rel=0.06)


def test_on_held_out_images_the_temperature_lowers_ece_and_nll_of_an_over_confident_model():
    log_probs, labels = sampled(2.5, n=8000)  # the logits are 2.5x too sharp: over-confident
    sets = calibration_sets(has_test=False)
    fit, measure = sets["fit"][1], sets["measure"][1]
    temperature = fit_temperature(log_probs[fit], labels[fit])
    report = calibration_report(log_probs[measure], labels[measure], temperature)
    assert report["ece_before"] > 0.1 and report["ece_after"] < 0.03, report
    assert report["nll_after"] < report["nll_before"]


def test_too_few_images_or_none_wrong_keep_the_softmax_as_trained():
    log_probs, labels = sampled(2.5, n=40)
    assert fit_temperature(log_probs, labels) == 1.0
    assert why_not_fitted(log_probs, labels) == "40 images are too few to fit a temperature (at least 50)"
    log_probs, _ = sampled(1.0, n=200)
    right = log_probs.argmax(1)  # every label the model's choice: the NLL would fall as T goes to 0
    assert fit_temperature(log_probs, right) == 1.0
    assert why_not_fitted(log_probs, right) == "the model is right on all 200 images: no mistake to calibrate against"
    assert why_not_fitted(*sampled(2.5, n=200)) is None


def test_the_temperature_changes_no_prediction():
    log_probs, _ = sampled(1.0, n=500)
    for temperature in (0.3, 1.0, 4.0):
        assert np.array_equal(scaled(log_probs, temperature).argmax(1), log_probs.argmax(1))


def test_fit_and_measure_sets_are_disjoint_halves_of_valid_or_valid_and_test():
    sets = calibration_sets(has_test=False)
    positions = np.arange(11)
    fit, measure = set(positions[sets["fit"][1]]), set(positions[sets["measure"][1]])
    assert sets["fit"][0] == sets["measure"][0] == "valid" and not fit & measure and fit | measure == set(positions)
    assert calibration_sets(has_test=True) == {"fit": ("valid", slice(None)), "measure": ("test", slice(None))}


def test_expected_calibration_error_by_hand():
    # four images at confidence 0.9, two of them right: one bin, |0.5 - 0.9| = 0.4
    probs = np.array([[0.9, 0.1]] * 4)
    assert expected_calibration_error(probs, np.array([0, 0, 1, 1])) == pytest.approx(0.4)
    # two bins: 0.6 confident and right half the time (gap 0.1), 1.0 and always right (gap 0): weighted 2/4 x 0.1
    probs = np.array([[0.6, 0.4], [0.6, 0.4], [1.0, 0.0], [1.0, 0.0]])
    assert expected_calibration_error(probs, np.array([0, 1, 0, 0])) == pytest.approx(0.05)


def test_coverage_risk_counts_the_answered_images_and_their_errors():
    probs = np.array([[0.95, 0.05], [0.85, 0.15], [0.7, 0.3], [0.55, 0.45]])
    labels = np.array([0, 1, 0, 1])  # the 0.85 and the 0.55 are wrong
    rows = {row["threshold"]: row for row in coverage_risk(probs, labels, (0.5, 0.6, 0.8, 0.9, 0.99))}
    assert rows[0.5] == {"threshold": 0.5, "coverage": 1.0, "error_rate": 0.5}
    assert rows[0.6] == {"threshold": 0.6, "coverage": 0.75, "error_rate": pytest.approx(1 / 3, abs=1e-6)}
    assert rows[0.8] == {"threshold": 0.8, "coverage": 0.5, "error_rate": 0.5}
    assert rows[0.9] == {"threshold": 0.9, "coverage": 0.25, "error_rate": 0.0}
    assert rows[0.99] == {"threshold": 0.99, "coverage": 0.0, "error_rate": None}


def test_below_the_threshold_the_answer_is_unsure_with_the_classes_still_listed():
    top = [("chelsea", 0.61), ("coffee", 0.2)]
    assert answer_line("a.jpg", top, 0.8) == "a.jpg\tunsure\tchelsea 0.610, coffee 0.200"
    assert answer_line("a.jpg", top, 0.6) == "a.jpg\tchelsea 0.610, coffee 0.200"
    assert answer_line("a.jpg", top) == "a.jpg\tchelsea 0.610, coffee 0.200"
    assert answer_record("a.jpg", top, 0.8)["unsure"] is True
    assert answer_record("a.jpg", top, None)["predictions"][0] == {"class": "chelsea", "probability": 0.61}


@pytest.mark.parametrize("value", ["0", "-0.5", "1.01", "80", "high", "nan"])
def test_a_min_confidence_outside_0_to_1_is_refused_in_one_line(value):
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        min_confidence(value)
    assert "\n" not in str(refused.value) and "(0, 1]" in str(refused.value)


def test_min_confidence_takes_a_probability():
    assert min_confidence("1") == 1.0 and min_confidence("0.8") == 0.8


@pytest.mark.parametrize("valid", [1, 2, 3])
def test_a_validation_split_of_one_image_up_gives_metrics_and_says_what_it_cannot_measure(tmp_path, valid):
    """One validation image fits the temperature (the even half) and leaves none to measure it on (the odd half)."""
    from pets.report.calibration import calibration_metrics
    from pets.report.model_card import calibration_lines

    log_probs, labels = sampled(1.0, n=valid, classes=3)
    report = calibration_metrics({"valid": (log_probs, labels)}, 1.0, reliability_png=tmp_path / "reliability.png",
                                 coverage_tsv=tmp_path / "coverage_risk.tsv")  # fmt: skip
    assert (tmp_path / "reliability.png").stat().st_size > 1000 and (tmp_path / "coverage_risk.tsv").exists()
    assert "not_fitted" in report  # too few images to fit
    if valid == 1:
        assert (
            report["not_measured"] == "no image is left to measure it on (valid (even positions), 1 images fitted it)"
        )
        assert report["ece_before"] is None and report["measured_on"] == "valid (odd positions), 0 images"
        assert calibration_lines(report)[0].endswith("calibration not measured: " + report["not_measured"] + ".")
    else:
        assert "not_measured" not in report and 0 <= report["ece_after"] <= 1
        assert "measured on valid (odd positions)" in calibration_lines(report)[0]
