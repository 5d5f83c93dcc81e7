"""A local folder of pictures as a dataset (`folder: PATH`): its state, its copy into data/raw, and the folders it
refuses, each in one line; the user's files are never changed."""

import os

import pytest

from pets.data.folder import copy_tree, tree_state
from pets.errors import PetsError
from tests.imagefiles import encode, gradient


def pictures(root):
    for path in ("cats/1.jpg", "cats/2.jpg", "dogs/a b.PNG", "dogs/.hidden.jpg", ".git/config", "notes.txt"):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(encode(gradient(), "PNG") if path.endswith(("jpg", "PNG")) else b"text")
    return root


def snapshot(root):
    """Every file's bytes, mtime, mode and inode link count: what the user owns."""
    return {
        p: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode, p.stat().st_ino)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_the_state_lists_every_file_but_hidden_ones_with_size_and_mtime(tmp_path):
    root = pictures(tmp_path / "pictures")
    state = tree_state(root, "pictures")
    assert [name for name, _, _ in state] == ["cats/1.jpg", "cats/2.jpg", "dogs/a b.PNG", "notes.txt"]
    assert state[0][1:] == [(root / "cats/1.jpg").stat().st_size, (root / "cats/1.jpg").stat().st_mtime_ns]
    (root / "cats/3.jpg").write_bytes(b"x")
    assert len(tree_state(root, "pictures")) == 5  # a picture added: a new state


def test_the_copy_keeps_the_layout_and_changes_nothing_of_the_users(tmp_path):
    root = pictures(tmp_path / "pictures")
    before = snapshot(root)
    target = tmp_path / "raw"
    assert copy_tree(root, target, "pictures") == 4
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == [
        "cats/1.jpg", "cats/2.jpg", "dogs/a b.PNG", "notes.txt"
    ]  # fmt: skip
    assert (target / "cats/1.jpg").read_bytes() == (root / "cats/1.jpg").read_bytes()
    assert (target / "cats/1.jpg").stat().st_ino == (root / "cats/1.jpg").stat().st_ino  # a hard link here
    assert {p: v[:3] for p, v in snapshot(root).items()} == {p: v[:3] for p, v in before.items()}


def test_a_folder_that_changes_while_it_is_copied_fails_naming_a_file(tmp_path, monkeypatch):
    root = pictures(tmp_path / "pictures")
    real_link = os.link

    def link_then_touch(source, target):
        real_link(source, target)
        if str(source).endswith("2.jpg"):
            (root / "cats/new.jpg").write_bytes(b"written meanwhile")

    monkeypatch.setattr(os, "link", link_then_touch)
    with pytest.raises(PetsError, match=r"changed while download copied it \(cats/new.jpg\); nothing was kept"):
        copy_tree(root, tmp_path / "raw", "pictures")


def test_where_links_fail_the_files_are_copied(tmp_path, monkeypatch):
    root = pictures(tmp_path / "pictures")

    def no_links(source, target):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    copy_tree(root, tmp_path / "raw", "pictures")
    copy = tmp_path / "raw/cats/1.jpg"
    assert copy.read_bytes() == (root / "cats/1.jpg").read_bytes()
    assert copy.stat().st_ino != (root / "cats/1.jpg").stat().st_ino
    assert copy.stat().st_mtime_ns == (root / "cats/1.jpg").stat().st_mtime_ns


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda root: None, r"pictures: no such folder \(params.yaml: datasets.mine.folder\)"),
        (lambda root: root.write_bytes(b"x"), r"pictures is a file, not a folder of pictures"),
        (lambda root: root.mkdir(), r"pictures holds no files"),
        (lambda root: (root.mkdir(), (root / ".DS_Store").write_bytes(b"")), r"pictures holds no files"),
        (
            lambda root: (root.mkdir(), (root / "a.txt").write_bytes(b""), (root / "b.csv").write_bytes(b"")),
            r"pictures holds 2 file\(s\) but no images \(.bmp, .gif, .jpeg, .jpg, .png, .tif, .tiff, .webp\), "
            r"e.g. a.txt, b.csv",
        ),
        (
            lambda root: (root.mkdir(), (root / "cats").mkdir(), (root / "cats/loop").symlink_to(root)),
            r"cats/loop is a link to .*/pictures, a folder it is in: a symlink loop",
        ),
        (
            lambda root: (root.mkdir(), (root / "gone.jpg").symlink_to(root / "nowhere.jpg")),
            r"gone.jpg is a link to .*nowhere.jpg, which does not exist",
        ),
    ],
    ids=["missing", "a file", "empty", "only hidden", "no images", "symlink loop", "broken link"],
)
def test_a_folder_that_cannot_be_used_is_one_line_naming_it(tmp_path, make, message):
    make(tmp_path / "pictures")
    with pytest.raises(PetsError, match=message) as error:
        tree_state(tmp_path / "pictures", "mine")
    assert "\n" not in str(error.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_an_unreadable_folder_is_named(tmp_path):
    root = pictures(tmp_path / "pictures")
    (root / "dogs").chmod(0)
    try:
        with pytest.raises(PetsError, match=r"pictures/dogs: cannot read this folder \(permission denied\)"):
            tree_state(root, "pictures")
    finally:
        (root / "dogs").chmod(0o755)


def test_a_folder_holding_the_project_data_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/raw").mkdir(parents=True)
    with pytest.raises(PetsError, match=r"holds this project's data/ folder"):
        tree_state(tmp_path, "mine")
    with pytest.raises(PetsError, match=r"holds this project's data/ folder"):
        tree_state(tmp_path / "data/raw", "mine")


def test_a_folder_the_system_refuses_to_list_is_named(tmp_path, monkeypatch):
    """As the chmod test above, where the tests run as root (it reads every folder)."""
    root = pictures(tmp_path / "pictures")
    real_scandir = os.scandir

    def refuse_dogs(path):
        if str(path).endswith("dogs"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", refuse_dogs)
    with pytest.raises(PetsError, match=r"pictures/dogs: cannot read this folder \(permission denied\)"):
        tree_state(root, "pictures")
