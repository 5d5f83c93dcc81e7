from dataclasses import replace
from pathlib import Path

import pytest

from pets.data.index import build_index, label_reader, random_split
from pets.errors import PetsError
from tests.helpers import PARAMS
from tests.pets_archive import pets_text

PETS_PATTERN = r"^(.+)_\d+$"


def touch(root, *names):
    for name in names:
        path = Path(root) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def index(root, **overrides):
    """build_index with params.yaml's `index` section for a Pets-like folder, changed by `overrides`."""
    settings = replace(
        PARAMS.index,
        images="images",
        label="regex",
        pattern=PETS_PATTERN,
        csv="labels.csv",
        split="random",
        valid_frac=0.2,
        seed=42,
        skip_unlabelled=False,
        min_per_class=1,
        fixes="",
    )
    return build_index(root, replace(settings, **overrides))  # fmt: skip


def test_regex_rule_reads_pets_breeds_keeping_case():
    read = label_reader("regex", ".", PETS_PATTERN)
    assert read("images/Abyssinian_100.jpg") == "Abyssinian"
    assert read("images/american_pit_bull_terrier_12.jpg") == "american_pit_bull_terrier"
    assert read("images/great_pyrenees_1.jpeg") == "great_pyrenees"
    assert read("images/no-number.jpg") is None


def test_folder_rule_reads_the_parent_folder(tmp_path):
    touch(tmp_path, "train/cat/x1.jpg", "train/dog/x2.jpg", "train/dog/x3.png")
    rows, classes, _ = index(tmp_path, images="train", label="folder")
    assert classes == ["cat", "dog"]
    assert {r["path"]: r["label"] for r in rows}["train/dog/x3.png"] == "dog"


def test_csv_rule_reads_the_table(tmp_path):
    touch(tmp_path, "images/a.jpg", "images/b.jpg", "images/c.jpg")
    (tmp_path / "labels.csv").write_text("file,label\na.jpg,cat\nb.jpg,dog\nc.jpg,dog\n")
    rows, classes, _ = index(tmp_path, label="csv", valid_frac=0.3)
    assert classes == ["cat", "dog"] and {r["path"]: r["label"] for r in rows}["images/a.jpg"] == "cat"


def test_csv_rows_are_matched_by_path_so_equal_file_names_in_two_folders_keep_their_labels(tmp_path):
    touch(tmp_path, "images/cats/img1.png", "images/dogs/img1.png", "images/cats/img2.png", "images/dogs/img2.png")
    (tmp_path / "labels.csv").write_text(
        "file,label\nimages/cats/img1.png, cat\ncats/img2.png ,cat\nimages/dogs/img1.png,dog\n dogs/img2.png,dog\n"
    )
    rows, classes, _ = index(tmp_path, label="csv", valid_frac=0.25)
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
        index(tmp_path, label="csv")


def test_the_split_can_come_from_the_tables_split_column(tmp_path):
    touch(tmp_path, *[f"images/{c}_{n}.jpg" for c in ("cat", "dog") for n in range(3)])
    (tmp_path / "labels.csv").write_text(
        "file,label,split\n"
        + "".join(f"images/{c}_{n}.jpg,{c},{['train', 'valid', 'test'][n]}\n" for c in ("cat", "dog") for n in range(3))
    )
    rows, _, report = index(tmp_path, split="csv")  # labels from the names, split from the table
    assert {r["path"]: r["split"] for r in rows}["images/dog_1.jpg"] == "valid"
    assert report["splits"] == {"train": 2, "valid": 2, "test": 2}
    (tmp_path / "labels.csv").write_text("file,label,split\nimages/cat_0.jpg,cat,train\n")
    with pytest.raises(PetsError, match=r"5 image\(s\) have no split of train, valid, test .* e.g. images/cat_1.jpg"):
        index(tmp_path, split="csv")


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
    labels = {f"images/x_{i}.jpg": "x" for i in range(1000)}
    split = random_split(labels, 0.2, seed=7)
    assert sum(s == "valid" for s in split.values()) == 200
    assert split == random_split(dict(reversed(labels.items())), 0.2, seed=7)  # order of listing does not matter
    assert split != random_split(labels, 0.2, seed=8)
    assert set(split) == set(labels)


def test_the_random_split_keeps_a_share_of_each_class_to_validate():
    """3 classes of 6 images: joined, a shuffle gave `cat` 6 train and 0 validation images; per class, each gets its
    20 % (rounded, and at least one)."""
    labels = {f"images/{c}_{i}.jpg": c for c in ("cat", "dog", "owl") for i in range(6)}
    for seed in range(20):
        split = random_split(labels, 0.2, seed)
        for c in ("cat", "dog", "owl"):
            assert [split[f"images/{c}_{i}.jpg"] for i in range(6)].count("valid") == 1, (seed, c)
    uneven = {**{f"a_{i}": "a" for i in range(50)}, **{f"b_{i}": "b" for i in range(2)}, "c_0": "c"}
    counts = {c: [s for p, s in random_split(uneven, 0.2, 1).items() if uneven[p] == c].count("valid") for c in "abc"}
    assert counts == {"a": 10, "b": 1, "c": 0}  # one image: it must train


def test_official_split_uses_the_real_lists_and_carves_validation_out_of_trainval(tmp_path):
    names = pets_text("images.txt").split()
    touch(tmp_path, *[f"images/{n}" for n in names])
    (tmp_path / "annotations").mkdir()
    for name in ("trainval.txt", "test.txt"):
        (tmp_path / "annotations" / name).write_text(pets_text(f"annotations/{name}"))
    rows, classes, report = index(tmp_path, split="official")
    assert len(classes) == 37
    assert report["splits"] == {"train": 2944, "valid": 736, "test": 3669}
    reasons = [s["reason"] for s in report["skipped"]]
    assert reasons.count("not an image (.mat)") == 3 and reasons.count("in neither official list") == 41
    test_names = {line.split()[0] for line in pets_text("annotations/test.txt").splitlines()}
    assert all((Path(r["path"]).stem in test_names) == (r["split"] == "test") for r in rows)


def test_a_class_without_training_images_is_an_error(tmp_path):
    """The random split keeps one image of every class to train; a split column can leave a class none."""
    touch(tmp_path, *[f"images/cat_{i}.jpg" for i in range(20)], "images/dog_1.jpg")
    index(tmp_path, valid_frac=0.99)  # each class keeps an image to train
    rows = [f"images/cat_{i}.jpg,cat,{'valid' if i < 5 else 'train'}\n" for i in range(20)]
    (tmp_path / "labels.csv").write_text("file,label,split\n" + "".join(rows) + "images/dog_1.jpg,dog,valid\n")
    with pytest.raises(PetsError, match="class\\(es\\) dog have no training images"):
        index(tmp_path, split="csv")


def test_a_split_without_validation_images_is_refused(tmp_path):
    touch(tmp_path, *[f"images/{c}_{i}.jpg" for c in ("cat", "dog") for i in range(10)])
    assert index(tmp_path, valid_frac=0.01)[2]["splits"]["valid"] == 2  # at least one of each class to validate
    (tmp_path / "labels.csv").write_text(
        "file,label,split\n" + "".join(f"images/{c}_{i}.jpg,{c},train\n" for c in ("cat", "dog") for i in range(10))
    )
    with pytest.raises(PetsError, match=r"no image of 20 is left for validation; mark some valid in labels.csv"):
        index(tmp_path, split="csv")


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
    _, classes, report = index(tmp_path, images="train", label="folder", valid_frac=0.25)
    assert classes == ["cat", "dog"] and report["empty_classes"] == ["fox"]


def test_the_folder_rule_refuses_class_folders_at_different_depths(tmp_path):
    touch(tmp_path, *(f"cats/{n}.jpg" for n in range(5)), *(f"dogs/beagle/{n}.jpg" for n in range(5)))
    with pytest.raises(PetsError, match=r"but the class folder dogs holds subfolders of images \(beagle\), e.g. "
                       r"dogs/beagle/0.jpg: put each class's images directly in its folder, or set index.images: "
                       r"dogs if its subfolders are the classes"):  # fmt: skip
        index(tmp_path, images=".", label="folder")
    touch(tmp_path / "loose", *(f"cats/{n}.jpg" for n in range(5)), "stray.jpg")
    with pytest.raises(PetsError, match=r"but stray.jpg sits directly in \. beside the class folders"):
        index(tmp_path / "loose", images=".", label="folder")
    touch(tmp_path / "flat", "a.jpg", "b.jpg")
    with pytest.raises(PetsError, match=r"the images sit directly in \., e.g. a.jpg, not in class folders"):
        index(tmp_path / "flat", images=".", label="folder")


def test_class_folders_holding_subfolders_are_one_line_never_a_silent_merge(tmp_path):
    """cat/indoor, cat/outdoor and dog/indoor, all at one depth: read as classes `indoor` and `outdoor`, cat and dog
    would merge; the class folder holding subfolders is named instead."""
    touch(tmp_path, *(f"{c}/{p}/{n}.jpg" for c, p in (("cat", "indoor"), ("cat", "outdoor"), ("dog", "indoor"))
                      for n in range(6)))  # fmt: skip
    with pytest.raises(PetsError) as refused:
        index(tmp_path, images=".", label="folder")
    assert str(refused.value).startswith(
        "index.label is folder, which reads the folder right above each image as its class, but the class folder cat "
        "holds subfolders of images (indoor, outdoor), e.g. cat/indoor/0.jpg"
    )
    rows, classes, _ = index(tmp_path, images="cat", label="folder")  # its subfolders as the classes, as it says
    assert classes == ["indoor", "outdoor"] and len(rows) == 12


def test_fixes_relabel_and_drop_after_the_split_and_are_counted(tmp_path):
    names = [f"images/{breed}_{n}.jpg" for breed in ("cat", "dog") for n in range(10)]
    touch(tmp_path, *names)
    rows, _, _ = index(tmp_path)
    (tmp_path / "labels_fix.csv").write_text("file,label\nimages/cat_1.jpg,dog\nimages/dog_2.jpg,-\n")
    fixed, classes, report = index(tmp_path, fixes=str(tmp_path / "labels_fix.csv"))
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
        index(tmp_path, images=".", label="folder", min_per_class=5)
    with pytest.raises(PetsError, match=r"^class dogs has 1 image\(s\), fewer than index.min_per_class \(2\):"):
        index(tmp_path, images=".", label="folder", min_per_class=2)


def test_unreadable_names_stay_on_one_line_and_the_fix_fits_the_label_rule(tmp_path):
    touch(tmp_path, "images/Abyssinian_1.jpg", "images/two\nlines.jpg", "labels.csv")
    with pytest.raises(PetsError) as error:
        index(tmp_path)
    assert "\n" not in str(error.value) and "'images/two\\nlines.jpg'; fix index.pattern" in str(error.value)
    (tmp_path / "labels.csv").write_text("file,label\nimages/Abyssinian_1.jpg,cat\n")
    with pytest.raises(PetsError, match=r"cannot read 1 file name\(s\): .*; give each a row in labels.csv or set"):
        index(tmp_path, label="csv")
