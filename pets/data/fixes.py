"""Label fixes as a versioned file: `labels_fix.csv` at the project root (params.yaml: index.fixes), rows `file,label`
to relabel an image or `file,-` to drop it, written from `python -m pets audit`'s ranking (by hand or on the review
page, pets.serve.review) and reviewed like code."""

import codecs
import csv
import difflib
import io
from pathlib import Path

from pets.atomic import atomic_path
from pets.errors import PetsError

DROP = "-"
HEADER = "file,label"


def read_fixes(path: str | Path, *, files: set[str], classes: list[str]) -> dict[str, str | None]:
    """{file: new label, or None to drop it}. A header `file,label` is optional. Raises PetsError naming the file
    and line of a row that names no image of the dataset, a class it does not have, or a file named before."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as table:  # a spreadsheet's BOM is no part of a name
            rows = list(csv.reader(table))
    except FileNotFoundError:
        raise PetsError(f"{path}: label fixes not found (params.yaml: index.fixes; '' for none)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise PetsError(f"{path}: cannot read it as a file,label table ({error})") from None
    fixes, lines = {}, {}
    for line, row in enumerate(rows, 1):
        row = [field.strip() for field in row]
        if not any(row) or (line == 1 and [field.lower() for field in row[:2]] == ["file", "label"]):
            continue
        where = f"{path} line {line}"
        if len(row) != 2 or not all(row):
            raise PetsError(f"{where}: {','.join(row)!r} is not `file,label` (or `file,-` to drop the image)")
        file, label = row
        if file not in files:
            close = difflib.get_close_matches(file, sorted(files), n=1)
            hint = f" (did you mean {close[0]}?)" if close else " (use the file column of metrics/label_review.csv)"
            raise PetsError(f"{where}: {file} is not an image of the dataset{hint}")
        if label != DROP and label not in classes:
            close = difflib.get_close_matches(label, classes, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise PetsError(f"{where}: {label!r} is not a class; {hint}classes: {', '.join(classes[:12])}")
        if file in fixes:
            raise PetsError(f"{where}: {file} is fixed on line {lines[file]} already; keep one row per file")
        fixes[file], lines[file] = (None if label == DROP else label), line
    return fixes


def apply_fixes(rows: list[dict], fixes: dict[str, str | None]) -> tuple[list[dict], dict]:
    """(rows with the fixes applied, {relabelled, dropped, unchanged}): a relabelled image keeps its split, so a fix
    changes nothing else about the run."""
    fixed, counts = [], {"relabelled": 0, "dropped": 0, "unchanged": 0}
    for row in rows:
        if row["path"] not in fixes:
            fixed.append(row)
        elif fixes[row["path"]] is None:
            counts["dropped"] += 1
        else:
            counts["relabelled" if fixes[row["path"]] != row["label"] else "unchanged"] += 1
            fixed.append({**row, "label": fixes[row["path"]]})
    return fixed, counts


def fix_row(line: str) -> tuple[str, str] | None:
    """(file, label) of one line of a fixes file, or None for the header, a blank line or one that is no row."""
    fields = [field.strip() for field in next(csv.reader([line]), [])]
    if len(fields) != 2 or not all(fields) or [field.lower() for field in fields] == HEADER.split(","):
        return None
    return fields[0], fields[1]


def current_fixes(path: str | Path) -> dict[str, str]:
    """{file: label or DROP} of the rows of a fixes file as they are (none when there is no file), unchecked."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    return dict(row for row in map(fix_row, text.splitlines()) if row)


def edit_fix(path: str | Path, file: str, label: str | None) -> None:
    """Set `file`'s row to `label` (a class, or DROP), or remove it (None), atomically; every other line is kept as
    it is (a byte-order mark and line endings too), and a row that changes keeps its place."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw = f"{HEADER}\n".encode()
    bom = codecs.BOM_UTF8 if raw.startswith(codecs.BOM_UTF8) else b""
    lines = raw[len(bom) :].decode("utf-8").splitlines(keepends=True)
    ending = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    out = io.StringIO()
    csv.writer(out, lineterminator=ending).writerow([file, label])
    new = [out.getvalue()] if label is not None else []
    kept = []
    for line in lines:
        row = fix_row(line)
        if row and row[0] == file:
            kept += new
            new = []
        else:
            kept.append(line)
    if new:
        if kept and not kept[-1].endswith("\n"):
            kept[-1] += ending
        kept += new
    with atomic_path(path) as tmp:
        tmp.write_bytes(bom + "".join(kept).encode("utf-8"))
