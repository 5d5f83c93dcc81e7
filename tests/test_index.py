from pathlib import Path

import pytest

from pets.data.index import build_index, label_reader, random_split
from pets.errors import PetsError
from tests.pets_archive import pets_text

PETS_PATTERN = r"^(.+)_\d+$"


def touch(root, *names):
    for name in names:
        path = Path(root) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def index(root, **overrides):
    args = dict(
        images="images",
        label_rule="regex",
        pattern=PETS_PATTERN,
        csv_name="labels.csv",
        split_rule="random",
        valid_frac=0.2,
        seed=42,
        skip_unlabelled=False,
    )
    args.update(overrides)
    return build_index(root, **args)


def test_regex_rule_reads_pets_breeds_keeping_case():
    read = label_reader("regex", ".", PETS_PATTERN)
    assert read("images/Abyssinian_100.jpg") == "Abyssinian"
    assert read("images/american_pit_bull_terrier_12.jpg") == "american_pit_bull_terrier"
    assert read("images/great_pyrenees_1.jpeg") == "great_pyrenees"
    assert read("images/no-number.jpg") is None


def test_folder_rule_reads_the_parent_folder(tmp_path):
    touch(tmp_path, "train/cat/x1.jpg", "train/dog/x2.jpg", "train/dog/x3.png")
    rows, classes, _ = index(tmp_path, images="train", label_rule="folder")
    assert classes == ["cat", "dog"]
    assert {r["path"]: r["label"] for r in rows}["train/dog/x3.png"] == "dog"


def test_csv_rule_reads_the_table(tmp_path):
    touch(tmp_path, "images/a.jpg", "images/b.jpg", "images/c.jpg")
    (tmp_path / "labels.csv").write_text("file,label\na.jpg,cat\nb.jpg,dog\nc.jpg,dog\n")
    rows, classes, _ = index(tmp_path, label_rule="csv", valid_frac=0.3)
    assert classes == ["cat", "dog"] and {r["path"]: r["label"] for r in rows}["images/a.jpg"] == "cat"


def test_csv_rows_are_matched_by_path_so_equal_file_names_in_two_folders_keep_their_labels(tmp_path):
    touch(tmp_path, "images/cats/img1.png", "images/dogs/img1.png", "images/cats/img2.png", "images/dogs/img2.png")
    (tmp_path / "labels.csv").write_text(
        "file,label\nimages/cats/img1.png, cat\ncats/img2.png ,cat\nimages/dogs/img1.png,dog\n dogs/img2.png,dog\n"
    )
    rows, classes, _ = index(tmp_path, label_rule="csv", valid_frac=0.25)
    assert classes == ["cat", "dog"]  # no " cat" beside "cat"
    assert {r["path"]: r["label"] for r in rows} == {
        "images/cats/img1.png": "cat",
        "images/cats/img2.png": "cat",
        "images/dogs/img1.png": "dog",
        "images/dogs/img2.png": "dog",
    }


def test_a_file_listed_twice_with_different_labels_is_refused_with_its_line(tmp_path):
    touch(tmp_path, "images/a.jpg", "images/b.jpg")
    (tmp_path / "labels.csv").write_text("file,label\na.jpg,cat\nb.jpg,dog\nimages/../images/a.jpg,dog\n")
    with pytest.raises(PetsError, match=r"labels.csv: 'images/../images/a.jpg' is listed twice .*\(line 4\)"):
        index(tmp_path, label_rule="csv")


def test_the_split_can_come_from_the_tables_split_column(tmp_path):
    touch(tmp_path, *[f"images/{c}_{n}.jpg" for c in ("cat", "dog") for n in range(3)])
    (tmp_path / "labels.csv").write_text(
        "file,label,split\n"
        + "".join(f"images/{c}_{n}.jpg,{c},{['train', 'valid', 'test'][n]}\n" for c in ("cat", "dog") for n in range(3))
    )
    rows, _, report = index(tmp_path, split_rule="csv")  # labels from the names, split from the table
    assert {r["path"]: r["split"] for r in rows}["images/dog_1.jpg"] == "valid"
    assert report["splits"] == {"train": 2, "valid": 2, "test": 2}
    (tmp_path / "labels.csv").write_text("file,label,split\nimages/cat_0.jpg,cat,train\n")
    with pytest.raises(PetsError, match=r"5 image\(s\) have no split of train, valid, test .* e.g. images/cat_1.jpg"):
        index(tmp_path, split_rule="csv")


def test_non_images_are_skipped_and_counted(tmp_path):
    touch(
        tmp_path,
        "images/Abyssinian_1.jpg",
        "images/Abyssinian_2.jpg",
        "images/beagle_1.jpg",
        "images/beagle_2.jpg",
        "images/Abyssinian_100.mat",
        "images/.DS_Store",
    )
    rows, _, report = index(tmp_path, valid_frac=0.25)
    assert len(rows) == 4
    assert {s["path"]: s["reason"] for s in report["skipped"]} == {
        "images/Abyssinian_100.mat": "not an image (.mat)",
        "images/.DS_Store": "hidden file",
    }


def test_unreadable_names_stop_the_stage_showing_at_most_ten(tmp_path):
    touch(tmp_path, "images/Abyssinian_1.jpg", *[f"images/bad{i}.jpg" for i in range(12)])
    with pytest.raises(PetsError) as error:
        index(tmp_path)
    message = str(error.value)
    assert "12 file name(s)" in message and "and 2 more" in message and "skip_unlabelled" in message
    assert message.count("bad") == 10


def test_unreadable_names_can_be_skipped_and_reported(tmp_path):
    touch(
        tmp_path,
        "images/Abyssinian_1.jpg",
        "images/Abyssinian_2.jpg",
        "images/beagle_1.jpg",
        "images/beagle_2.jpg",
        "images/bad.jpg",
    )
    rows, _, report = index(tmp_path, skip_unlabelled=True, valid_frac=0.25)
    assert len(rows) == 4
    assert report["skipped"] == [{"path": "images/bad.jpg", "reason": "label rule cannot read the name"}]


def test_random_split_sizes_determinism_and_no_overlap():
    paths = [f"images/x_{i}.jpg" for i in range(1000)]
    split = random_split(paths, 0.2, seed=7)
    assert sum(s == "valid" for s in split.values()) == 200
    assert split == random_split(list(reversed(paths)), 0.2, seed=7)  # order of listing does not matter
    assert split != random_split(paths, 0.2, seed=8)
    assert set(split) == set(paths)


def test_official_split_uses_the_real_lists_and_carves_validation_out_of_trainval(tmp_path):
    names = pets_text("images.txt").split()
    touch(tmp_path, *[f"images/{n}" for n in names])
    (tmp_path / "annotations").mkdir()
    for name in ("trainval.txt", "test.txt"):
        (tmp_path / "annotations" / name).write_text(pets_text(f"annotations/{name}"))
    rows, classes, report = index(tmp_path, split_rule="official")
    assert len(classes) == 37
    assert report["splits"] == {"train": 2944, "valid": 736, "test": 3669}
    reasons = [s["reason"] for s in report["skipped"]]
    assert reasons.count("not an image (.mat)") == 3 and reasons.count("in neither official list") == 41
    test_names = {line.split()[0] for line in pets_text("annotations/test.txt").splitlines()}
    assert all((Path(r["path"]).stem in test_names) == (r["split"] == "test") for r in rows)


def test_a_class_without_training_images_is_an_error(tmp_path):
    touch(tmp_path, *[f"images/cat_{i}.jpg" for i in range(20)], "images/dog_1.jpg")
    with pytest.raises(PetsError, match="no training images"):
        index(tmp_path, valid_frac=0.99)


def test_a_split_without_validation_images_is_refused(tmp_path):
    touch(tmp_path, *[f"images/{c}_{i}.jpg" for c in ("cat", "dog") for i in range(10)])
    with pytest.raises(PetsError, match=r"no image of 20 is left for validation; raise index.valid_frac \(0.01\)"):
        index(tmp_path, valid_frac=0.01)


def test_a_single_class_is_refused(tmp_path):
    touch(tmp_path, *[f"images/cat_{i}.jpg" for i in range(10)])
    with pytest.raises(PetsError, match="every image in .*images has the label 'cat': a classifier needs at least two"):
        index(tmp_path)


def test_missing_images_folder_is_named_with_what_is_there_and_strip(tmp_path):
    touch(tmp_path, "oxford-iiit-pet/images/cat_1.jpg", "README")
    with pytest.raises(
        PetsError,
        match=r"images: no such folder \(params.yaml: index.images\); .* holds README, "
        r"oxford-iiit-pet/. If the archive .* set strip: 1",
    ):
        index(tmp_path)


def test_empty_class_folders_are_reported(tmp_path):
    touch(tmp_path, "train/cat/x1.jpg", "train/dog/x2.jpg", "train/dog/x3.jpg", "train/dog/x4.jpg")
    (tmp_path / "train" / "fox").mkdir()
    _, classes, report = index(tmp_path, images="train", label_rule="folder", valid_frac=0.25)
    assert classes == ["cat", "dog"] and report["empty_classes"] == ["fox"]


def test_the_folder_rule_refuses_class_folders_at_different_depths(tmp_path):
    touch(tmp_path, *(f"cats/{n}.jpg" for n in range(5)), *(f"dogs/beagle/{n}.jpg" for n in range(5)))
    with pytest.raises(PetsError, match=r"images sit at different depths below \.: cats/0.jpg \(1 folder\(s\) down\), "
                       r"dogs/beagle/0.jpg \(2 folder\(s\) down\); give every class one folder"):  # fmt: skip
        index(tmp_path, images=".", label_rule="folder")
    touch(tmp_path / "flat", "a.jpg", "b.jpg")
    with pytest.raises(PetsError, match=r"the images sit directly in \., e.g. a.jpg, not in class folders"):
        index(tmp_path / "flat", images=".", label_rule="folder")


def test_fixes_relabel_and_drop_after_the_split_and_are_counted(tmp_path):
    names = [f"images/{breed}_{n}.jpg" for breed in ("cat", "dog") for n in range(10)]
    touch(tmp_path, *names)
    rows, _, _ = index(tmp_path)
    (tmp_path / "labels_fix.csv").write_text("file,label\nimages/cat_1.jpg,dog\nimages/dog_2.jpg,-\n")
    fixed, classes, report = index(tmp_path, fixes=tmp_path / "labels_fix.csv")
    expected = [
        {**row, "label": "dog"} if row["path"] == "images/cat_1.jpg" else row
        for row in rows
        if row["path"] != "images/dog_2.jpg"
    ]
    assert fixed == expected  # every other image keeps its split
    assert classes == ["cat", "dog"] and report["images"] == 19
    assert report["fixes"] == {"file": str(tmp_path / "labels_fix.csv"), "relabelled": 1, "dropped": 1, "unchanged": 0}


def test_a_class_with_too_few_images_fails_naming_it(tmp_path):
    touch(tmp_path, *(f"cats/{n}.jpg" for n in range(6)), "dogs/1.jpg", "owls/1.jpg", "owls/2.jpg")
    with pytest.raises(PetsError, match=r"^class dogs has 1 image\(s\), fewer than index.min_per_class \(5\), and 1 "
                       r"more class\(es\) too: add pictures of it, remove it from the data, or lower"):  # fmt: skip
        index(tmp_path, images=".", label_rule="folder", min_per_class=5)
    with pytest.raises(PetsError, match=r"^class dogs has 1 image\(s\), fewer than index.min_per_class \(2\):"):
        index(tmp_path, images=".", label_rule="folder", min_per_class=2)


def test_unreadable_names_stay_on_one_line_and_the_fix_fits_the_label_rule(tmp_path):
    touch(tmp_path, "images/Abyssinian_1.jpg", "images/two\nlines.jpg", "labels.csv")
    with pytest.raises(PetsError) as error:
        index(tmp_path)
    assert "\n" not in str(error.value) and "'images/two\\nlines.jpg'; fix index.pattern" in str(error.value)
    (tmp_path / "labels.csv").write_text("file,label\nimages/Abyssinian_1.jpg,cat\n")
    with pytest.raises(PetsError, match=r"cannot read 1 file name\(s\): .*; give each a row in labels.csv or set"):
        index(tmp_path, label_rule="csv")
