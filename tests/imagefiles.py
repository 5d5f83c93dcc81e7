"""Image files of every odd kind, made in the test, for the decoder, the cache and the fixtures."""

import io

import numpy as np
from PIL import Image


def gradient(width=40, height=30):
    """An RGB image whose pixels say where they are: R grows left to right, G top to bottom."""
    x = np.linspace(0, 255, width).round().astype(np.uint8)
    y = np.linspace(0, 255, height).round().astype(np.uint8)
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 0] = x[None, :]
    pixels[..., 1] = y[:, None]
    pixels[..., 2] = 128
    return Image.fromarray(pixels)


def encode(image, fmt, **kwargs):
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def jpeg_with_corrupt_data(image):
    """A JPEG with stray bytes before its end marker: libjpeg decodes it with a 'Corrupt JPEG data' warning."""
    data = encode(image, "JPEG")
    return data[:-2] + b"\x00\x01\x02\x03" + data[-2:]


def odd_kinds():
    """{file name: bytes}: every kind of file the real Pets archive (and worse) holds behind an image name."""
    base = gradient()
    rgba = base.convert("RGBA")
    palette = base.convert("P", palette=Image.Palette.ADAPTIVE)
    transparent_palette = palette.copy()
    transparent_palette.info["transparency"] = 255  # an index the adaptive palette does not use: nothing hidden
    return {
        "rgb.jpg": encode(base, "JPEG"),
        "grey.jpg": encode(base.convert("L"), "JPEG"),
        "gif_behind.jpg": encode(palette, "GIF"),
        "palette_transparent.png": encode(transparent_palette, "PNG", transparency=255),
        "rgba_png_behind.jpg": encode(rgba, "PNG"),
        "rgb_png_behind.jpg": encode(base, "PNG"),
        "corrupt_data.jpg": jpeg_with_corrupt_data(base),
        "cmyk.jpg": encode(base.convert("CMYK"), "JPEG"),
        "sixteen_bit.png": encode(Image.fromarray(np.asarray(base.convert("L"), np.uint16) * 257), "PNG"),
    }


def bad_kinds():
    """{file name: bytes} that no decoder can read."""
    good = encode(gradient(), "JPEG")
    return {"empty.jpg": b"", "text.jpg": b"this is not an image\n", "truncated.jpg": good[: len(good) // 2]}


def write_images(root, colours):
    """{relative path: RGB colour} as solid PNGs; return index rows (label from the name)."""
    rows = []
    for i, (name, colour) in enumerate(colours.items()):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (30, 20), colour).save(path, format="PNG")
        rows.append(
            {"path": name, "label": name.split("/")[-1].split("_")[0], "split": "valid" if i % 3 == 2 else "train"}
        )
    return rows


def picture_folder(root, classes=("astronaut", "coffee", "chelsea"), per_class=20, wrong=()):
    """A user's folder of real photographs: `root/<class>/` with `per_class` crops of that scikit-image photograph,
    mixed JPEG and PNG, one upper-case .JPG, one name with a space and a hidden .DS_Store. `wrong` lists
    (photograph, n, folder): crop n of one photograph put in another's folder, a label wrong on purpose."""
    import skimage.data

    from pets.data.photos import random_crop

    rng = np.random.default_rng(0)
    misplaced = {(photo, n): folder for photo, n, folder in wrong}
    for name in classes:
        photo = getattr(skimage.data, name)()
        for n in range(per_class):
            crop = random_crop(photo, (int(rng.integers(2)), int(rng.integers(2))), rng)
            folder = root / misplaced.get((name, n), name)
            folder.mkdir(parents=True, exist_ok=True)
            stem = f"{name} {n}" if n == 1 else f"{name}_{n}"
            suffix = ".png" if n % 3 == 0 else ".JPG" if n == 2 else ".jpg"
            crop.save(folder / f"{stem}{suffix}", format="PNG" if suffix == ".png" else "JPEG", quality=90)
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    return root
