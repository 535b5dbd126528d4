"""Back-projection, packed colours, PointCloud2 point layout and PLY files."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from adu_depth_core.runtime.geometry import backproject, pack_rgb, to_point_array, unpack_rgb
from adu_depth_core.runtime.intrinsics import IntrinsicsError, make_K
from adu_depth_core.runtime.ply import write_ply

K = make_K(110.0, 95.0, 31.7, 22.4)


def _depth(h: int = 48, w: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(0.5, 30.0, (h, w)).astype(np.float32)


def test_points_reproject_onto_their_pixels():
    depth = _depth()
    xyz = backproject(depth, K)
    assert xyz.shape == (48, 64, 3) and xyz.dtype == np.float32
    np.testing.assert_array_equal(xyz[..., 2], depth)
    uvw = xyz.reshape(-1, 3).astype(np.float64) @ K.T
    u, v = uvw[:, 0] / uvw[:, 2], uvw[:, 1] / uvw[:, 2]
    vv, uu = np.mgrid[0:48, 0:64]
    np.testing.assert_allclose(u, uu.ravel(), atol=1e-3)
    np.testing.assert_allclose(v, vv.ravel(), atol=1e-3)


def test_strided_points_match_a_loop():
    depth = _depth(10, 14)
    xyz = backproject(depth, K, stride=3)
    assert xyz.shape == (4, 5, 3)  # ceil(10/3), ceil(14/3)
    for i in range(4):
        for j in range(5):
            v, u = 3 * i, 3 * j
            z = float(depth[v, u])
            expected = ((u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z)
            np.testing.assert_allclose(xyz[i, j], expected, rtol=1e-5)


def test_invalid_depth_and_uncertain_points_become_nan():
    depth = np.full((4, 4), 2.0, dtype=np.float32)
    depth[0, 0], depth[0, 1], depth[0, 2], depth[0, 3] = np.nan, 0.0, -1.0, np.inf
    sigma = np.full((4, 4), 0.1, dtype=np.float32)
    sigma[1, 0], sigma[1, 1], sigma[1, 2] = 0.5, 0.2, np.nan  # above, exactly at, unknown
    xyz = backproject(depth, K, sigma_m=sigma, max_sigma_m=0.2)
    bad = np.isnan(xyz).all(axis=-1)
    expected = np.zeros((4, 4), bool)
    expected[0, :] = True
    expected[1, 0] = expected[1, 2] = True
    np.testing.assert_array_equal(bad, expected)
    assert np.isnan(xyz).any(axis=-1).sum() == bad.sum()  # a point is all-NaN or all-finite
    kept = backproject(depth, K, sigma_m=sigma)  # no threshold: sigma is ignored
    assert np.isnan(kept).all(axis=-1).sum() == 4


def test_bad_arguments():
    with pytest.raises(ValueError, match="stride"):
        backproject(_depth(), K, stride=0)
    with pytest.raises(ValueError, match="H x W"):
        backproject(_depth()[None], K)
    with pytest.raises(IntrinsicsError):
        backproject(_depth(), np.zeros((3, 3)))


def test_packed_rgb_has_the_pcl_bit_layout():
    rgb = np.array([[[255, 0, 0], [1, 2, 3], [0, 0, 255], [200, 100, 50]]], dtype=np.uint8)
    packed = pack_rgb(rgb)
    assert packed.dtype == np.float32 and packed.shape == (1, 4)
    for (r, g, b), value in zip(rgb[0], packed[0]):
        expected_bits = struct.unpack("<I", struct.pack("<BBBB", int(b), int(g), int(r), 0))[0]
        assert struct.unpack("<I", struct.pack("<f", value))[0] == expected_bits
    np.testing.assert_array_equal(unpack_rgb(packed), rgb)


def test_point_array_is_pointcloud2_data():
    xyz = backproject(_depth(6, 8), K)
    rgb = np.random.default_rng(2).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    arr = to_point_array(xyz, rgb)
    assert arr.dtype.itemsize == 16 and arr.dtype.fields["rgb"][1] == 12
    raw = np.frombuffer(arr.tobytes(), dtype="<f4").reshape(6, 8, 4)
    np.testing.assert_array_equal(raw[..., :3], xyz)
    np.testing.assert_array_equal(unpack_rgb(raw[..., 3]), rgb)
    assert to_point_array(xyz).dtype.itemsize == 12


def _read_ply(path):
    """Minimal independent PLY reader: header lines, then binary little-endian or ASCII rows."""
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode().splitlines()
    n = int(next(line.split()[2] for line in header if line.startswith("element vertex")))
    props = [line.split() for line in header if line.startswith("property")]
    if "format ascii 1.0" in header:
        rows = np.loadtxt(data[end:].decode().splitlines(), ndmin=2) if n else np.zeros((0, len(props)))
        return n, rows
    dtype = [(p[2], "<f4" if p[1] == "float" else "u1") for p in props]
    rec = np.frombuffer(data[end:], dtype=dtype, count=n)
    return n, np.stack([rec[name].astype(np.float64) for name, _ in dtype], axis=1)


@pytest.mark.parametrize("binary", [True, False])
def test_ply_keeps_finite_points_with_colours(tmp_path, binary):
    depth = _depth(5, 7)
    depth[2, 3] = np.nan
    xyz = backproject(depth, K)
    rgb = np.random.default_rng(3).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = tmp_path / "cloud.ply"
    assert write_ply(path, xyz, rgb, binary=binary) == 34
    n, rows = _read_ply(path)
    keep = np.isfinite(xyz.reshape(-1, 3)).all(axis=1)
    assert n == 34 and rows.shape == (34, 6)
    np.testing.assert_allclose(rows[:, :3], xyz.reshape(-1, 3)[keep], rtol=1e-5)
    np.testing.assert_array_equal(rows[:, 3:], rgb.reshape(-1, 3)[keep])


def test_ply_without_colour_and_bad_colours(tmp_path):
    xyz = np.array([[0, 0, 1], [np.nan, 0, 0], [1, 2, 3]], dtype=np.float32)
    assert write_ply(tmp_path / "a.ply", xyz) == 2
    n, rows = _read_ply(tmp_path / "a.ply")
    assert n == 2 and rows.shape == (2, 3)
    with pytest.raises(ValueError, match="one RGB per point"):
        write_ply(tmp_path / "b.ply", xyz, np.zeros((2, 3), np.uint8))
    assert not (tmp_path / "b.ply").exists()
