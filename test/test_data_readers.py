"""Readers on tiny trees in tmp_path, built in each dataset's published format."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
import yaml

from adu_depth_core.data import DATASETS, DataError, build_dataset, build_reader
from adu_depth_core.data.drivingstereo import DrivingStereo
from adu_depth_core.data.folder import FolderStereo, write_calib, write_sample
from adu_depth_core.data.kitti import BENCHMARK_CROP_HW, KittiEigen, parse_split_file
from adu_depth_core.data.middlebury import MiddleburyMotorcycle
from adu_depth_core.data.sample import StereoSample

RNG = np.random.default_rng(0)


def _rgb(h, w):
    return RNG.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _write_png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), arr)


def _sample(h=48, w=96):
    depth = RNG.uniform(1, 50, size=(h, w)).astype(np.float32)
    depth[:4] = np.nan
    K = np.array([[50.0, 0, w / 2], [0, 50.0, h / 2], [0, 0, 1]])
    return StereoSample(_rgb(h, w), _rgb(h, w), depth, np.isfinite(depth), K, 0.3, "test")


# -- folder ---------------------------------------------------------------------------------------


def test_folder_round_trip_npy_and_mm_png(tmp_path):
    s = _sample()
    write_calib(tmp_path, s.K, s.baseline_m, 48, 96)
    write_sample(tmp_path, "000000", s)
    r = FolderStereo(tmp_path)
    got = r[0]
    np.testing.assert_array_equal(got.left, s.left)
    np.testing.assert_array_equal(got.right, s.right)
    np.testing.assert_array_equal(got.valid, s.valid)
    np.testing.assert_array_equal(got.depth_m[s.valid], s.depth_m[s.valid])
    assert got.baseline_m == 0.3 and np.array_equal(got.K, s.K)
    # a uint16 millimetre PNG next to it, as a user's own depth camera writes
    mm = np.where(s.valid, np.round(s.depth_m * 1000), 0).astype(np.uint16)
    (tmp_path / "depth" / "000000.npy").unlink()
    _write_png(tmp_path / "depth" / "000000.png", mm)
    got = FolderStereo(tmp_path)[0]
    np.testing.assert_allclose(got.depth_m[s.valid], mm[s.valid] / 1000.0, rtol=1e-6)
    assert (got.valid == s.valid).all()


def test_folder_confidence_masks_depth(tmp_path):
    s = _sample()
    write_calib(tmp_path, s.K, s.baseline_m, 48, 96)
    write_sample(tmp_path, "a", s)
    conf = np.zeros((48, 96), np.float32)
    conf[:, :50] = 1.0
    (tmp_path / "confidence").mkdir()
    np.save(tmp_path / "confidence" / "a.npy", conf)
    got = FolderStereo(tmp_path, min_confidence=0.5)[0]
    assert got.valid[:, :50].sum() == s.valid[:, :50].sum() and not got.valid[:, 50:].any()


@pytest.mark.parametrize(
    "damage,expected",
    [
        (lambda root: (root / "right" / "000001.png").unlink(), r"missing right image: .*000001"),
        (lambda root: _truncate(root / "left" / "000001.png"), r"truncated image: .*left/000001\.png"),
        (
            lambda root: np.save(root / "depth" / "000001.npy", np.zeros((10, 10), np.float32)),
            r"mis-sized depth .npy: .*000001\.npy is 10x10 \(HxW\), expected 48x96",
        ),
        (lambda root: _truncate(root / "depth" / "000001.npy"), r"truncated depth .npy: .*000001\.npy"),
    ],
)
def test_folder_bad_files_name_the_file(tmp_path, damage, expected):
    s = _sample()
    write_calib(tmp_path, s.K, s.baseline_m, 48, 96)
    for stem in ("000000", "000001", "000002"):
        write_sample(tmp_path, stem, s)
    damage(tmp_path)
    reader = FolderStereo(tmp_path)
    reader[0]
    with pytest.raises(DataError, match=expected):
        reader[1]


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_folder_calibration_errors(tmp_path):
    (tmp_path / "left").mkdir()
    with pytest.raises(DataError, match="missing calibration: .*calib.yaml"):
        FolderStereo(tmp_path)
    (tmp_path / "calib.yaml").write_text(yaml.safe_dump({"K": [[1, 0], [0, 1]], "baseline_m": 0.1}))
    with pytest.raises(DataError, match="K must be a 3x3"):
        FolderStereo(tmp_path)


def test_skip_bad_counts_and_logs_instead_of_dying(tmp_path, caplog):
    s = _sample()
    write_calib(tmp_path, s.K, s.baseline_m, 48, 96)
    for stem in ("0", "1", "2"):
        write_sample(tmp_path, stem, s)
    _truncate(tmp_path / "left" / "1.png")
    strict = build_dataset("folder", size=(32, 64), root=tmp_path)
    with pytest.raises(DataError):
        strict[1]
    lenient = build_dataset("folder", size=(32, 64), skip_bad=True, root=tmp_path)
    with caplog.at_level(logging.WARNING):
        batch = [lenient[i] for i in range(3)]
    assert lenient.n_skipped == 1 and "1 skipped so far" in caplog.text and "1.png" in caplog.text
    assert batch[1]["source_id"].endswith("2") and batch[1]["left"].shape == (3, 32, 64)


# -- KITTI ----------------------------------------------------------------------------------------

DATE, DRIVE = "2011_09_26", "2011_09_26_drive_0002_sync"
# 2011_09_26 calibration (KITTI raw), the keys and layout of the published files.
CAM_TO_CAM = """calib_time: 09-Jan-2012 13:57:47
corner_dist: 9.950000e-02
S_rect_00: 1.242000e+03 3.750000e+02
R_rect_00: 9.999239e-01 9.837760e-03 -7.445048e-03 -9.869795e-03 9.999421e-01 -4.278459e-03 7.402527e-03 4.351614e-03 9.999631e-01
P_rect_00: 7.215377e+02 0.000000e+00 6.095593e+02 0.000000e+00 0.000000e+00 7.215377e+02 1.728540e+02 0.000000e+00 0.000000e+00 0.000000e+00 1.000000e+00 0.000000e+00
S_rect_02: 1.242000e+03 3.750000e+02
R_rect_02: 9.998817e-01 1.511453e-02 -2.841595e-03 -1.511724e-02 9.998853e-01 -9.338510e-04 2.827154e-03 9.766976e-04 9.999955e-01
P_rect_02: 7.215377e+02 0.000000e+00 6.095593e+02 4.485728e+01 0.000000e+00 7.215377e+02 1.728540e+02 2.163791e-01 0.000000e+00 0.000000e+00 1.000000e+00 2.745884e-03
S_rect_03: 1.242000e+03 3.750000e+02
P_rect_03: 7.215377e+02 0.000000e+00 6.095593e+02 -3.395242e+02 0.000000e+00 7.215377e+02 1.728540e+02 2.199936e+00 0.000000e+00 0.000000e+00 1.000000e+00 2.729905e-03
"""
VELO_TO_CAM = """calib_time: 15-Mar-2012 11:37:16
R: 7.533745e-03 -9.999714e-01 -6.166020e-04 1.480249e-02 7.280733e-04 -9.998902e-01 9.998621e-01 7.523790e-03 1.480755e-02
T: -4.069766e-03 -7.631618e-02 -2.717806e-01
delta_f: 0.000000e+00 0.000000e+00
delta_c: 0.000000e+00 0.000000e+00
"""


def _kitti_tree(root, frames=(5, 6), annotated=True):
    (root / DATE).mkdir(parents=True)
    (root / DATE / "calib_cam_to_cam.txt").write_text(CAM_TO_CAM)
    (root / DATE / "calib_velo_to_cam.txt").write_text(VELO_TO_CAM)
    drive = root / DATE / DRIVE
    for f in frames:
        for cam in (2, 3):
            _write_png(drive / f"image_0{cam}" / "data" / f"{f:010d}.png", _rgb(375, 1242))
            if annotated:
                gt = np.zeros((375, 1242), np.uint16)
                gt[200:, 100:1100:7] = np.uint16(12.5 * 256 * cam)  # 25 m on image_02, 37.5 m on image_03
                _write_png(drive / "proj_depth" / "groundtruth" / f"image_0{cam}" / f"{f:010d}.png", gt)
    split = root / "split.txt"
    split.write_text("".join(f"{DATE}/{DRIVE} {f} {'l' if i == 0 else 'r'}\n" for i, f in enumerate(frames)))
    return split


def test_kitti_split_file_formats(tmp_path):
    p = tmp_path / "s.txt"
    p.write_text(
        f"{DATE}/{DRIVE} 0000000069 l\n{DATE}/{DRIVE} 12 r\n\n"
        f"{DATE}/{DRIVE}/image_02/data/0000000077.png {DRIVE}/proj_depth/groundtruth/image_02/0000000077.png 721.5377\n"
    )
    assert parse_split_file(p) == [(DATE, DRIVE, 69, "l"), (DATE, DRIVE, 12, "r"), (DATE, DRIVE, 77, "l")]
    p.write_text(f"{DATE}/{DRIVE} 5 x\n")
    with pytest.raises(DataError, match=r"s.txt:1: side must be 'l' or 'r'"):
        parse_split_file(p)


def test_kitti_annotated_gt_left_and_mirrored_right(tmp_path):
    split = _kitti_tree(tmp_path)
    r = KittiEigen(tmp_path, split)
    left = r[0]
    fx, p2, p3 = 721.5377, 4.485728e01, -3.395242e02
    assert left.K[0, 0] == pytest.approx(fx) and left.K[0, 2] == pytest.approx(609.5593)
    assert left.baseline_m == pytest.approx((p2 - p3) / fx)  # camera 3 sits 0.532 m right of camera 2
    img02 = cv2.imread(str(tmp_path / DATE / DRIVE / "image_02" / "data" / "0000000005.png"))[:, :, ::-1]
    np.testing.assert_array_equal(left.left, img02)
    assert np.nanmax(left.depth_m) == 25.0 and left.valid.sum() == 175 * len(range(100, 1100, 7))
    right = r[1]  # 'r': image_03 is the reference view, mirrored so the other camera is at +baseline
    img03 = cv2.imread(str(tmp_path / DATE / DRIVE / "image_03" / "data" / "0000000006.png"))[:, :, ::-1]
    np.testing.assert_array_equal(right.left, img03[:, ::-1])
    assert right.baseline_m == pytest.approx(left.baseline_m) and right.K[0, 2] == pytest.approx(
        1241 - 609.5593
    )
    assert np.nanmax(right.depth_m) == 37.5 and right.valid[:, 1241 - 100].any()
    signed = KittiEigen(tmp_path, split, r_mode="signed")[1]
    assert signed.baseline_m == pytest.approx(-left.baseline_m)
    np.testing.assert_array_equal(signed.left, img03)


def test_kitti_benchmark_crop_and_depth_completion_layout(tmp_path):
    split = _kitti_tree(tmp_path)
    ann = tmp_path / "data_depth_annotated" / "val" / DRIVE  # the depth-completion download's layout
    ann.mkdir(parents=True)
    (tmp_path / DATE / DRIVE / "proj_depth").rename(ann / "proj_depth")
    with pytest.raises(
        DataError, match=r"missing depth PNG: .*proj_depth/groundtruth/image_02/0000000005.png"
    ):
        KittiEigen(tmp_path, split)[0]
    s = KittiEigen(tmp_path, split, annotated_root=tmp_path / "data_depth_annotated", crop="benchmark")[0]
    assert (s.height, s.width) == BENCHMARK_CROP_HW
    y0, x0 = 375 - 352, (1242 - 1216) // 2
    assert s.K[0, 2] == pytest.approx(609.5593 - x0) and s.K[1, 2] == pytest.approx(172.854 - y0)
    assert s.valid[200 - y0 :, 100 - x0].all() and not s.valid[: 200 - y0].any()


def _rect_to_velo(points_rect):
    """Inverse of R_rect_00 @ [R|T] (independent of the reader's code path)."""
    R_rect = np.array([float(x) for x in CAM_TO_CAM.split("R_rect_00:")[1].split("\n")[0].split()]).reshape(
        3, 3
    )
    R = np.array([float(x) for x in VELO_TO_CAM.split("R:")[1].split("\n")[0].split()]).reshape(3, 3)
    T = np.array([float(x) for x in VELO_TO_CAM.split("T:")[1].split("\n")[0].split()])
    cam = points_rect @ R_rect  # R_rect^-1 = R_rect^T
    return (cam - T) @ R  # R^-1 = R^T


def test_kitti_lidar_projected_gt_nearest_point_in_front(tmp_path):
    split = _kitti_tree(tmp_path, frames=(5,), annotated=False)
    P2 = np.array([float(x) for x in CAM_TO_CAM.split("P_rect_02:")[1].split("\n")[0].split()]).reshape(3, 4)
    centre2 = -np.linalg.solve(
        P2[:, :3], P2[:, 3]
    )  # camera 2's centre in the rectified frame (P2 @ [C; 1] = 0)
    # points in the rectified camera-0 frame: a near one, a far one on camera 2's same ray, one behind
    near = np.array([1.0, 0.25, 10.0])
    rect = np.stack([centre2 + 2 * (near - centre2), near, [0.5, 1.0, 8.0], [0.0, 0.0, -10.0]])
    velo = np.concatenate([_rect_to_velo(rect), np.ones((4, 1))], 1).astype(np.float32)
    scan = tmp_path / DATE / DRIVE / "velodyne_points" / "data" / "0000000005.bin"
    scan.parent.mkdir(parents=True)
    velo.tofile(scan)
    s = KittiEigen(tmp_path, split, gt="lidar")[0]
    proj = np.concatenate([rect, np.ones((4, 1))], 1) @ P2.T
    uv = np.round(proj[:, :2] / proj[:, 2:]).astype(int)
    assert (
        np.isfinite(s.depth_m).sum() == 2
    )  # the far point hides behind the near one; the one behind is dropped
    assert tuple(uv[0]) == tuple(uv[1])
    assert s.depth_m[uv[1, 1], uv[1, 0]] == pytest.approx(proj[1, 2], abs=1e-4)
    assert s.depth_m[uv[2, 1], uv[2, 0]] == pytest.approx(proj[2, 2], abs=1e-4)
    _truncate(scan)
    velo[:3].tofile(scan)
    with open(scan, "ab") as f:
        f.write(b"\0" * 5)
    with pytest.raises(DataError, match=r"truncated velodyne scan: .*0000000005.bin .*multiple of 16"):
        KittiEigen(tmp_path, split, gt="lidar")[0]


def test_kitti_mis_sized_image_is_reported(tmp_path):
    split = _kitti_tree(tmp_path, frames=(5,), annotated=False)
    _write_png(tmp_path / DATE / DRIVE / "image_03" / "data" / "0000000005.png", _rgb(370, 1224))
    with pytest.raises(
        DataError, match=r"mis-sized image: .*image_03/data/0000000005.png is 370x1224 .*375x1242"
    ):
        KittiEigen(tmp_path, split, gt="none")[0]


# -- DrivingStereo --------------------------------------------------------------------------------


def test_drivingstereo_depth_and_disparity(tmp_path):
    seq = "2018-07-09-16-11-56"
    name = f"{seq}_2018-07-09-16-11-56-502"
    h, w = 40, 88
    left, right = _rgb(h, w), _rgb(h, w)
    _write_png(tmp_path / "train-left-image" / seq / f"{name}.jpg", left)
    _write_png(tmp_path / "train-right-image" / seq / f"{name}.jpg", right)
    depth = np.zeros((h, w), np.uint16)
    depth[10:, :] = 20 * 256
    _write_png(tmp_path / "train-depth-map" / seq / f"{name}.png", depth)
    fx, B = 100.0, 0.5449
    disp = np.where(depth > 0, np.round(fx * B / 20.0 * 256), 0).astype(np.uint16)
    _write_png(tmp_path / "train-disparity-map" / seq / f"{name}.png", disp)
    (tmp_path / "half-image-calib").mkdir()
    (tmp_path / "half-image-calib" / f"{seq}.txt").write_text(
        f"S_rect_101: {2 * w} {2 * h}\nP_rect_101: {2 * fx} 0 44 0 0 {2 * fx} 20 0 0 0 1 0\n"
        f"P_rect_103: {2 * fx} 0 44 {-2 * fx * B * 2} 0 {2 * fx} 20 0 0 0 1 0\nT_103: {-B} 0.001 0.002\n"
    )
    s = DrivingStereo(tmp_path)[0]
    assert len(DrivingStereo(tmp_path)) == 1 and s.left.shape == (h, w, 3)
    assert s.K[0, 0] == pytest.approx(fx) and s.baseline_m == pytest.approx(np.linalg.norm([B, 0.001, 0.002]))
    assert np.nanmax(s.depth_m) == 20.0 and s.valid[10:].all() and not s.valid[:10].any()
    d = DrivingStereo(tmp_path, depth="disparity")[0]
    np.testing.assert_allclose(d.depth_m[10:], 20.0, rtol=2e-3)
    (tmp_path / "half-image-calib" / f"{seq}.txt").unlink()
    with pytest.raises(DataError, match=f"no calibration for sequence {seq}"):
        DrivingStereo(tmp_path)[0]


# -- Middlebury -----------------------------------------------------------------------------------


def test_middlebury_calibration_reprojects_right_onto_left():
    s = MiddleburyMotorcycle()[0]
    h, w = s.depth_m.shape
    assert (h, w) == (500, 741) and 2.0 < np.nanmin(s.depth_m) < np.nanmax(s.depth_m) < 5.1
    disp = s.K[0, 0] * s.baseline_m / s.depth_m  # the contract's relation, with the aligned right view
    u, v = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    ur = (u - disp).astype(np.float32)
    warped = cv2.remap(s.right.astype(np.float32), ur, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    ok = s.valid & (ur >= 0) & (ur < w - 40)
    err = np.median(np.abs(warped - s.left).mean(axis=2)[ok])
    assert err < 5.0
    raw = MiddleburyMotorcycle(align_right=False)[0]  # without the doffs shift the relation is off by 31 px
    warped = cv2.remap(raw.right.astype(np.float32), ur, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert np.median(np.abs(warped - s.left).mean(axis=2)[ok]) > 3 * err


# -- registry -------------------------------------------------------------------------------------


def test_registry_names_and_unknown_name():
    assert DATASETS.names() == sorted(
        [
            "synthetic",
            "kitti_eigen",
            "kitti_object",
            "drivingstereo",
            "folder",
            "folders",
            "middlebury_cones",
            "rosbag",
            "middlebury",
        ]
    )
    with pytest.raises(KeyError, match="known: .*kitti_eigen"):
        build_reader("kitti")
    synth = build_dataset("synthetic", size=(32, 64), augment={"flip_prob": 0.0}, n=2, seed=9)
    assert (
        synth.reader.config.height == 32 and synth[1]["source_id"] == "synthetic:10"
    )  # rendered at the size
    ds = build_dataset("middlebury", size=(64, 96))
    item = ds[0]
    assert (
        item["left"].shape == (3, 64, 96) and item["has_depth"] and item["depth"][item["valid"]].min() > 2.0
    )


def test_file_readers_and_writers_import_without_torch():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import adu_depth_core.data.folder, adu_depth_core.data.kitti, adu_depth_core.data.drivingstereo\n"
        "import adu_depth_core.data.rosbag, adu_depth_core.data.middlebury, adu_depth_core.data.datasets\n"
        "from adu_depth_core.data import DataError, build_reader\n"
        "assert 'torch' not in sys.modules, 'a file reader pulled in torch'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cones_relative_sample_is_nominal_fb_over_disparity():
    from pathlib import Path

    from adu_depth_core.data.datasets import build_reader
    from adu_depth_core.data.middlebury import CONES_NOMINAL_FB_PX_M, read_cones

    root = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "middlebury2003_cones"
    if not root.is_dir():
        pytest.skip(f"the real Middlebury Cones pair is not on this machine ({root})")
    (s,) = build_reader("middlebury_cones", root=str(root))
    disp = read_cones(str(root))["disparity"]
    assert s.valid.sum() == (disp > 0).sum() > 0
    np.testing.assert_allclose(s.depth_m[s.valid] * disp[s.valid], CONES_NOMINAL_FB_PX_M, rtol=1e-5)
    assert abs(s.K[0, 0] * s.baseline_m - CONES_NOMINAL_FB_PX_M) < 1e-9 and s.right is not None
