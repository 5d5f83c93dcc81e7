"""The data check of the cache stage: which images are the same picture twice (byte for byte, or nearly: re-encoded,
resized), within a split and across splits, and how many images each class has. A validation image that is a copy of
a training one is a leak that flatters error_rate; `index.duplicates: drop_across_splits` leaves it out.

The hashes come from what the cache stage has in hand for each image anyway (its bytes, its decoded pixels), so the
check costs no second read or decode (bench/data_check.py)."""

import functools
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from pets.data.index import SPLITS  # in this order: a pair's later member is the one a drop removes
from pets.errors import PetsError

# Hash bits two images may differ in and still be one picture. Measured with a 64-bit pHash on the built-in photos
# (tests/test_data_check.py): a copy re-encoded at JPEG quality 40, or resized to a half or a third, differs in 0-2
# bits; crops of one photograph from parts no other crop shows differ in 14 or more (a dHash: 0-2 against 7).
NEAR_BITS = 6
HASH_SIDE = 32  # pHash reads a 32x32 grey image and keeps the signs of its 8x8 lowest frequencies
LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601, as Pillow's convert("L")
LISTED_PAIRS = 1000  # pairs written to data_check.json; the counts are of all of them


@functools.cache
def _low_dct(side: int) -> np.ndarray:
    """The 8 lowest-frequency rows of the (unscaled) DCT-II of `side` samples."""
    return np.cos(np.pi * np.arange(8)[:, None] * (2 * np.arange(side)[None, :] + 1) / (2 * side))


def pixel_hash(pixels: np.ndarray) -> str:
    """The 64-bit perceptual hash (pHash: the signs of a 32x32 grey image's 8x8 lowest DCT frequencies against their
    median, as the imagehash package computes it) of a square RGB uint8 image, in hex.

    Our own, not imagehash.phash, because the cache stage hashes every image as it decodes it: imagehash's Pillow
    resize and scipy DCT took 0.14 ms an image here, this point-sampled grey image and two small matrix products
    0.03 ms (decoding one Pets image takes 1.3 ms; bench/data_check.py measures the whole)."""
    step = max(1, pixels.shape[0] // HASH_SIDE)
    grey = pixels[step // 2 :: step, step // 2 :: step][:HASH_SIDE, :HASH_SIDE] @ LUMA
    dct = _low_dct(grey.shape[0])  # 32, or the image's own side below 32 px
    low = dct @ grey @ dct.T
    return f"{int(np.packbits(low.flatten() > np.median(low)).view('>u8')[0]):016x}"


def duplicate_pairs(entries: list[dict], near_bits: int = NEAR_BITS) -> list[dict]:
    """Pairs of images (dicts path, label, split, sha256, phash) with the same bytes (exact) or hashes within
    `near_bits` (near), exact ones first, then the closest; in each, `a` is of the earlier split (train, valid, test),
    so `b` is the one a drop removes."""
    order = {split: i for i, split in enumerate(SPLITS)}
    found = []

    def pair(i, j, kind, bits):
        a, b = sorted((entries[i], entries[j]), key=lambda e: (order[e["split"]], e["path"]))
        found.append({"kind": kind, "bits": bits, "a": a["path"], "b": b["path"], "splits": [a["split"], b["split"]],
                      "labels": [a["label"], b["label"]]})  # fmt: skip

    by_digest = defaultdict(list)
    for i, entry in enumerate(entries):
        by_digest[entry["sha256"]].append(i)
    for group in by_digest.values():
        for x, i in enumerate(group):
            for j in group[x + 1 :]:
                pair(i, j, "exact", 0)
    hashes = np.array([int(entry["phash"], 16) for entry in entries], dtype=np.uint64)
    digests = [entry["sha256"] for entry in entries]
    for start in range(0, len(hashes), 512):  # all pairs, 512 rows at a time: memory stays a few MB
        distance = np.bitwise_count(hashes[start : start + 512, None] ^ hashes[None, start:])
        close = np.argwhere(distance <= near_bits)
        for x, y in close[close[:, 1] > close[:, 0]]:
            if digests[start + x] != digests[start + y]:
                pair(start + x, start + y, "near", int(distance[x, y]))
    return sorted(found, key=lambda p: (p["kind"] != "exact", p["bits"], p["a"], p["b"]))


@dataclass
class DataCheck:
    pairs: list[dict]
    dropped: list[str]  # the images to leave out (drop_across_splits)
    report: dict  # metrics/data_check.json


def check_data(entries: list[dict], *, duplicates: str) -> DataCheck:
    """Find the duplicate pairs among the cached images, choose the validation/test member of each pair across splits
    to drop when `duplicates` is drop_across_splits, and count the images each class keeps."""
    pairs = duplicate_pairs(entries)
    across = [p for p in pairs if p["splits"][0] != p["splits"][1]]
    dropped = sorted({p["b"] for p in across}) if duplicates == "drop_across_splits" else []
    kept = [entry for entry in entries if entry["path"] not in set(dropped)]
    if not kept:
        raise PetsError("no image is left to check")
    per_class, splits = Counter(e["label"] for e in kept), Counter(e["split"] for e in kept)
    by_class_split = Counter((e["label"], e["split"]) for e in kept)
    (smallest, fewest) = min(per_class.items(), key=lambda c: (c[1], c[0]))
    (largest, most) = max(per_class.items(), key=lambda c: (c[1], c[0]))
    counts = {kind: Counter("across_splits" if p["splits"][0] != p["splits"][1] else "within_splits"
                            for p in pairs if p["kind"] == kind) for kind in ("exact", "near")}  # fmt: skip
    report = {
        "images": {split: splits[split] for split in SPLITS if splits[split]},
        "classes": len(per_class),
        "smallest_class": {"class": smallest, "images": fewest},
        "largest_class": {"class": largest, "images": most},
        "imbalance": round(most / fewest, 2),
        "exact_duplicates": {key: counts["exact"][key] for key in ("within_splits", "across_splits")},
        "near_duplicates": {key: counts["near"][key] for key in ("within_splits", "across_splits")},
        "near_bits": NEAR_BITS,
        "leaked_images": len({p["b"] for p in across}),  # validation/test images that duplicate an earlier split's
        "duplicates": duplicates,
        "dropped": len(dropped),
        "per_class": [  # a list: dvc exp show leaves it out of its columns
            {"class": name, **{split: by_class_split[name, split] for split in SPLITS if splits[split]}}
            for name in sorted(per_class)
        ],
        "pairs": pairs[:LISTED_PAIRS],
        "dropped_files": dropped,
    }
    return DataCheck(pairs, dropped, report)


def summary(report: dict) -> list[str]:
    """The lines the cache stage prints."""
    exact, near = report["exact_duplicates"], report["near_duplicates"]
    lines = [
        f"data check: {report['classes']} classes, smallest {report['smallest_class']['class']} "
        f"({report['smallest_class']['images']} images), largest {report['largest_class']['class']} "
        f"({report['largest_class']['images']}), imbalance {report['imbalance']:g}x",
        f"data check: exact duplicates {exact['within_splits']} within splits, {exact['across_splits']} across; "
        f"near-duplicates {near['within_splits']} within, {near['across_splits']} across (metrics/duplicates.png)",
    ]
    if report["dropped"]:
        lines.append(f"data check: dropped {report['dropped']} validation/test image(s) that duplicate another split")
    elif report["leaked_images"]:
        lines.append(
            f"warning: {report['leaked_images']} validation/test image(s) duplicate another split's, which flatters "
            "error_rate; "
            "set index.duplicates: drop_across_splits to leave them out"
        )
    return lines
