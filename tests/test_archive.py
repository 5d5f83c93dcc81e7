import gzip
import io
import lzma
import tarfile
import zipfile

import pytest

from pets.config.schema import check_recipe
from pets.data.archive import unpack
from pets.data.recipes import prepare_dataset
from pets.errors import PetsError


def make_tar(path, members, mode="w"):
    """members: (name, bytes) for files, or (name, TarInfo-like dict) for special entries."""
    with tarfile.open(path, mode) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, bytes):
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
            else:
                for key, value in content.items():
                    setattr(info, key, value)
                tar.addfile(info)
    return path


def test_plain_tar_behind_a_gz_name_unpacks(tmp_path):
    archive = make_tar(tmp_path / "images.tar.gz", [("images/a_1.jpg", b"a")], mode="w")  # not compressed
    unpack(archive, tmp_path / "out")
    assert (tmp_path / "out/images/a_1.jpg").read_bytes() == b"a"


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz"])
def test_compression_is_detected_from_the_bytes(tmp_path, mode):
    archive = make_tar(tmp_path / "data.bin", [("images/a_1.jpg", b"abc")], mode=mode)
    unpack(archive, tmp_path / "out")
    assert (tmp_path / "out/images/a_1.jpg").read_bytes() == b"abc"


def test_strip_drops_the_leading_folder(tmp_path):
    archive = make_tar(
        tmp_path / "pet.tgz",
        [("oxford-iiit-pet/images/a_1.jpg", b"a"), ("oxford-iiit-pet/annotations/list.txt", b"l")],
        mode="w:gz",
    )
    unpack(archive, tmp_path / "out", strip=1)
    assert (tmp_path / "out/images/a_1.jpg").exists() and (tmp_path / "out/annotations/list.txt").exists()


def test_zip_unpacks(tmp_path):
    with zipfile.ZipFile(tmp_path / "d.zip", "w") as zf:
        zf.writestr("images/b_2.png", b"png")
    unpack(tmp_path / "d.zip", tmp_path / "out")
    assert (tmp_path / "out/images/b_2.png").read_bytes() == b"png"


@pytest.mark.parametrize(
    "member, reason",
    [
        (("/etc/evil", b"x"), "absolute path"),
        (("images/../../evil", b"x"), "'..'"),
        (("images/link", {"type": tarfile.SYMTYPE, "linkname": "../../etc/passwd"}), "points outside"),
        (("images/abs_link", {"type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}), "points outside"),
        (("images/hard", {"type": tarfile.LNKTYPE, "linkname": "../outside"}), "points outside"),
        (("images/dev", {"type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}), "device"),
    ],
)
def test_unsafe_tar_members_are_refused_by_name_and_nothing_is_written(tmp_path, member, reason):
    archive = make_tar(tmp_path / "bad.tar", [("images/ok.jpg", b"ok"), member])
    out = tmp_path / "deep/out"
    out.mkdir(parents=True)
    with pytest.raises(PetsError, match=reason) as error:
        unpack(archive, out)
    assert repr(member[0]) in str(error.value)
    assert list(out.iterdir()) == []
    assert not (tmp_path / "evil").exists() and not (tmp_path / "deep/evil").exists()


def test_symlink_inside_the_archive_is_allowed(tmp_path):
    archive = make_tar(
        tmp_path / "ok.tar", [("images/a.jpg", b"a"), ("images/b.jpg", {"type": tarfile.SYMTYPE, "linkname": "a.jpg"})]
    )
    unpack(archive, tmp_path / "out")
    assert (tmp_path / "out/images/b.jpg").read_bytes() == b"a"


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt"])
def test_unsafe_zip_members_are_refused(tmp_path, name):
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        zf.writestr(name, b"x")
    with pytest.raises(PetsError, match="refusing"):
        unpack(tmp_path / "bad.zip", tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_zip_symlink_is_refused(tmp_path):
    info = zipfile.ZipInfo("images/link")
    info.external_attr = 0o120777 << 16
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(PetsError, match="images/link"):
        unpack(tmp_path / "bad.zip", tmp_path / "out")


def test_archive_that_unpacks_beyond_the_limit_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("images/zeros.bin", b"\0" * 2_000_000)
    assert (tmp_path / "bomb.zip").stat().st_size < 50_000
    (tmp_path / "out").mkdir()
    with pytest.raises(PetsError, match="more than 1,000,000 bytes"):
        unpack(tmp_path / "bomb.zip", tmp_path / "out", max_bytes=1_000_000)
    assert list((tmp_path / "out").iterdir()) == []


def test_not_an_archive_is_a_clear_error(tmp_path):
    (tmp_path / "page.tgz").write_text("<html>")
    with pytest.raises(PetsError, match="not a tar or zip archive"):
        unpack(tmp_path / "page.tgz", tmp_path / "out")


def test_a_recipe_sets_the_unpacked_size_limit(tmp_path):
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("images/zeros.bin", b"\0" * 3_000_000)
    recipe = {"max_unpacked_gb": 0.002, "sources": [{"archives": [{"url": str(tmp_path / "bomb.zip")}]}]}
    with pytest.raises(PetsError, match="more than 2,000,000 bytes .*images/zeros.bin"):
        prepare_dataset("bombs", recipe, tmp_path / "raw", tmp_path / "downloads")
    assert not (tmp_path / "raw").exists()


def sixty_members():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for i in range(60):
            info = tarfile.TarInfo(f"images/x_{i}.jpg")
            info.size = 700  # one header block and two data blocks: 1536 bytes a member
            tar.addfile(info, io.BytesIO(bytes([i]) * 700))
    return buffer.getvalue()


def damaged_header(data, member):
    data = bytearray(data)
    data[member * 1536 + 10] ^= 0xFF  # a byte of its name: the header's checksum no longer matches
    return bytes(data)


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("cut.tar", sixty_members()[: 30 * 1536], "cut short or damaged after 30 member"),
        ("damaged.tar.gz", gzip.compress(damaged_header(sixty_members(), 30)), "cut short or damaged after 30 member"),
        ("no_trailer.tar.gz", gzip.compress(sixty_members())[:-8], "ended before the end-of-stream marker"),
        (
            "bad_crc.tar.gz",
            gzip.compress(sixty_members())[:-8] + b"\0\0\0\0" + gzip.compress(sixty_members())[-4:],
            "CRC check failed",
        ),
        ("cut.tar.xz", lzma.compress(sixty_members())[:-100], "damaged archive"),
    ],
)
def test_a_cut_or_damaged_archive_is_refused_whole_before_anything_is_unpacked(tmp_path, name, data, reason):
    (tmp_path / name).write_bytes(data)
    (tmp_path / "out").mkdir()
    with pytest.raises(PetsError, match=reason) as error:
        unpack(tmp_path / name, tmp_path / "out")
    assert str(tmp_path / name) in str(error.value) and "delete it and run again" in str(error.value)
    assert list((tmp_path / "out").iterdir()) == []


def test_the_whole_archive_unpacks_when_nothing_is_wrong(tmp_path):
    (tmp_path / "whole.tar.gz").write_bytes(gzip.compress(sixty_members()))
    unpack(tmp_path / "whole.tar.gz", tmp_path / "out")
    assert len(list((tmp_path / "out/images").iterdir())) == 60


@pytest.mark.parametrize(
    "archive, message",
    [
        ({"url": "x.tar", "strip": "1"}, r"datasets.d.sources\[0\].archives\[0\].strip must be an integer, not '1'"),
        ({"url": "x.tar", "size": -5}, r"archives\[0\].size is -5; it must be > 0"),
        ({"url": "x.tar", "sha256": "abc"}, r"archives\[0\].sha256 is 'abc'; a sha256 is 64 hexadecimal digits"),
    ],
)
def test_archive_settings_of_the_wrong_type_are_named_before_any_download(tmp_path, archive, message):
    with pytest.raises(PetsError, match=message):
        check_recipe("d", {"sources": [{"archives": [archive]}]})


def test_a_size_limit_given_as_a_string_is_named(tmp_path):
    recipe = {"max_unpacked_gb": "64", "sources": [{"archives": [{"url": "x.tar"}]}]}
    with pytest.raises(PetsError, match="datasets.d.max_unpacked_gb must be a number, not '64'"):
        check_recipe("d", recipe)


@pytest.mark.parametrize(
    "links, reason",
    [
        ([("images/loop", "..")], r"link 'images/loop' points to '.', a folder it is in \(a symlink loop\)"),
        ([("images/again", ".")], r"link 'images/again' points to 'images', a folder it is in \(a symlink loop\)"),
        ([("images/a", "b"), ("images/b", "a")], r"link 'images/a' is part of a cycle of links"),
    ],
    ids=["to the root", "to its own folder", "a cycle"],
)
def test_a_symlink_loop_is_refused_naming_the_archive_and_the_link_before_anything_is_written(tmp_path, links, reason):
    members = [("images/cat_1.jpg", b"a")] + [(name, {"type": tarfile.SYMTYPE, "linkname": to}) for name, to in links]
    archive = make_tar(tmp_path / "loop.tar", members)
    (tmp_path / "out").mkdir()
    with pytest.raises(PetsError, match=r"loop.tar: " + reason + "; refusing to unpack"):
        unpack(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_strip_that_leaves_nothing_is_an_error_naming_it(tmp_path):
    archive = make_tar(tmp_path / "a.tar", [("pets/images/cat_1.jpg", b"a"), ("pets/images/cat_2.jpg", b"b")])
    (tmp_path / "out").mkdir()
    with pytest.raises(PetsError, match=r"a.tar: nothing is left to unpack with strip: 5: its members are at most 2 "
                       r"folder\(s\) deep \(e.g. 'pets/images/cat_1.jpg'\); lower strip"):  # fmt: skip
        unpack(archive, tmp_path / "out", strip=5)
    zipped = tmp_path / "a.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("pets/cat_1.jpg", b"a")
    with pytest.raises(PetsError, match=r"a.zip: nothing is left to unpack with strip: 2"):
        unpack(zipped, tmp_path / "out", strip=2)
