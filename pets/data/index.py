"""The label index: which files are images, what each one's label is, and which split it belongs to."""

import csv
import posixpath
import re
from collections import Counter
from pathlib import Path

import numpy as np

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
        with open(path, newline="") as file:
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


def random_split(paths, valid_frac, seed):
    """{path: 'train' | 'valid'}; sorted before shuffling so every machine gets the same split."""
    paths = sorted(paths)
    order = np.random.default_rng(seed).permutation(len(paths))
    n_valid = round(len(paths) * valid_frac)
    valid = {paths[i] for i in order[:n_valid]}
    return {path: "valid" if path in valid else "train" for path in paths}


def _official_names(root, list_name):
    path = Path(root) / "annotations" / list_name
    if not path.is_file():
        raise PetsError(f"{path}: official split list not found; use index.split: random for this dataset")
    return {line.split()[0] for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")}


def official_split(paths, root, valid_frac, seed):
    """Pets' official lists: validation is carved out of trainval; test stays held out."""
    trainval, test = _official_names(root, "trainval.txt"), _official_names(root, "test.txt")
    stem = {path: Path(path).stem for path in paths}
    split = random_split([p for p in paths if stem[p] in trainval], valid_frac, seed)
    split.update({p: "test" for p in paths if stem[p] in test and stem[p] not in trainval})
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
    """The folder rule reads the folder right above each image: images at different depths below the images folder
    mean class folders nested in others (dogs/beagle/1.jpg beside cats/1.jpg), and a parent read as a class."""
    by_depth = {}
    for path in files:
        if Path(path).suffix.lower() in IMAGE_SUFFIXES and not Path(path).name.startswith("."):
            by_depth.setdefault(len(Path(path).relative_to(Path(images)).parts) - 1, path)
    if set(by_depth) == {0}:
        raise PetsError(
            f"index.label is folder, but the images sit directly in {images}, e.g. {by_depth[0]}, not in class "
            "folders: put each class's images in a folder named after the class"
        )
    if len(by_depth) > 1:
        shown = ", ".join(f"{path} ({depth} folder(s) down)" for depth, path in sorted(by_depth.items()))
        raise PetsError(
            f"index.label is folder, which reads the folder right above each image as its class, but the images "
            f"sit at different depths below {images}: {shown}; give every class one folder of its own at one level"
        )


def index_arguments(index_params: dict) -> dict:
    """build_index's keyword arguments from params.yaml's `index` section."""
    p = index_params
    return dict(
        images=p["images"],
        label_rule=p["label"],
        pattern=p["pattern"],
        csv_name=p["csv"],
        split_rule=p["split"],
        valid_frac=p["valid_frac"],
        seed=p["seed"],
        skip_unlabelled=p["skip_unlabelled"],
        min_per_class=p["min_per_class"],
        fixes=p["fixes"] or None,
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


def build_index(
    root: str | Path,
    *,
    images: str,
    label_rule: str,
    pattern: str,
    csv_name: str,
    split_rule: str,
    valid_frac: float,
    seed: int,
    skip_unlabelled: bool,
    min_per_class: int = 1,
    fixes: str | Path | None = None,
) -> tuple[list[dict], list[str], dict]:
    """Return (rows, classes, report): rows are dicts path/label/split sorted by path. `fixes` is a labels_fix.csv
    (pets.data.fixes), applied after the split so that a fix moves no other image between splits. A class with fewer
    than `min_per_class` images (all splits) fails."""
    files = list_files(root, images)
    table = LabelTable(root, csv_name, images) if "csv" in (label_rule, split_rule) else None
    if label_rule == "folder":
        check_depth(files, images)
    fix = {"regex": "fix index.pattern", "folder": "put each image in its class's folder",
           "csv": f"give each a row in {csv_name}"}[label_rule]  # fmt: skip
    labels, skipped = read_labels(files, label_reader(label_rule, root, pattern, table), skip_unlabelled, fix)
    if not labels:
        raise PetsError(f"no labelled images found in {Path(root) / images}")
    if split_rule == "random":
        split = random_split(labels, valid_frac, seed)
    elif split_rule == "csv":
        split = table_split(labels, table)
    else:
        split = official_split(labels, root, valid_frac, seed)
        skipped += [{"path": p, "reason": "in neither official list"} for p in labels if p not in split]
    rows = [{"path": p, "label": labels[p], "split": split[p]} for p in sorted(split)]
    fixed = {}
    if fixes is not None:
        chosen = read_fixes(fixes, files={row["path"] for row in rows}, classes=sorted(set(labels.values())))
        rows, fixed = apply_fixes(rows, chosen)
    classes = sorted({row["label"] for row in rows})
    if len(classes) < 2:
        raise PetsError(
            f"every image in {Path(root) / images} has the label {classes[0]!r}: a classifier needs at "
            "least two classes (check index.label and index.pattern)"
        )
    empty = []
    if label_rule == "folder":  # a class folder without a single image is most likely a mistake
        empty = sorted(
            {p.name for p in (Path(root) / images).rglob("*") if p.is_dir()}
            - set(classes)
            - {Path(path).parent.name for path in files}
        )
    check_class_sizes(rows, min_per_class)
    per_split = {s: Counter(row["label"] for row in rows if row["split"] == s) for s in SPLITS}
    if not per_split["valid"]:
        fix = f"mark some valid in {csv_name}" if split_rule == "csv" else f"raise index.valid_frac ({valid_frac:g})"
        raise PetsError(f"no image of {len(rows)} is left for validation; {fix}")
    without_training = [c for c in classes if per_split["train"][c] == 0]
    if without_training:
        raise PetsError(
            f"class(es) {', '.join(without_training[:10])} have no training images; "
            "add images or lower index.valid_frac"
        )
    report = {
        "images": len(rows),
        "classes": len(classes),
        "splits": {s: sum(per_split[s].values()) for s in SPLITS if per_split[s]},
        "per_class": {c: {s: per_split[s][c] for s in SPLITS if per_split[s]} for c in classes},
        "skipped": skipped,
        "empty_classes": empty,
        **({"fixes": {"file": str(fixes), **fixed}} if fixes is not None else {}),
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
