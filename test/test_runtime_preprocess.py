"""Pre/post-processing and colour maps of the runtime (pure numpy / OpenCV)."""

from __future__ import annotations

import numpy as np
import pytest

from adu_depth_core.runtime.colormap import _ANCHORS, colorize, colorize_depth, palette
from adu_depth_core.runtime.preprocess import ImageError, postprocess, preprocess


def test_preprocess_at_network_size_is_a_plain_rescale():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 128, 3), dtype=np.uint8)
    x = preprocess(image, 64, 128)
    assert x.shape == (1, 3, 64, 128) and x.dtype == np.float32 and x.flags.c_contiguous
    expected = image.astype(np.float64).transpose(2, 0, 1)[None] / 255.0
    np.testing.assert_allclose(x, expected, atol=1e-7)


def test_preprocess_shrinks_by_area_averaging():
    rng = np.random.default_rng(1)
    small = rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)
    big = np.kron(small, np.ones((3, 3, 1), dtype=np.uint8))  # each pixel becomes a 3x3 block
    x = preprocess(big, 32, 64)
    np.testing.assert_allclose(x[0], small.transpose(2, 0, 1) / 255.0, atol=1e-6)


def test_preprocess_fp16_and_range():
    image = np.full((10, 20, 3), 255, dtype=np.uint8)
    x = preprocess(image, 32, 64, dtype=np.float16)
    assert x.dtype == np.float16 and x.shape == (1, 3, 32, 64)
    assert float(x.min()) == 1.0 and float(x.max()) == 1.0


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((8, 8), np.uint8), "H x W x 3"),
        (np.zeros((8, 8, 4), np.uint8), "H x W x 3"),
        (np.zeros((8, 8, 3), np.float32), "uint8"),
        (np.zeros((0, 8, 3), np.uint8), "too small"),
        ([[1, 2, 3]], "numpy array"),
    ],
)
def test_bad_images_are_refused_clearly(image, message):
    with pytest.raises(ImageError, match=message):
        preprocess(image, 32, 32)


def test_postprocess_resizes_to_the_input_size_or_keeps_network_size():
    depth = np.full((1, 1, 8, 16), 7.0, dtype=np.float32)
    ramp = np.tile(np.arange(16, dtype=np.float32), (8, 1))[None, None]
    d, s = postprocess(depth, ramp, (24, 48))
    assert d.shape == s.shape == (24, 48) and d.dtype == s.dtype == np.float32
    np.testing.assert_allclose(d, 7.0)
    assert np.all(np.diff(s, axis=1) >= 0) and s.min() >= 0 and s.max() <= 15  # bilinear: monotone, in range
    d2, s2 = postprocess(depth, ramp, None)
    assert d2.shape == (8, 16)
    np.testing.assert_array_equal(s2, ramp[0, 0])


def test_palette_hits_its_anchors():
    lut = palette(257)
    assert lut.shape == (257, 3) and lut.dtype == np.uint8
    for pos, r, g, b in _ANCHORS:
        assert tuple(lut[round(pos * 256)]) == (r, g, b)


def test_colorize_range_reverse_and_invalid():
    values = np.array([[0.0, 5.0, 10.0, np.nan]], dtype=np.float32)
    lut = palette(256)
    out = colorize(values, 0.0, 10.0, invalid_rgb=(1, 2, 3))
    assert out.shape == (1, 4, 3) and out.dtype == np.uint8
    assert tuple(out[0, 0]) == tuple(lut[0]) and tuple(out[0, 2]) == tuple(lut[255])
    assert tuple(out[0, 1]) == tuple(lut[128])  # 0.5 * 255 = 127.5 rounds to 128
    assert tuple(out[0, 3]) == (1, 2, 3)
    rev = colorize(values, 0.0, 10.0, reverse=True)
    assert tuple(rev[0, 0]) == tuple(lut[255]) and tuple(rev[0, 2]) == tuple(lut[0])
    with pytest.raises(ValueError, match="vmax > vmin"):
        colorize(values, 3.0, 3.0)


def test_percentile_range_ignores_outliers():
    values = np.linspace(1.0, 2.0, 1000, dtype=np.float32).reshape(10, 100)
    values[0, 0] = 1e6  # one wild pixel must not squash everything else into one colour
    out = colorize(values)
    assert len({tuple(c) for c in out.reshape(-1, 3)}) > 100


def test_depth_colours_near_warm_far_cold():
    depth = np.array([[1.0, 50.0]], dtype=np.float32)
    out = colorize_depth(depth, 1.0, 50.0).astype(int)
    near, far = out[0, 0], out[0, 1]
    assert near[0] > near[2] and far[2] > far[0]
