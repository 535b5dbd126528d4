"""``adu-depth infer`` end to end: images, a folder with a broken file, a video, intrinsics and calibration files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from adu_depth_core.cli.main import main as cli_main
from adu_depth_core.image_encodings import depth_to_mm

FX, FY, CX, CY = 420.0, 410.0, 300.5, 200.25


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    from skimage import data

    folder = tmp_path_factory.mktemp("photos")
    moto = np.ascontiguousarray(data.stereo_motorcycle()[0][::2, ::2])  # 250 x 371
    cv2.imwrite(str(folder / "moto.png"), cv2.cvtColor(moto, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / "astro.jpg"), cv2.cvtColor(data.astronaut()[::4, ::4], cv2.COLOR_RGB2BGR))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return folder


def _read_ply(path: Path) -> np.ndarray:
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    n = int(next(ln.split()[2] for ln in data[:end].decode().splitlines() if ln.startswith("element vertex")))
    dtype = [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"), ("b", "u1")]
    return np.frombuffer(data[end:], dtype=dtype, count=n)


def _infer(ckpt: Path, src: Path, out: Path, *extra: str) -> int:
    return cli_main(["infer", "--model", str(ckpt), "--input", str(src), "--out", str(out), *extra])


def test_folder_with_intrinsics(tiny_student_ckpt, photos, tmp_path, capsys):
    out = tmp_path / "out"
    intr = ["--fx", str(FX), "--fy", str(FY), "--cx", str(CX), "--cy", str(CY)]
    rc = _infer(tiny_student_ckpt, photos, out, *intr)
    captured = capsys.readouterr()
    assert rc == 1  # one input failed, the others were written
    assert (
        "broken" in captured.err and "cannot read image" in captured.err and "wrote 2 results" in captured.out
    )
    rgb = cv2.cvtColor(cv2.imread(str(photos / "moto.png")), cv2.COLOR_BGR2RGB)
    depth = np.load(out / "moto_depth.npy")
    sigma = np.load(out / "moto_sigma.npy")
    assert depth.shape == sigma.shape == rgb.shape[:2] and depth.dtype == np.float32
    assert np.all(depth > 0) and np.all(sigma > 0)
    mm = cv2.imread(str(out / "moto_depth_mm.png"), cv2.IMREAD_UNCHANGED)
    assert mm.dtype == np.uint16
    expected = np.where(depth * 1000 <= 65535, np.round(depth * 1000), 0)
    np.testing.assert_array_equal(mm, expected.astype(np.uint16))
    colour = cv2.imread(str(out / "moto_depth_color.png"))
    assert colour.shape == rgb.shape and len(np.unique(colour.reshape(-1, 3), axis=0)) > 10
    pts = _read_ply(out / "moto.ply")
    assert len(pts) == depth.size  # every pixel is valid for this model
    v, u = 17, 123  # an arbitrary pixel: PLY rows are in row-major pixel order
    p = pts[v * depth.shape[1] + u]
    z = depth[v, u]
    np.testing.assert_allclose([p["x"], p["y"], p["z"]], [(u - CX) / FX * z, (v - CY) / FY * z, z], rtol=1e-5)
    assert (p["r"], p["g"], p["b"]) == tuple(rgb[v, u])
    assert (out / "astro_depth.npy").is_file() and not list(out.glob("broken*"))


def test_calibration_file_at_another_resolution(tiny_student_ckpt, photos, tmp_path):
    """A ROS camera_info YAML made at 2x the image size is rescaled to the image (half-pixel convention)."""
    calib = {
        "image_width": 742,
        "image_height": 500,
        "camera_matrix": {
            "rows": 3,
            "cols": 3,
            "data": [2 * FX, 0, 2 * CX + 0.5, 0, 2 * FY, 2 * CY + 0.5, 0, 0, 1],
        },
    }
    (tmp_path / "calib.yaml").write_text(yaml.safe_dump(calib))
    # the image is 371 x 250, half the calibration size: fx -> FX and (2 CX + 0.5 + 0.5) / 2 - 0.5 -> CX
    assert (
        _infer(
            tiny_student_ckpt, photos / "moto.png", tmp_path / "a", "--calib", str(tmp_path / "calib.yaml")
        )
        == 0
    )
    intr = ["--fx", str(FX), "--fy", str(FY), "--cx", str(CX), "--cy", str(CY)]
    assert _infer(tiny_student_ckpt, photos / "moto.png", tmp_path / "b", *intr) == 0
    a, b = _read_ply(tmp_path / "a" / "moto.ply"), _read_ply(tmp_path / "b" / "moto.ply")
    for c in "xyz":
        np.testing.assert_allclose(a[c], b[c], rtol=1e-5, atol=1e-6)


def test_network_size_and_sigma_filter(tiny_student_ckpt, photos, tmp_path):
    out = tmp_path / "net"
    sigma_cut = "1.0"
    args = [
        "--network-size",
        "--fx",
        "100",
        "--fy",
        "100",
        "--cx",
        "60",
        "--cy",
        "30",
        "--max-sigma",
        sigma_cut,
    ]
    assert _infer(tiny_student_ckpt, photos / "moto.png", out, *args) == 0
    depth, sigma = np.load(out / "moto_depth.npy"), np.load(out / "moto_sigma.npy")
    assert depth.shape == (64, 128)
    assert len(_read_ply(out / "moto.ply")) == int((sigma <= float(sigma_cut)).sum())


def test_video_every_other_frame(tiny_student_ckpt, tmp_path):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 64))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG video")
    for i in range(5):
        writer.write(np.full((64, 96, 3), 40 * i, np.uint8))
    writer.release()
    assert _infer(tiny_student_ckpt, video, tmp_path / "v", "--every", "2") == 0
    names = sorted(p.name for p in (tmp_path / "v").glob("*_depth.npy"))
    assert names == [f"clip_{i:06d}_depth.npy" for i in (0, 2, 4)]
    assert np.load(tmp_path / "v" / names[0]).shape == (64, 96)


def test_bad_arguments_fail_clearly(tiny_student_ckpt, photos, tmp_path, capsys):
    assert _infer(tiny_student_ckpt, tmp_path / "nothing", tmp_path / "o") == 2
    assert "input not found" in capsys.readouterr().err
    assert _infer(tiny_student_ckpt, photos, tmp_path / "o", "--fy", "100") == 2
    assert "give --fx" in capsys.readouterr().err
    assert _infer(tiny_student_ckpt, photos, tmp_path / "o", "--fx", "100", "--cx", "5") == 2
    assert "both --cx and --cy" in capsys.readouterr().err
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"garbage")
    assert _infer(bad, photos, tmp_path / "o") == 2
    assert "not a loadable ONNX model" in capsys.readouterr().err
    (tmp_path / "zeros.yaml").write_text(yaml.safe_dump({"fx": 0, "fy": 0, "cx": 1, "cy": 1}))
    assert _infer(tiny_student_ckpt, photos, tmp_path / "o", "--calib", str(tmp_path / "zeros.yaml")) == 2
    assert "non-positive focal length" in capsys.readouterr().err


def test_depth_to_mm_marks_out_of_range_as_invalid():
    depth = np.array([[np.nan, -1.0, 0.0004, 1.2345, 65.535, 70.0]], dtype=np.float32)
    np.testing.assert_array_equal(depth_to_mm(depth), [[0, 0, 0, 1234, 65535, 0]])


def test_every_and_max_frames_must_be_positive(capsys):
    """``--every 0`` used to reach a modulo by zero on video input; argparse now refuses it (exit 2)."""
    from adu_depth_core.cli.main import main

    for flag in ("--every", "--max-frames"):
        with pytest.raises(SystemExit) as exc:
            main(["infer", "--input", "x.mp4", "--out", "o", flag, "0"])
        assert exc.value.code == 2
        assert "must be at least 1" in capsys.readouterr().err


def test_fx_sets_a_camera_aware_models_metric_scale(tiny_canonical_ckpt, photos, tmp_path):
    """--fx alone (principal point at the centre) scales depth and writes a PLY; twice the fx, twice the depth."""
    for fx in (100.0, 200.0):
        assert _infer(tiny_canonical_ckpt, photos / "moto.png", tmp_path / f"fx{fx:g}", "--fx", str(fx)) == 0
    names = sorted(p.name for p in (tmp_path / "fx100").iterdir())
    assert any(n.endswith(".ply") for n in names)
    depth = [n for n in names if n.endswith("_depth.npy")][0]
    one, two = (np.load(tmp_path / d / depth) for d in ("fx100", "fx200"))
    np.testing.assert_allclose(two, 2 * one, rtol=1e-5)
