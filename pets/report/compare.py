"""Whether two runs differ beyond noise, image by image: a paired bootstrap of the error-rate difference over the
validation images, and the exact McNemar test on the images only one of the two gets right."""

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

from pets.config import layout
from pets.errors import PetsError
from pets.report.predictions import read_predictions
from pets.workspace.revisions import WORKSPACE, read_at

RESAMPLES, ALPHA = 10_000, 0.05


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    images: int
    errors_a: int
    errors_b: int
    fixed: int  # right in B, wrong in A
    broken: int  # right in A, wrong in B
    low: float  # the 95 % interval of error_rate(B) - error_rate(A)
    high: float
    p: float  # exact McNemar, two-sided

    @property
    def difference(self) -> float:
        return (self.errors_b - self.errors_a) / self.images

    def verdict(self) -> str:
        p = f"p = {self.p:.2g}"
        if self.p < ALPHA and self.fixed > self.broken:
            return f"{self.b} is better: {self.fixed} images fixed, {self.broken} broken, {p}"
        if self.p < ALPHA:
            return f"{self.b} is worse: {self.broken} images broken, {self.fixed} fixed, {p}"
        return f"no detectable difference: {p}; run more seeds (python -m pets compare --seeds)"

    def as_dict(self) -> dict:
        rates = {"error_rate_a": self.errors_a / self.images, "error_rate_b": self.errors_b / self.images}
        return {**asdict(self), **rates, "difference": self.difference, "verdict": self.verdict()}

    def lines(self) -> list[str]:
        rate_a, rate_b = self.errors_a / self.images, self.errors_b / self.images
        return [
            f"{self.a}: error_rate {rate_a:.4f} ({self.errors_a} of {self.images} validation images)",
            f"{self.b}: error_rate {rate_b:.4f} ({self.errors_b} of {self.images})",
            f"difference {self.difference:+.4f}, 95 % interval [{self.low:+.4f}, {self.high:+.4f}] "
            f"(paired bootstrap over images, {RESAMPLES:,} resamples)",
            f"McNemar: {self.fixed} images only {self.b} gets right, {self.broken} only {self.a}: p = {self.p:.2g}",
            self.verdict(),
        ]


def mcnemar_p(fixed: int, broken: int) -> float:
    """The exact McNemar test: under no difference each discordant image is a fair coin's toss."""
    return 1.0 if fixed + broken == 0 else binomtest(fixed, fixed + broken, 0.5).pvalue


def bootstrap_interval(fixed: int, broken: int, images: int, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of the error-rate difference (B - A) over images resampled with replacement. An
    image counts only as fixed, broken or alike, so a resample's counts are one multinomial draw: the same
    bootstrap as drawing image indices, in 10,000 draws of three numbers instead of 10,000 x `images`."""
    shares = [fixed / images, broken / images, 1 - (fixed + broken) / images]
    draws = np.random.default_rng(seed).multinomial(images, shares, size=RESAMPLES)
    low, high = np.percentile((draws[:, 1] - draws[:, 0]) / images, [2.5, 97.5])
    return float(low), float(high)


def by_file(rows: list[dict], split: str) -> dict[str, dict]:
    return {row["file"]: row for row in rows if row["split"] == split}


def paired(a_rows: list[dict], b_rows: list[dict], *, a: str, b: str, split: str = "valid") -> Comparison:
    """Compare two runs' predictions of the same images; refuse runs evaluated on other images or labels."""
    first, second = by_file(a_rows, split), by_file(b_rows, split)
    only_a, only_b = first.keys() - second.keys(), second.keys() - first.keys()
    relabelled = [f for f in first.keys() & second.keys() if first[f]["label"] != second[f]["label"]]
    if only_a or only_b or relabelled:
        raise PetsError(
            f"{a} and {b} were evaluated on other {split} images ({len(only_a)} only in {a}, {len(only_b)} only in "
            f"{b}, {len(relabelled)} with another label): a paired comparison needs the same images and labels"
        )
    if not first:
        raise PetsError(f"{a} and {b} have no {split} images to compare")
    right_a = np.array([first[f]["predicted"] == first[f]["label"] for f in sorted(first)])
    right_b = np.array([second[f]["predicted"] == second[f]["label"] for f in sorted(first)])
    fixed, broken = int((right_b & ~right_a).sum()), int((right_a & ~right_b).sum())
    low, high = bootstrap_interval(fixed, broken, len(first))
    return Comparison(
        a=a,
        b=b,
        images=len(first),
        errors_a=int((~right_a).sum()),
        errors_b=int((~right_b).sum()),
        fixed=fixed,
        broken=broken,
        low=low,
        high=high,
        p=mcnemar_p(fixed, broken),
    )


def changed(a_rows: list[dict], b_rows: list[dict], split: str = "valid") -> list[tuple[str, dict, dict]]:
    """("fixed" | "broken", A's row, B's row) of each image that one run gets right and the other wrong."""
    first, second = by_file(a_rows, split), by_file(b_rows, split)
    found = []
    for file in sorted(first):
        right_a = first[file]["predicted"] == first[file]["label"]
        right_b = second[file]["predicted"] == second[file]["label"]
        if right_a != right_b:
            found.append(("fixed" if right_b else "broken", first[file], second[file]))
    return found


def compare_revisions(revisions: list[str], picture: Path | None) -> tuple[Comparison, str | None]:
    """Compare the runs of two revisions (default HEAD and the workspace; one given: it against the workspace) image
    by image; draw the images that changed into `picture` (None: no picture). Returns the comparison and the line
    that says what was drawn, if anything changed."""
    if len(revisions) > 2:
        raise PetsError(f"compare takes two revisions at most (A B), not {len(revisions)}: {' '.join(revisions)}")
    a, b = revisions + ["HEAD", WORKSPACE][len(revisions) :]
    rows = [read_predictions(read_at(rev, layout.PREDICTIONS), f"{rev}:{layout.PREDICTIONS}") for rev in (a, b)]
    comparison = paired(*rows, a=a, b=b)
    if picture is None or not (comparison.fixed or comparison.broken):
        return comparison, None
    from pets.report.pictures import changed_images  # noqa: PLC0415 - matplotlib, only when there is a picture

    drawn = changed_images(changed(*rows), layout.RAW, picture, a=a, b=b)
    where = f"{drawn} of them in {picture}" if drawn else f"none drawn: their files are not in {layout.RAW}"
    return comparison, f"images that changed: {comparison.fixed + comparison.broken}, {where}"
