import tempfile

import numpy as np
import pytest
from PIL import Image

from pets.data.images import load_image
from tests.imagefiles import bad_kinds, encode, gradient, odd_kinds


@pytest.mark.parametrize("name", sorted(odd_kinds()))
def test_every_odd_kind_decodes_to_the_right_rgb_pixels(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(odd_kinds()[name])
    pixels = load_image(path, 24, "squish")
    assert pixels.shape == (24, 24, 3) and pixels.dtype == np.uint8
    expected = gradient().convert("L") if name.startswith(("grey", "sixteen")) else gradient()
    expected = np.asarray(expected.convert("RGB").resize((24, 24), Image.Resampling.BILINEAR), dtype=float)
    assert np.abs(pixels - expected).mean() < 12, "colours or geometry changed"


@pytest.mark.parametrize("name", sorted(bad_kinds()))
def test_undecodable_files_raise(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(bad_kinds()[name])
    with pytest.raises(OSError):  # Pillow's UnidentifiedImageError is one too
        load_image(path, 24)


def test_squish_keeps_pixels_where_they_were():
    image = gradient(64, 64)
    pixels = load_image_from(image, 64, "squish")
    assert np.abs(pixels.astype(int) - np.asarray(image, dtype=int)).max() <= 1


def test_crop_keeps_the_centre_of_the_longer_side():
    wide = np.zeros((20, 60, 3), np.uint8)
    wide[:, 20:40] = 255  # a white centre third, black sides
    pixels = load_image_from(Image.fromarray(wide), 20, "crop")
    assert pixels.min() == 255


def test_transparency_lands_on_white():
    rgba = np.zeros((10, 10, 4), np.uint8)  # fully transparent black
    pixels = load_image_from(Image.fromarray(rgba), 10, "squish")
    assert pixels.min() == 255


def test_sixteen_bit_png_is_scaled_not_clipped():
    grey = np.full((10, 10), 32768, np.uint16)  # half of the 16-bit range
    pixels = load_image_from(Image.fromarray(grey), 10, "squish")
    assert abs(int(pixels[5, 5, 0]) - 128) <= 1


def test_exif_orientation_is_applied(tmp_path):
    tall = np.zeros((40, 20, 3), np.uint8)
    tall[:20] = 255  # top half white
    image = Image.fromarray(tall)
    exif = image.getexif()
    exif[0x0112] = 6  # stored rotated: "rotate 90 clockwise to view"
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif.tobytes(), quality=95)
    pixels = load_image(path, 20, "squish")
    # upright, the white half is on the right
    assert pixels[:, -3:].mean() > 200 and pixels[:, :3].mean() < 50


def test_first_frame_of_an_animated_gif(tmp_path):
    frames = [Image.new("RGB", (10, 10), colour) for colour in ("red", "blue")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    pixels = load_image(path, 10, "squish")
    assert pixels[5, 5, 0] > 200 and pixels[5, 5, 2] < 50


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    path = tmp_path / "big.png"
    Image.new("RGB", (100, 100)).save(path)
    with pytest.raises(Image.DecompressionBombError):
        load_image(path, 10)


def load_image_from(image, resolution, resize):
    with tempfile.NamedTemporaryFile(suffix=".png") as file:
        file.write(encode(image, "PNG"))
        file.flush()
        return load_image(file.name, resolution, resize)
