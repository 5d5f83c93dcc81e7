"""labels_fix.csv: relabel or drop images as a reviewed, versioned file; every wrong row is one line naming it."""

import pytest

from pets.data.fixes import apply_fixes, read_fixes
from pets.errors import PetsError

FILES = {"cats/1.jpg", "cats/2.jpg", "dogs/3.jpg"}
CLASSES = ["cats", "dogs"]
ROWS = [
    {"path": "cats/1.jpg", "label": "cats", "split": "train"},
    {"path": "cats/2.jpg", "label": "cats", "split": "valid"},
    {"path": "dogs/3.jpg", "label": "dogs", "split": "train"},
]


def fixes(tmp_path, text):
    path = tmp_path / "labels_fix.csv"
    path.write_text(text)
    return read_fixes(path, files=FILES, classes=CLASSES)


def test_rows_relabel_or_drop_and_splits_stay(tmp_path):
    chosen = fixes(tmp_path, "file,label\ncats/2.jpg,dogs\n dogs/3.jpg , - \n\ncats/1.jpg,cats\n")
    assert chosen == {"cats/2.jpg": "dogs", "dogs/3.jpg": None, "cats/1.jpg": "cats"}
    rows, counts = apply_fixes(ROWS, chosen)
    assert rows == [
        {"path": "cats/1.jpg", "label": "cats", "split": "train"},
        {"path": "cats/2.jpg", "label": "dogs", "split": "valid"},
    ]
    assert counts == {"relabelled": 1, "dropped": 1, "unchanged": 1}


@pytest.mark.parametrize(
    "text, message",
    [
        ("cats/9.jpg,dogs\n", r"line 1: cats/9.jpg is not an image of the dataset \(did you mean cats/2.jpg\?\)"),
        ("file,label\ncats/1.jpg,dgos\n", r"line 2: 'dgos' is not a class; did you mean dogs\? classes: cats, dogs"),
        ("cats/1.jpg,dogs\ncats/2.jpg,dogs\ncats/1.jpg,-\n", r"line 3: cats/1.jpg is fixed on line 1 already"),
        ("cats/1.jpg\n", r"line 1: 'cats/1.jpg' is not `file,label`"),
        ("cats/1.jpg,dogs,extra\n", r"line 1: 'cats/1.jpg,dogs,extra' is not `file,label`"),
        ("cats/1.jpg,\n", r"line 1: 'cats/1.jpg,' is not `file,label`"),
    ],
    ids=["unknown file", "unknown class", "twice", "one column", "three columns", "empty label"],
)
def test_a_wrong_row_is_one_line_naming_the_file_and_line(tmp_path, text, message):
    with pytest.raises(PetsError, match=message) as error:
        fixes(tmp_path, text)
    assert str(error.value).startswith(str(tmp_path / "labels_fix.csv")) and "\n" not in str(error.value)


def test_a_missing_or_unreadable_table_is_one_line(tmp_path):
    with pytest.raises(PetsError, match=r"labels_fix.csv: label fixes not found \(params.yaml: index.fixes"):
        read_fixes(tmp_path / "labels_fix.csv", files=FILES, classes=CLASSES)
    (tmp_path / "labels_fix.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(PetsError, match=r"cannot read it as a file,label table"):
        read_fixes(tmp_path / "labels_fix.csv", files=FILES, classes=CLASSES)


def test_a_byte_order_mark_from_a_spreadsheet_is_no_part_of_the_first_name(tmp_path):
    """Without a header, the BOM stood before the first file's name: a name that looks right and matches nothing."""
    assert fixes(tmp_path, "\ufeffcats/2.jpg,dogs\n") == {"cats/2.jpg": "dogs"}
    assert fixes(tmp_path, "\ufefffile,label\ncats/2.jpg,dogs\n") == {"cats/2.jpg": "dogs"}  # the header too
