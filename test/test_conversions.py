"""sensor_msgs <-> numpy conversions: every encoding, padded rows, endianness, and each malformed message."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.ros

cv2 = pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def m():
    from adu_depth_ros import conversions

    return conversions


def _raw_image(arr: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False):
    """Build an Image by hand (independent of numpy_to_image), optionally with row padding."""
    from sensor_msgs.msg import Image

    h, w = arr.shape[:2]
    dtype = arr.dtype.newbyteorder(">" if bigendian else "<")
    rows = np.ascontiguousarray(arr, dtype=dtype).reshape(h, -1).view(np.uint8)
    rows = np.concatenate([rows, np.full((h, pad), 0xAB, np.uint8)], axis=1)
    return Image(
        height=h,
        width=w,
        encoding=encoding,
        is_bigendian=int(bigendian),
        step=rows.shape[1],
        data=rows.tobytes(),
    )


RNG = np.random.default_rng(0)
SAMPLES = {
    "rgb8": RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8),
    "bgr8": RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8),
    "rgba8": RNG.integers(0, 256, (5, 7, 4), dtype=np.uint8),
    "bgra8": RNG.integers(0, 256, (5, 7, 4), dtype=np.uint8),
    "mono8": RNG.integers(0, 256, (5, 7), dtype=np.uint8),
    "32FC1": RNG.normal(5, 2, (5, 7)).astype(np.float32),
    "16UC1": RNG.integers(0, 65536, (5, 7), dtype=np.uint16),
}


@pytest.mark.parametrize("encoding", list(SAMPLES))
def test_roundtrip_every_encoding(m, encoding):
    arr = SAMPLES[encoding]
    msg = m.numpy_to_image(arr, encoding)
    assert (msg.height, msg.width, msg.encoding, msg.is_bigendian) == (5, 7, encoding, 0)
    assert msg.step == arr[0].nbytes and len(msg.data) == arr.nbytes
    np.testing.assert_array_equal(m.image_to_numpy(msg), arr)


@pytest.mark.parametrize("encoding", list(SAMPLES))
def test_padded_rows_and_big_endian(m, encoding):
    arr = SAMPLES[encoding]
    np.testing.assert_array_equal(m.image_to_numpy(_raw_image(arr, encoding, pad=6)), arr)
    if arr.dtype.itemsize > 1:
        np.testing.assert_array_equal(m.image_to_numpy(_raw_image(arr, encoding, pad=4, bigendian=True)), arr)


@pytest.mark.parametrize(
    "encoding,code",
    [
        ("rgb8", None),
        ("bgr8", cv2.COLOR_BGR2RGB),
        ("rgba8", cv2.COLOR_RGBA2RGB),
        ("bgra8", cv2.COLOR_BGRA2RGB),
        ("mono8", cv2.COLOR_GRAY2RGB),
    ],
)
def test_image_to_rgb_matches_opencv(m, encoding, code):
    arr = SAMPLES[encoding]
    expected = arr if code is None else cv2.cvtColor(arr, code)
    rgb = m.image_to_rgb(_raw_image(arr, encoding, pad=3))
    assert rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    np.testing.assert_array_equal(rgb, expected)


def test_depth_encodings_are_refused_as_network_input(m):
    with pytest.raises(m.ConversionError, match="unsupported encoding '32FC1'"):
        m.image_to_rgb(m.numpy_to_image(SAMPLES["32FC1"], "32FC1"))


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda msg: setattr(msg, "encoding", "yuv422"), "unsupported encoding 'yuv422'"),
        (lambda msg: (setattr(msg, "height", 0), setattr(msg, "data", b"")), "zero-sized"),
        (lambda msg: setattr(msg, "width", 0), "zero-sized"),
        (lambda msg: setattr(msg, "data", bytes(msg.data)[:-5]), "truncated"),
        (lambda msg: setattr(msg, "data", bytes(msg.data) + b"\0" * 5), "too long"),
        (lambda msg: setattr(msg, "step", msg.step - 1), "step mismatch"),
        (lambda msg: setattr(msg, "step", msg.step + 2), "truncated"),
    ],
)
def test_malformed_images_raise_clear_errors(m, mutate, match):
    msg = m.numpy_to_image(SAMPLES["rgb8"], "rgb8")
    mutate(msg)
    with pytest.raises(m.ConversionError, match=match):
        m.image_to_rgb(msg)


def test_numpy_to_image_refuses_mismatched_arrays(m):
    with pytest.raises(m.ConversionError, match="does not fit 'rgb8'"):
        m.numpy_to_image(SAMPLES["rgba8"], "rgb8")
    with pytest.raises(m.ConversionError, match="does not fit '32FC1'"):
        m.numpy_to_image(SAMPLES["32FC1"].astype(np.float64), "32FC1")


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_compressed_decode(m, fmt):
    from sensor_msgs.msg import CompressedImage

    rgb = np.ascontiguousarray(SAMPLES["rgb8"].repeat(8, 0).repeat(8, 1))
    ok, buf = cv2.imencode("." + ("jpg" if fmt == "jpeg" else fmt), rgb[:, :, ::-1])
    assert ok
    out = m.compressed_to_rgb(CompressedImage(format=f"rgb8; {fmt} compressed bgr8", data=buf.tobytes()))
    assert out.shape == rgb.shape and out.dtype == np.uint8
    if fmt == "png":
        np.testing.assert_array_equal(out, rgb)
    else:
        assert np.abs(out.astype(int) - rgb).mean() < 20


@pytest.mark.parametrize(
    "fmt,data,match",
    [
        ("jpeg", b"", "empty"),
        ("jpeg", b"\xff\xd8\xff\xe0 definitely not a jpeg", "could not decode"),
        ("16UC1; compressedDepth png", b"\x00" * 20, "compressed depth"),
    ],
)
def test_compressed_errors(m, fmt, data, match):
    from sensor_msgs.msg import CompressedImage

    with pytest.raises(m.ConversionError, match=match):
        m.compressed_to_rgb(CompressedImage(format=fmt, data=data))


def test_depth_16uc1_is_rounded_millimetres_with_zero_invalid(m):
    from std_msgs.msg import Header

    depth = np.array([[0.0004, 0.0006, 1.2344, 1.2346], [np.nan, np.inf, 70.0, -1.0]], np.float32)
    msg = m.depth_image(depth, Header(frame_id="f"), "16UC1")
    assert msg.encoding == "16UC1" and msg.header.frame_id == "f"
    expected = np.array([[0, 1, 1234, 1235], [0, 0, 0, 0]], np.uint16)
    # 70 m is beyond uint16 millimetres: written as 0 (invalid, REP 118), never saturated to 65.535 m
    np.testing.assert_array_equal(m.image_to_numpy(msg), expected)
    f32 = m.image_to_numpy(m.depth_image(depth, Header(), "32FC1"))
    np.testing.assert_array_equal(f32, depth)  # NaN stays NaN


def _info(width=64, height=48, k=(50.0, 0, 32.0, 0, 55.0, 24.0, 0, 0, 1.0), p=None):
    from sensor_msgs.msg import CameraInfo

    msg = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    msg.k = list(k)
    msg.d = [0.1, -0.2, 0.0, 0.0, 0.0]
    if p is not None:
        msg.p = list(p)
    return msg


def test_camera_info_valid_and_p_fallback(m):
    intr = m.camera_info_to_intrinsics(_info())
    np.testing.assert_array_equal(intr.K, [[50, 0, 32], [0, 55, 24], [0, 0, 1]])
    np.testing.assert_array_equal(intr.P, [[50, 0, 32, 0], [0, 55, 24, 0], [0, 0, 1, 0]])
    p = (60.0, 0, 30.0, -6.0, 0, 60.0, 20.0, 0, 0, 0, 1.0, 0)
    assert m.camera_info_to_intrinsics(_info(p=p)).P[0, 3] == -6.0


@pytest.mark.parametrize(
    "info_kw,match",
    [
        ({"k": [0.0] * 9}, "focal length"),
        ({"k": (50.0, 0, 32.0, 0, float("nan"), 24.0, 0, 0, 1.0)}, "NaN"),
        ({"width": 0, "height": 0}, "zero size"),
        ({"p": (0.0, 0, 30.0, 0, 0, 60.0, 20.0, 0, 0, 0, 1.0, 0)}, "P is unusable"),
        ({"p": (60.0, 0, float("inf"), 0, 0, 60.0, 20.0, 0, 0, 0, 1.0, 0)}, "P is unusable"),
    ],
)
def test_camera_info_bad(m, info_kw, match):
    with pytest.raises(m.ConversionError, match=match):
        m.camera_info_to_intrinsics(_info(**info_kw))


def test_intrinsics_to_camera_info_keeps_distortion(m):
    from std_msgs.msg import Header

    src = _info()
    intr = m.Intrinsics(32, 24, np.eye(3) * 2, np.arange(12, dtype=float).reshape(3, 4))
    out = m.intrinsics_to_camera_info(src, intr, Header(frame_id="x"))
    assert (out.width, out.height, out.header.frame_id, out.distortion_model) == (32, 24, "x", "plumb_bob")
    np.testing.assert_array_equal(out.d, src.d)
    np.testing.assert_array_equal(out.k, (np.eye(3) * 2).ravel())
    np.testing.assert_array_equal(out.p, np.arange(12))


def test_point_cloud_layout_and_roundtrip(m):
    from sensor_msgs.msg import PointField
    from std_msgs.msg import Header

    h, w = 3, 4
    xyz = RNG.normal(0, 1, (h, w, 3)).astype(np.float32)
    xyz[1, 2] = np.nan
    rgb = RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)
    dtype = np.dtype({"names": ["x", "y", "z", "rgb"], "formats": ["<f4"] * 4, "offsets": [0, 4, 8, 12]})
    pts = np.empty((h, w), dtype)
    pts["x"], pts["y"], pts["z"] = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    bits = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    pts["rgb"] = bits.view(np.float32)
    msg = m.point_cloud(pts, Header(frame_id="cam"))
    assert (msg.height, msg.width, msg.point_step, msg.row_step) == (h, w, 16, 64)
    assert msg.is_dense is False and msg.is_bigendian is False and msg.header.frame_id == "cam"
    assert [(f.name, f.offset, f.datatype, f.count) for f in msg.fields] == [
        (n, 4 * i, PointField.FLOAT32, 1) for i, n in enumerate(["x", "y", "z", "rgb"])
    ]
    back = m.point_cloud_to_numpy(msg)
    np.testing.assert_array_equal(np.stack([back["x"], back["y"], back["z"]], -1), xyz)
    np.testing.assert_array_equal(back["rgb"].view(np.uint32), bits)


def test_point_cloud_reader_handles_row_padding(m):
    from sensor_msgs.msg import PointCloud2, PointField

    vals = np.arange(2 * 3 * 3, dtype="<f4").reshape(2, 3, 3)
    rows = np.concatenate([vals.reshape(2, -1).view(np.uint8), np.zeros((2, 8), np.uint8)], axis=1)
    fields = [
        PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1) for i, n in enumerate("xyz")
    ]
    msg = PointCloud2(height=2, width=3, fields=fields, point_step=12, row_step=44, data=rows.tobytes())
    np.testing.assert_array_equal(m.point_cloud_to_numpy(msg)["z"], vals[..., 2])
    msg.data = rows.tobytes()[:-1]
    with pytest.raises(m.ConversionError, match="expected row_step"):
        m.point_cloud_to_numpy(msg)
