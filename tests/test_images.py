"""load_image on a generated corpus of bad and unusual inputs (refusals name the input and the limit)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from multimodal.errors import ConfigError, DependencyError, ImageTooLargeError, InvalidImageError
from multimodal.images import ImageLimits, load_image
from multimodal.images import load as images_mod
from tests import image_corpus as corpus


def _write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ---- refusals -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "match"),
    [
        ("empty.jpg", b"", r"empty\.jpg: empty file \(0 bytes\)"),
        ("notes.jpg", corpus.TEXT, r"notes\.jpg: not an image, it looks like text"),
        ("page.jpg", corpus.HTML, r"page\.jpg: not an image, it looks like an HTML page"),
        ("doc.png", corpus.minimal_pdf(), r"doc\.png: not an image, it looks like a PDF document"),
        ("logo.png", corpus.SVG, r"logo\.png: not an image, it looks like an SVG drawing"),
        ("archive.jpg", b"PK\x03\x04" + b"\x00" * 64, r"looks like a ZIP archive"),
        ("noise.jpg", bytes(range(256)) * 4, r"noise\.jpg: not a recognised image \(accepted formats: JPEG"),
    ],
)
def test_non_images_are_refused_with_what_they_look_like(tmp_path, name, data, match):
    with pytest.raises(InvalidImageError, match=match):
        load_image(_write(tmp_path, name, data))


@pytest.mark.parametrize("fmt", ["ICO", "PCX", "TGA", "PPM"])
def test_formats_outside_the_accepted_list_are_not_decoded(tmp_path, fmt):
    path = _write(tmp_path, f"x.{fmt.lower()}", corpus.other_format(fmt))
    with pytest.raises(InvalidImageError, match="not a recognised image"):
        load_image(path)


def test_truncated_jpeg_is_refused(tmp_path):
    data = corpus.jpeg_bytes(corpus.gradient(200, 150), quality=95)
    with pytest.raises(InvalidImageError, match=r"cut\.jpg: truncated or corrupt JPEG data"):
        load_image(_write(tmp_path, "cut.jpg", data[: len(data) // 2]))


def test_truncated_png_is_refused(tmp_path):
    data = corpus.png_bytes(corpus.gradient(200, 150))
    with pytest.raises(InvalidImageError, match=r"cut\.png: (truncated or corrupt|corrupt image header)"):
        load_image(_write(tmp_path, "cut.png", data[: len(data) // 2]))


def test_decompression_bomb_is_refused_before_decoding(tmp_path, monkeypatch):
    path = _write(tmp_path, "bomb.png", corpus.png_with_declared_size(9000, 9000))
    assert path.stat().st_size < 200  # tiny file, 81 MP canvas
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(1))
    with pytest.raises(ImageTooLargeError, match=r"bomb\.png: 9000x9000 = 81\.0 MP is over the 64\.0 MP pixel lim"):
        load_image(path)
    assert decoded == []  # refused from the header alone


def test_absurd_declared_size_is_refused(tmp_path):
    msg = r"huge\.png: 900\.0 MP is over the 64\.0 MP pixel limit .*refused before decoding"
    with pytest.raises(ImageTooLargeError, match=msg):
        load_image(_write(tmp_path, "huge.png", corpus.png_with_declared_size(30000, 30000)))


def test_pixel_cap_is_configurable(tmp_path):
    path = _write(tmp_path, "small.png", corpus.png_bytes(corpus.gradient(100, 100)))
    with pytest.raises(ImageTooLargeError, match=r"100x100 = 0\.0 MP is over the 0\.0 MP pixel limit"):
        load_image(path, limits=ImageLimits(max_pixels=5_000))
    assert load_image(path, limits=ImageLimits(max_pixels=10_000)).size == (100, 100)


def test_long_thin_strip_is_refused(tmp_path):
    strip = Image.new("RGB", (1, 100_000), (10, 20, 30))
    with pytest.raises(ImageTooLargeError, match=r"1x100000 has a side over 20000 px"):
        load_image(_write(tmp_path, "strip.png", corpus.png_bytes(strip)))
    ribbon = Image.new("RGB", (5000, 20), (10, 20, 30))
    with pytest.raises(ImageTooLargeError, match=r"aspect ratio of 250:1, over the 50:1 limit"):
        load_image(_write(tmp_path, "ribbon.png", corpus.png_bytes(ribbon)))


def test_file_over_the_byte_cap_is_refused_without_reading(tmp_path, monkeypatch):
    path = _write(tmp_path, "big.jpg", corpus.jpeg_bytes(corpus.gradient(300, 300), quality=100))
    monkeypatch.setattr(type(path), "read_bytes", lambda self: pytest.fail("read a file over the cap"))
    with pytest.raises(ImageTooLargeError, match=r"big\.jpg: \d+\.\d KB is over the 1\.0 KB limit"):
        load_image(path, limits=ImageLimits(max_bytes=1000))


def test_bytes_and_file_objects_are_capped_too():
    data = corpus.jpeg_bytes(corpus.gradient(300, 300), quality=100)
    with pytest.raises(ImageTooLargeError, match=r"<bytes>: .* over the"):
        load_image(data, limits=ImageLimits(max_bytes=1000))
    with pytest.raises(ImageTooLargeError, match=r"upload\.jpg: .* over the"):
        load_image(io.BytesIO(data), limits=ImageLimits(max_bytes=1000), name="upload.jpg")


def test_missing_file_folder_and_wrong_types(tmp_path):
    with pytest.raises(InvalidImageError, match=r"nothere\.png: file not found"):
        load_image(tmp_path / "nothere.png")
    with pytest.raises(InvalidImageError, match="is a folder, not an image file"):
        load_image(tmp_path)
    with pytest.raises(InvalidImageError, match="cannot load an image from int"):
        load_image(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidImageError, match="open it in binary mode"):
        load_image(io.StringIO("abc"))


def test_limits_are_validated():
    with pytest.raises(ConfigError, match="max_pixels must be positive"):
        ImageLimits(max_pixels=0)
    with pytest.raises(ConfigError, match="max_aspect must be >= 1"):
        ImageLimits(max_aspect=0.5)


def test_old_pillow_is_refused(monkeypatch):
    import PIL

    images_mod.check_pillow.cache_clear()
    monkeypatch.setattr(PIL, "__version__", "11.0.0")
    try:
        with pytest.raises(DependencyError, match=r"Pillow 11\.0\.0 lacks security fixes.*pillow>=12\.3"):
            load_image(corpus.gradient())
    finally:
        images_mod.check_pillow.cache_clear()


# ---- unusual but valid inputs ---------------------------------------------------------------------------


def _rgb(img: Image.Image, xy) -> tuple[int, int, int]:
    assert img.mode == "RGB"
    return img.getpixel(xy)


def test_exif_orientation_is_applied():
    img = load_image(corpus.exif_rotated_jpeg(6))  # 6 = rotate 90 degrees clockwise to display
    assert img.size == (20, 60)
    top, bottom = _rgb(img, (10, 5)), _rgb(img, (10, 55))
    assert top[0] > 200 and top[2] < 60  # the red (left) half is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_corrupt_exif_still_loads():
    assert load_image(corpus.corrupt_exif_jpeg()).size == (96, 64)


def test_cmyk_jpeg_becomes_rgb():
    r, g, b = _rgb(load_image(corpus.cmyk_jpeg()), (16, 16))
    assert r > 200 and g < 60 and b < 60


def test_sixteen_bit_grey_is_scaled_not_clipped():
    img = load_image(corpus.gray16_png())
    assert _rgb(img, (2, 2)) == (255, 255, 255)
    assert _rgb(img, (12, 2)) == (128, 128, 128)


def test_palette_transparency_and_la_alpha_are_composited_on_white():
    pal = load_image(corpus.palette_transparent_png())
    assert _rgb(pal, (2, 2)) == (255, 255, 255) and _rgb(pal, (12, 2)) == (255, 0, 0)
    la = load_image(corpus.la_png())
    assert _rgb(la, (2, 2)) == (255, 255, 255) and _rgb(la, (12, 2)) == (0, 0, 0)


def test_rgba_is_composited_on_white():
    img = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    img.paste((0, 0, 255, 255), (5, 0, 10, 10))
    out = load_image(corpus.png_bytes(img))
    assert _rgb(out, (1, 1)) == (255, 255, 255) and _rgb(out, (8, 1)) == (0, 0, 255)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animations_give_their_first_frame(fmt):
    r, g, b = _rgb(load_image(corpus.animated(fmt)), (12, 12))
    assert g > 150 and r < 60 and b < 60


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "WEBP"])
def test_other_accepted_formats_load(fmt):
    assert load_image(corpus.other_format(fmt)).size == (32, 32)


@pytest.mark.parametrize("mode", ["L", "1", "I", "F", "I;16"])
def test_grey_and_bilevel_modes_become_rgb(mode):
    arr = np.full((6, 6), 200 if mode not in ("1",) else 1)
    img = (
        Image.fromarray(
            arr.astype({"1": np.uint8, "I": np.int32, "F": np.float32, "I;16": np.uint16}.get(mode, np.uint8))
        ).convert(mode)
        if mode != "I;16"
        else Image.fromarray(arr.astype(np.uint16) * 256)
    )
    out = load_image(img)
    assert out.mode == "RGB" and out.size == (6, 6)


def test_large_jpeg_is_draft_decoded_but_covers_the_request():
    big = corpus.jpeg_bytes(corpus.gradient(2400, 1800), quality=85)
    full = load_image(big)
    small = load_image(big, draft_size=224)
    assert full.size == (2400, 1800)
    assert small.size == (300, 225)  # 1/8 scale is the smallest that keeps the short side >= 224
    assert min(load_image(big, draft_size=500).size) >= 500


def _bilevel_png(side: int) -> bytes:
    arr = np.zeros((side, side), bool)
    arr[::40, :] = True
    arr[:, ::7] = True
    return corpus.png_bytes(Image.fromarray(arr))


def test_large_bilevel_png_is_reduced_before_it_becomes_rgb(monkeypatch):
    data = _bilevel_png(4000)
    made = []  # (mode, pixels) of every image a conversion produced
    real_convert = Image.Image.convert

    def spy(self, *args, **kwargs):
        out = real_convert(self, *args, **kwargs)
        made.append((out.mode, out.width * out.height))
        return out

    monkeypatch.setattr(Image.Image, "convert", spy)
    small = load_image(data, draft_size=224)
    assert small.mode == "RGB" and small.size == (500, 500)  # factor 8 keeps the short side >= 2 x 224
    assert max(px for _, px in made) <= 1_000_000  # band by band: never a full-size 16 MP L or RGB copy
    monkeypatch.setattr(Image.Image, "convert", real_convert)
    ref = Image.open(io.BytesIO(data)).convert("L").reduce(8).convert("RGB")
    assert np.array_equal(np.asarray(small), np.asarray(ref))
    assert load_image(data).size == (4000, 4000)  # no draft_size: full size, as asked


def test_small_images_are_not_reduced():
    data = corpus.png_bytes(corpus.gradient(200, 150))
    assert load_image(data, draft_size=40).size == (200, 150)  # short side under 4 x draft_size
    assert load_image(data, draft_size=30).size == (100, 75)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "RGB", "RGBA", "P", "PA"])
def test_reduce_in_bands_equals_a_whole_image_reduce(mode, monkeypatch):
    rng = np.random.default_rng(0)
    base = Image.fromarray(rng.integers(0, 256, (203, 307, 4), dtype=np.uint8), "RGBA")
    img = base.convert(mode) if mode != "PA" else base.convert("RGB").convert("P")
    if mode == "PA":
        img.info["transparency"] = 3
    monkeypatch.setattr(images_mod, "_BAND_PIXELS", 5_000)  # many bands on a small image
    widened = {"1": "L", "P": "RGB", "PA": "RGBA"}.get(mode, mode)
    for factor in (2, 3, 7):
        banded = images_mod.reduce_in_bands(img, factor)
        whole = img.convert(widened).reduce(factor)
        assert banded.mode == widened and np.array_equal(np.asarray(banded), np.asarray(whole)), factor
    assert images_mod.reduce_in_bands(img, 1) is img


def test_a_pil_input_is_never_handed_back():
    img = Image.new("RGB", (8, 8), (1, 2, 3))
    assert load_image(img) is not img


def test_paths_bytes_files_and_pil_give_the_same_pixels(tmp_path):
    data = corpus.png_bytes(corpus.gradient())
    path = _write(tmp_path, "g.png", data)
    ref = np.asarray(load_image(path))
    assert np.array_equal(np.asarray(load_image(data)), ref)
    assert np.array_equal(np.asarray(load_image(io.BytesIO(data))), ref)
    assert np.array_equal(np.asarray(load_image(str(path))), ref)
    assert np.array_equal(np.asarray(load_image(Image.open(path))), ref)


def test_numpy_arrays_in_common_layouts():
    hwc = np.zeros((8, 10, 3), np.uint8)
    hwc[..., 0] = 255
    assert _rgb(load_image(hwc), (0, 0)) == (255, 0, 0)
    chw = np.moveaxis(hwc.astype(np.float32) / 255.0, -1, 0)
    assert _rgb(load_image(chw), (0, 0)) == (255, 0, 0)
    assert _rgb(load_image(np.ones((4, 6), bool)), (0, 0)) == (255, 255, 255)
    assert load_image(np.zeros((4, 6, 4), np.uint8)).size == (6, 4)


@pytest.mark.parametrize(
    ("arr", "match"),
    [
        (np.zeros((4, 6, 2), np.uint8), r"shape \(4, 6, 2\) is not an image"),
        (np.zeros((5,), np.uint8), r"shape \(5,\) is not an image"),
        (np.full((4, 4), np.nan, np.float32), "NaN or infinite"),
        (np.full((4, 4), -3.0), r"values span \[-3, -3\]"),
        (np.zeros((4, 4), np.complex64), "dtype complex64 is not supported"),
    ],
)
def test_bad_arrays_are_refused(arr, match):
    with pytest.raises(InvalidImageError, match=match):
        load_image(arr)
