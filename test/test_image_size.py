"""Image sizes from PNG / JPEG headers (no decoding) and the max-pixels refusal built on them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from adu_depth_core.image_encodings import decode_compressed_rgb
from adu_depth_core.image_size import (
    ImageTooLargeError,
    blank_png,
    check_pixels,
    compressed_size,
    jpeg_size,
    png_size,
)


def _encode(ext: str, h: int, w: int, params=()) -> bytes:
    rng = np.random.default_rng(0)
    ok, buf = cv2.imencode(ext, rng.integers(0, 255, (h, w, 3), dtype=np.uint8), list(params))
    assert ok
    return buf.tobytes()


@pytest.mark.parametrize(
    ("ext", "params"),
    [
        (".png", ()),
        (".jpg", ()),
        (".jpg", (cv2.IMWRITE_JPEG_PROGRESSIVE, 1)),
        (".jpg", (cv2.IMWRITE_JPEG_OPTIMIZE, 1)),
    ],
)
def test_size_from_the_header_matches_the_decoded_image(ext, params):
    for h, w in ((1, 1), (37, 91), (480, 640)):
        data = _encode(ext, h, w, params)
        assert compressed_size(data) == (h, w)
        assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape[:2] == (h, w)


def test_headers_that_are_not_png_or_jpeg_give_none():
    png = _encode(".png", 8, 8)
    jpg = _encode(".jpg", 8, 8)
    for junk in (b"", b"\x89PNG", b"GIF89a" + bytes(40), bytes(100), png[:20], jpg[:6]):
        assert compressed_size(junk) is None
    assert png_size(jpg) is None and jpeg_size(png) is None
    assert jpeg_size(b"\xff\xd8\xff\xe0" + bytes(200)) is None  # a segment of length 0: corrupt


def test_check_pixels_names_the_size_in_h_x_w():
    check_pixels(100, 100, 10_000)
    check_pixels(10**5, 10**5, 0)  # 0 = no limit
    with pytest.raises(
        ImageTooLargeError, match=r"is 200x100 \(HxW\) = 20000 pixels, above the limit of 10000"
    ):
        check_pixels(200, 100, 10_000)


def test_an_oversized_png_is_refused_before_decoding():
    data = blank_png(3000, 4000)  # 36 MB of pixels in ~40 kB
    assert len(data) < 200_000 and compressed_size(data) == (3000, 4000)
    with pytest.raises(ValueError, match=r"compressed image is 3000x4000 \(HxW\)"):
        decode_compressed_rgb(data, "png", max_pixels=1_000_000)
    small = decode_compressed_rgb(blank_png(20, 30), "png", max_pixels=1_000_000)
    assert small.shape == (20, 30, 3) and not small.any()


def test_with_a_limit_an_unreadable_header_is_refused_undecoded():
    with pytest.raises(ValueError, match="could not decode compressed image.*no PNG/JPEG header"):
        decode_compressed_rgb(b"GIF89a" + bytes(100), "gif", max_pixels=1_000_000)
