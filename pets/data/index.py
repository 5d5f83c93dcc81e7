"""The label index: which files are images, what each one's label is, and which split it belongs to."""

import csv
import posixpath
import re
from collections import Counter
from pathlib import Path

import numpy as np

from pets.config.settings import Index
from pets.data.fixes import apply_fixes, read_fixes
from pets.data.images import IMAGE_SUFFIXES
from pets.errors import PetsError

SPLITS = ("train", "valid", "test")


def list_files(root, images):
    """Every file below `root/images`, as paths relative to `root` in POSIX form, sorted."""
    folder = Path(root) / images
    if not folder.is_dir():
        holds = sorted(p.name + "/" * p.is_dir() for p in Path(root).iterdir()) if Path(root).is_dir() else []
        shown = ", ".join(holds[:8]) + (f" and {len(holds) - 8} more" if len(holds) > 8 else "") or "nothing"
        raise PetsError(
            f"{folder}: no such folder (params.yaml: index.images); {root} holds {shown}. If the "
            "archive unpacked into a folder of its own, set strip: 1 on it in datasets.<name>.sources"
        )
    return sorted(p.relative_to(root).as_posix() for p in folder.rglob("*") if p.is_file())


def label_reader(rule, root, pattern=None, table=None):
    """A function from a relative path to its label, or None when the rule cannot read it."""
    if rule == "regex":
        regex = re.compile(pattern)  # checked by pets.config.schema: valid, with a group

        def from_name(path):
            match = regex.match(Path(path).stem)
            return match.group(1) if match else None

        return from_name
    if rule == "folder":
        return lambda path: Path(path).parent.name or None
    return lambda path: (table.lookup(path) or {}).get("label") or None


class LabelTable:
    """A `file,label[,split]` CSV table. A row's file is a path relative to the dataset folder, or to the images
    folder within it (the one that exists); fields are stripped of surrounding spaces."""

    def __init__(self, root, name, images):
        path = Path(root) / name
        if not path.is_file():
            raise PetsError(f"{path}: label table not found (params.yaml: index.csv)")
        with open(path, newline="", encoding="utf-8-sig") as file:  # a spreadsheet's BOM is no part of a name
            rows = [[field.strip() for field in row] for row in csv.reader(file)]
        columns, first = ["file", "label", "split"], 1
        if rows and [c.lower() for c in rows[0][:2]] == columns[:2]:
            columns, first = [c.lower() for c in rows[0]], 2
        self.path, self.rows = path, {}
        for line, row in enumerate(rows[first - 1 :], first):
            if not any(row):
                continue
            entry = dict(zip(columns, row))
            key = self._dataset_path(root, images, entry.get("file", ""))
            if key in self.rows and self.rows[key] != entry:
                raise PetsError(
                    f"{path}: {entry['file']!r} is listed twice with different values "
                    f"(line {line}); keep one row per file"
                )
            self.rows[key] = entry

    @staticmethod
    def _dataset_path(root, images, file):
        candidates = [posixpath.normpath(file), posixpath.normpath(posixpath.join(images, file))]
        return next((c for c in candidates if (Path(root) / c).is_file()), candidates[0])

    def lookup(self, path):
        """The row of an image (its path relative to the dataset folder), or None."""
        return self.rows.get(path)


def read_labels(files, read_label, skip_unlabelled, fix="fix index.pattern"):
    """Labels of the image files; other files, and unreadable names when allowed, go to `skipped`. `fix` says how
    to make the label rule read the others."""
    labelled, skipped, unreadable = {}, [], []
    for path in files:
        name = Path(path).name
        if name.startswith("."):
            skipped.append({"path": path, "reason": "hidden file"})
        elif Path(path).suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append({"path": path, "reason": f"not an image ({Path(path).suffix or 'no extension'})"})
        elif (label := read_label(path)) is None:
            unreadable.append(path)
        else:
            labelled[path] = label
    if unreadable and not skip_unlabelled:
        names = [repr(p) if any(ord(c) < 32 for c in p) else p for p in unreadable[:10]]  # one line, always
        shown = ", ".join(names) + (f" and {len(unreadable) - 10} more" if len(unreadable) > 10 else "")
        raise PetsError(
            f"the label rule cannot read {len(unreadable)} file name(s): {shown}; {fix} "
            "or set index.skip_unlabelled: true to skip them"
        )
    skipped += [{"path": path, "reason": "label rule cannot read the name"} for path in unreadable]
    return labelled, skipped


def random_split(labels: dict[str, str], valid_frac: float, seed: int) -> dict[str, str]:
    """{path: 'train' | 'valid'}, stratified: a random `valid_frac` of each class's images (rounded, and at least one
    where the class has two or more) is kept to validate, so every class is measured and trained alike. Classes and
    their images are sorted before shuffling, so every machine gets the same split from the same seed."""
    rng = np.random.default_rng(seed)
    by_class = {}
    for path in sorted(labels):
        by_class.setdefault(labels[path], []).append(path)
    split = {}
    for label in sorted(by_class):
        paths = by_class[label]
        n_valid = min(max(round(len(paths) * valid_frac), 1), len(paths) - 1) if len(paths) > 1 else 0
        valid = {paths[i] for i in rng.permutation(len(paths))[:n_valid]}
        split.update({path: "valid" if path in valid else "train" for path in paths})
    return split


def _official_names(root, list_name):
    path = Path(root) / "annotations" / list_name
    if not path.is_file():
        raise PetsError(f"{path}: official split list not found; use index.split: random for this dataset")
    return {line.split()[0] for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")}


def official_split(labels, root, valid_frac, seed):
    """Pets' official lists: validation is carved out of trainval (stratified, as random_split); test stays held
    out. Images in neither list are left out."""
    trainval, test = _official_names(root, "trainval.txt"), _official_names(root, "test.txt")
    stem = {path: Path(path).stem for path in labels}
    split = random_split({p: label for p, label in labels.items() if stem[p] in trainval}, valid_frac, seed)
    split.update({p: "test" for p in labels if stem[p] in test and stem[p] not in trainval})
    return split


def table_split(paths, table):
    """The split column of the label table: train, valid or test for every image."""
    split = {path: (table.lookup(path) or {}).get("split") for path in paths}
    wrong = [path for path, name in split.items() if name not in SPLITS]
    if wrong:
        raise PetsError(
            f"{table.path}: {len(wrong)} image(s) have no split of {', '.join(SPLITS)} in its split "
            f"column, e.g. {wrong[0]} (params.yaml: index.split: csv)"
        )
    return split


def check_depth(files, images):
    """The folder rule reads the folder right above each image, one level below the images folder: images sitting
    directly in it, or in subfolders of a class folder (cat/indoor/1.jpg, whose label would be `indoor`, merging every
    class's indoor pictures), are refused in one line naming where."""
    pictures = [
        Path(path).relative_to(images)
        for path in files
        if Path(path).suffix.lower() in IMAGE_SUFFIXES and not Path(path).name.startswith(".")
    ]
    loose = [path for path in pictures if len(path.parts) == 1]
    nested = [path for path in pictures if len(path.parts) > 2]
    if loose and len(loose) == len(pictures):
        raise PetsError(
            f"index.label is folder, but the images sit directly in {images}, e.g. {Path(images) / loose[0]}, not in "
            "class folders: put each class's images in a folder named after the class"
        )
    if nested:
        folder = nested[0].parts[0]
        inside = sorted({path.parts[1] for path in nested if path.parts[0] == folder})
        shown = ", ".join(inside[:5]) + (f" and {len(inside) - 5} more" if len(inside) > 5 else "")
        raise PetsError(
            f"index.label is folder, which reads the folder right above each image as its class, but the class folder "
            f"{Path(images) / folder} holds subfolders of images ({shown}), e.g. {Path(images) / nested[0]}: put "
            f"each class's images directly in its folder, or set index.images: {Path(images) / folder} if its "
            "subfolders are the classes"
        )
    if loose:
        raise PetsError(
            f"index.label is folder, but {Path(images) / loose[0]} sits directly in {images} beside the class "
            "folders: move it into the folder of its class"
        )


def check_class_sizes(rows: list[dict], min_per_class: int) -> None:
    sizes = Counter(row["label"] for row in rows)
    small = sorted(name for name, count in sizes.items() if count < min_per_class)
    if small:
        others = f", and {len(small) - 1} more class(es) too" if len(small) > 1 else ""
        raise PetsError(
            f"class {small[0]} has {sizes[small[0]]} image(s), fewer than index.min_per_class ({min_per_class})"
            f"{others}: add pictures of it, remove it from the data, or lower index.min_per_class"
        )


def label_files(root, files, settings: Index) -> tuple[dict[str, str], list[dict], "LabelTable | None"]:
    """({path: label}, skipped files with the reason, the label table when a rule reads one) by the label rule."""
    table = LabelTable(root, settings.csv, settings.images) if "csv" in (settings.label, settings.split) else None
    if settings.label == "folder":
        check_depth(files, settings.images)
    fix = {"regex": "fix index.pattern", "folder": "put each image in its class's folder",
           "csv": f"give each a row in {settings.csv}"}[settings.label]  # fmt: skip
    read = label_reader(settings.label, root, settings.pattern, table)
    labels, skipped = read_labels(files, read, settings.skip_unlabelled, fix)
    if not labels:
        raise PetsError(f"no labelled images found in {Path(root) / settings.images}")
    return labels, skipped, table


def split_images(root, labels, settings: Index, table) -> tuple[dict[str, str], list[dict]]:
    """({path: split}, images left out with the reason) by the split rule."""
    if settings.split == "random":
        return random_split(labels, settings.valid_frac, settings.seed), []
    if settings.split == "csv":
        return table_split(labels, table), []
    split = official_split(labels, root, settings.valid_frac, settings.seed)
    return split, [{"path": p, "reason": "in neither official list"} for p in labels if p not in split]


def check_splits(rows: list[dict], classes: list[str], settings: Index) -> dict:
    """Each split's images per class; PetsError when nothing is left to validate or a class has nothing to train."""
    per_split = {s: Counter(row["label"] for row in rows if row["split"] == s) for s in SPLITS}
    if not per_split["valid"]:
        fix = (
            f"mark some valid in {settings.csv}"
            if settings.split == "csv"
            else f"raise index.valid_frac ({settings.valid_frac:g})"
        )
        raise PetsError(f"no image of {len(rows)} is left for validation; {fix}")
    without_training = [c for c in classes if per_split["train"][c] == 0]
    if without_training:
        raise PetsError(
            f"class(es) {', '.join(without_training[:10])} have no training images; "
            "add images or lower index.valid_frac"
        )
    return per_split


def empty_class_folders(root, images, classes) -> list[str]:
    """The class folders of the folder rule that hold no image: most likely a mistake, said as a warning."""
    return sorted({p.name for p in (Path(root) / images).iterdir() if p.is_dir()} - set(classes))


def build_index(root: str | Path, settings: Index) -> tuple[list[dict], list[str], dict]:
    """Return (rows, classes, report): rows are dicts path/label/split sorted by path, by the rules of params.yaml's
    `index` section. Its `fixes` (a labels_fix.csv, pets.data.fixes) apply after the split, so that a fix moves no
    other image between splits. A class with fewer than `min_per_class` images (all splits) fails."""
    files = list_files(root, settings.images)
    labels, skipped, table = label_files(root, files, settings)
    split, left_out = split_images(root, labels, settings, table)
    rows = [{"path": p, "label": labels[p], "split": split[p]} for p in sorted(split)]
    fixed = {}
    if settings.fixes:
        chosen = read_fixes(settings.fixes, files={row["path"] for row in rows}, classes=sorted(set(labels.values())))
        rows, fixed = apply_fixes(rows, chosen)
    classes = sorted({row["label"] for row in rows})
    if len(classes) < 2:
        raise PetsError(
            f"every image in {Path(root) / settings.images} has the label {classes[0]!r}: a classifier needs at "
            "least two classes (check index.label and index.pattern)"
        )
    check_class_sizes(rows, settings.min_per_class)
    per_split = check_splits(rows, classes, settings)
    report = {
        "images": len(rows),
        "classes": len(classes),
        "splits": {s: sum(per_split[s].values()) for s in SPLITS if per_split[s]},
        "per_class": {c: {s: per_split[s][c] for s in SPLITS if per_split[s]} for c in classes},
        "skipped": skipped + left_out,
        "empty_classes": empty_class_folders(root, settings.images, classes) if settings.label == "folder" else [],
        **({"fixes": {"file": settings.fixes, **fixed}} if settings.fixes else {}),
    }
    return rows, classes, report


def write_index(path, rows):
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=["path", "label", "split"])
        writer.writeheader()
        writer.writerows(rows)


def read_index(path: str | Path) -> list[dict]:
    with open(path, newline="") as table:
        return list(csv.DictReader(table))
