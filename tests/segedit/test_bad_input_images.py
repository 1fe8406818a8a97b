"""Reading awkward image files: every quirk becomes RGB uint8, every unreadable file one ImageError line."""
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from segedit_files import png_header_only

from segedit import images
from segedit.errors import ImageError
from segedit.images import load_image
from segedit.resize import downscale, scaled_size


@pytest.fixture
def quadrants() -> np.ndarray:
    """40x60 RGB with four flat colours, so lossy formats and rotations stay easy to check."""
    picture = np.zeros((40, 60, 3), dtype=np.uint8)
    picture[:20, :30] = (200, 30, 30)
    picture[:20, 30:] = (30, 200, 30)
    picture[20:, :30] = (30, 30, 200)
    picture[20:, 30:] = (220, 220, 40)
    return picture


@pytest.mark.parametrize("suffix, lossless", [
    (".jpg", False), (".png", True), (".webp", False), (".bmp", True), (".tif", True),
])
def test_supported_formats(tmp_path, quadrants, suffix, lossless):
    path = tmp_path / f"picture{suffix}"
    Image.fromarray(quadrants).save(path)
    loaded = load_image(path)
    assert loaded.rgb.dtype == np.uint8 and loaded.rgb.shape == quadrants.shape and loaded.notes == []
    difference = np.abs(loaded.rgb.astype(int) - quadrants)
    assert difference.max() == 0 if lossless else difference.mean() < 5


def unreadable_files(directory: Path, quadrants: np.ndarray) -> dict[str, Path]:
    Image.fromarray(quadrants).save(directory / "good.jpg")
    Image.fromarray(quadrants).save(directory / "good.png")
    jpeg, png = (directory / "good.jpg").read_bytes(), (directory / "good.png").read_bytes()
    corrupt = bytearray(png)
    corrupt[60:120] = bytes(60)  # zeroes over the compressed pixel data
    files = {
        "truncated JPEG": (directory / "cut.jpg", jpeg[: len(jpeg) // 2]),
        "truncated PNG": (directory / "cut.png", png[: len(png) // 2]),
        "corrupt PNG": (directory / "corrupt.png", bytes(corrupt)),
        "text named .jpg": (directory / "notes.jpg", b"these are my holiday notes\n"),
        "empty file": (directory / "empty.png", b""),
    }
    for path, data in files.values():
        path.write_bytes(data)
    return {kind: path for kind, (path, _) in files.items()}


def test_unreadable_files_raise_one_line_naming_the_file(tmp_path, quadrants):
    for kind, path in unreadable_files(tmp_path, quadrants).items():
        with pytest.raises(ImageError) as caught:
            load_image(path)
        message = str(caught.value)
        assert message.startswith(f"{path}: ") and "\n" not in message, kind
        assert "not a readable image" in message or "not an image file" in message, kind
    with pytest.raises(ImageError, match="missing.png: file not found"):
        load_image(tmp_path / "missing.png")


def test_sixteen_bit_grayscale_png_is_scaled_not_clipped(tmp_path):
    levels = np.array([[0, 257 * 64, 257 * 128, 65535]], dtype=np.uint16).repeat(4, axis=0)
    Image.fromarray(levels).save(tmp_path / "depth.png")
    loaded = load_image(tmp_path / "depth.png")
    assert loaded.rgb.dtype == np.uint8 and loaded.rgb.shape == (4, 4, 3)
    assert loaded.rgb[0, :, 0].tolist() == [0, 64, 128, 255]
    assert np.array_equal(loaded.rgb[..., 0], loaded.rgb[..., 2])
    assert loaded.notes == ["I;16 scaled to 8 bits"]


def test_sixteen_bit_rgb_png_keeps_its_colours(tmp_path, quadrants):
    cv2.imwrite(str(tmp_path / "deep.png"), quadrants[..., ::-1].astype(np.uint16) * 257)
    assert np.array_equal(load_image(tmp_path / "deep.png").rgb, quadrants)


def test_rgba_is_composited_on_white(tmp_path, quadrants):
    alpha = np.full(quadrants.shape[:2], 255, dtype=np.uint8)
    alpha[:, :20] = 0
    alpha[:, 20:40] = 128
    Image.fromarray(np.dstack([quadrants, alpha])).save(tmp_path / "cutout.png")
    loaded = load_image(tmp_path / "cutout.png")
    assert (loaded.rgb[:, :20] == 255).all()
    assert np.array_equal(loaded.rgb[:, 40:], quadrants[:, 40:])
    half = quadrants[:, 20:40].astype(int) * 128 / 255 + 255 * 127 / 255
    assert np.abs(loaded.rgb[:, 20:40] - half).max() <= 1
    assert loaded.notes == ["alpha composited on white"]


@pytest.mark.parametrize("mode", ["L", "LA", "P", "1"])
def test_grayscale_and_palette_become_rgb(tmp_path, quadrants, mode):
    source = Image.fromarray(quadrants).convert(mode)
    source.save(tmp_path / "converted.png")
    loaded = load_image(tmp_path / "converted.png")
    assert loaded.rgb.shape == quadrants.shape and loaded.rgb.dtype == np.uint8
    assert np.array_equal(loaded.rgb, np.asarray(source.convert("RGB")))
    assert len(loaded.notes) == 1


def test_palette_with_transparency_is_composited_on_white(tmp_path, quadrants):
    palette_image = Image.fromarray(quadrants).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    transparent_index = palette_image.getpixel((0, 0))
    palette_image.save(tmp_path / "sticker.png", transparency=transparent_index)
    loaded = load_image(tmp_path / "sticker.png")
    assert (loaded.rgb[:20, :30] == 255).all()
    assert loaded.notes == ["alpha composited on white"]


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path, quadrants):
    Image.fromarray(quadrants).convert("CMYK").save(tmp_path / "print.jpg", quality=95)
    loaded = load_image(tmp_path / "print.jpg")
    assert loaded.rgb.shape == quadrants.shape
    # away from the JPEG block edges the flat colours come back
    assert np.abs(loaded.rgb[5:15, 5:25].astype(int) - quadrants[5:15, 5:25]).max() < 25
    assert loaded.notes == ["CMYK converted to RGB"]


def test_exif_orientation_is_applied(tmp_path, quadrants):
    picture = Image.fromarray(quadrants)
    exif = picture.getexif()
    exif[0x0112] = 6  # the camera was turned: show the stored pixels rotated 90 degrees clockwise
    picture.save(tmp_path / "portrait.jpg", exif=exif, quality=95)
    loaded = load_image(tmp_path / "portrait.jpg")
    upright = np.rot90(quadrants, k=-1)
    assert loaded.rgb.shape == upright.shape == (60, 40, 3)
    assert np.abs(loaded.rgb[5:25, 5:15].astype(int) - upright[5:25, 5:15]).max() < 25
    assert loaded.notes == ["EXIF orientation applied"]


def test_decompression_bomb_header_is_refused_before_decoding(tmp_path):
    bomb = png_header_only(tmp_path / "bomb.png", 100_000, 100_000)
    with pytest.raises(ImageError, match="bomb.png: image too large to decode safely") as caught:
        load_image(bomb)
    assert "\n" not in str(caught.value)


def test_images_above_the_pixel_limit_are_refused(tmp_path, quadrants, monkeypatch):
    Image.fromarray(quadrants).save(tmp_path / "wide.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    with pytest.raises(ImageError, match="wide.png: 60x40 is larger than the .* limit"):
        load_image(tmp_path / "wide.png")


def test_pil_warning_threshold_is_not_a_second_limit(tmp_path, monkeypatch):
    """PIL warns from half its hard limit; a file between the two is within MAX_PIXELS and decodes."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    monkeypatch.setattr(images, "MAX_PIXELS", 2000)
    Image.fromarray(np.zeros((30, 50, 3), dtype=np.uint8)).save(tmp_path / "between.png")
    assert load_image(tmp_path / "between.png").rgb.shape == (30, 50, 3)


def test_max_side_downscales_a_copy_keeping_the_aspect_ratio(quadrants):
    small = downscale(quadrants, 30)
    assert small.shape == (20, 30, 3) and small is not quadrants
    assert tuple(small[5, 5]) == tuple(quadrants[10, 10])  # area interpolation keeps flat quadrants' colours
    assert downscale(quadrants, 60) is quadrants and scaled_size(5000, 1, 100) == (100, 1)
