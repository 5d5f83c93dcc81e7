"""The data check of the index stage: how many images each class has, and which images are the same picture twice
(byte for byte, or nearly: re-encoded, resized), within a split and across splits. A validation image that is a copy
of a training one is a leak that flatters error_rate; `index.duplicates: drop_across_splits` removes it."""

import hashlib
import io
import multiprocessing
import signal
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

from pets.data.images import to_rgb, upright
from pets.data.index import SPLITS
from pets.errors import PetsError
from pets.progress import progress

# Hash bits two images may differ in and still be one picture. Measured with imagehash's 64-bit pHash on the built-in
# photos (tests/test_data_check.py): a copy re-encoded at JPEG quality 40, or resized to a half or a third, differs in
# 0-2 bits; crops of one photograph from parts no other crop shows differ in 14 or more (dHash: 0-2 against 7).
NEAR_BITS = 6
HASH_SIDE = 32  # pHash reads a 32x32 grey image: a JPEG is decoded at the smallest scale that gives it (1/8 of Pets')
LISTED_PAIRS = 1000  # pairs written to data_check.json; the counts are of all of them


def fingerprint(path: str | Path) -> tuple[str, int | None]:
    """(sha256 of the file's bytes, its 64-bit perceptual hash or None when it cannot be decoded)."""
    data = Path(path).read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (HASH_SIDE, HASH_SIDE))
            bits = imagehash.phash(to_rgb(upright(image))).hash.flatten()
    except Exception:  # noqa: BLE001 - the cache stage reports undecodable images; here they only go unhashed
        return hashlib.sha256(data).hexdigest(), None
    return hashlib.sha256(data).hexdigest(), int(np.packbits(bits).view(">u8")[0])


def _quiet_worker():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle: one message


def fingerprints(paths: list[str], workers: int) -> list[tuple[str, int | None]]:
    context = multiprocessing.get_context("fork")
    with (
        context.Pool(workers, initializer=_quiet_worker) as pool,
        progress(total=len(paths), desc="check", unit=" img") as bar,
    ):
        found = []
        for result in pool.imap(fingerprint, paths, chunksize=32):
            found.append(result)
            bar.update(1)
    return found


def duplicate_pairs(rows: list[dict], prints: list[tuple[str, int | None]], near_bits: int = NEAR_BITS) -> list[dict]:
    """Pairs of rows that hold the same bytes (exact) or hashes within `near_bits` (near), exact ones first, then by
    distance; in each, `a` is in the earlier split (train, valid, test), so `b` is the one a drop removes."""
    order = {split: i for i, split in enumerate(SPLITS)}
    found = []

    def pair(i, j, kind, bits):
        a, b = sorted((rows[i], rows[j]), key=lambda row: (order[row["split"]], row["path"]))
        found.append({"kind": kind, "bits": bits, "a": a["path"], "b": b["path"], "splits": [a["split"], b["split"]],
                      "labels": [a["label"], b["label"]]})  # fmt: skip

    by_digest = defaultdict(list)
    for i, (digest, _) in enumerate(prints):
        by_digest[digest].append(i)
    for group in by_digest.values():
        for x, i in enumerate(group):
            for j in group[x + 1 :]:
                pair(i, j, "exact", 0)
    hashed = np.array([i for i, (_, bits) in enumerate(prints) if bits is not None])
    if len(hashed):
        hashes = np.array([prints[i][1] for i in hashed], dtype=np.uint64)
        digests = np.array([prints[i][0] for i in hashed])
        for start in range(0, len(hashes), 512):  # all pairs, 512 rows at a time: memory stays a few MB
            distance = np.bitwise_count(hashes[start : start + 512, None] ^ hashes[None, :])
            close = np.argwhere(distance <= near_bits)
            for x, y in close[close[:, 1] > close[:, 0] + start]:
                if digests[start + x] != digests[y]:
                    pair(hashed[start + x], hashed[y], "near", int(distance[x, y]))
    return sorted(found, key=lambda p: (p["kind"] != "exact", p["bits"], p["a"], p["b"]))


@dataclass
class DataCheck:
    rows: list[dict]  # the index after the drop
    report: dict  # metrics/data_check.json
    pairs: list[dict] = field(default_factory=list)


def check_data(rows: list[dict], root: str | Path, *, duplicates: str, min_per_class: int, workers: int) -> DataCheck:
    """Hash every image, find duplicate pairs, drop the validation/test member of each pair across splits when
    `duplicates` is drop_across_splits, and count the images of each class. Raises PetsError for a class with
    fewer than `min_per_class` images."""
    pairs = duplicate_pairs(rows, fingerprints([str(Path(root) / row["path"]) for row in rows], workers))
    across = [p for p in pairs if p["splits"][0] != p["splits"][1]]
    dropped = sorted({p["b"] for p in across}) if duplicates == "drop_across_splits" else []
    kept = [row for row in rows if row["path"] not in set(dropped)]
    per_class = Counter(row["label"] for row in kept)
    small = [name for name, count in sorted(per_class.items()) if count < min_per_class]
    if small:
        raise PetsError(
            f"class {small[0]} has {per_class[small[0]]} image(s), fewer than index.min_per_class ({min_per_class})"
            + (f", and {len(small) - 1} more class(es) too" if len(small) > 1 else "")
            + ": add pictures of it, remove it from the data, or lower index.min_per_class"
        )
    (smallest, fewest), (largest, most) = (
        min(per_class.items(), key=lambda c: (c[1], c[0])),
        max(per_class.items(), key=lambda c: (c[1], c[0])),
    )
    counts = {kind: Counter("across_splits" if p["splits"][0] != p["splits"][1] else "within_splits"
                            for p in pairs if p["kind"] == kind) for kind in ("exact", "near")}  # fmt: skip
    splits, by_class_split = Counter(row["split"] for row in kept), Counter((r["label"], r["split"]) for r in kept)
    report = {
        "images": {split: splits[split] for split in SPLITS if splits[split]},
        "classes": len(per_class),
        "smallest_class": {"class": smallest, "images": fewest},
        "largest_class": {"class": largest, "images": most},
        "imbalance": round(most / fewest, 2),
        "exact_duplicates": {key: counts["exact"][key] for key in ("within_splits", "across_splits")},
        "near_duplicates": {key: counts["near"][key] for key in ("within_splits", "across_splits")},
        "near_bits": NEAR_BITS,
        "duplicates": duplicates,
        "dropped": len(dropped),
        "per_class": [  # a list: dvc exp show leaves it out of its columns
            {"class": name, **{split: by_class_split[name, split] for split in SPLITS if splits[split]}}
            for name in sorted(per_class)
        ],
        "pairs": pairs[:LISTED_PAIRS],
        "dropped_files": dropped,
    }
    return DataCheck(kept, report, pairs)


def summary(report: dict) -> list[str]:
    """The lines the index stage prints."""
    exact, near = report["exact_duplicates"], report["near_duplicates"]
    lines = [
        f"data check: {report['classes']} classes, smallest {report['smallest_class']['class']} "
        f"({report['smallest_class']['images']} images), largest {report['largest_class']['class']} "
        f"({report['largest_class']['images']}), imbalance {report['imbalance']:g}x",
        f"data check: exact duplicates {exact['within_splits']} within splits, {exact['across_splits']} across; "
        f"near-duplicates {near['within_splits']} within, {near['across_splits']} across",
    ]
    across = exact["across_splits"] + near["across_splits"]
    if report["dropped"]:
        lines.append(f"data check: dropped {report['dropped']} validation/test image(s) that duplicate another split")
    elif across:
        lines.append(
            f"warning: {across} validation/test image(s) duplicate another split's, which flatters error_rate "
            "(metrics/duplicates.png); set index.duplicates: drop_across_splits to leave them out"
        )
    return lines
