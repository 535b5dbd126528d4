"""Per-sample cameras in the readers: the KITTI object layout's calibration and LiDAR projection, and
per-frame calibration files in folder datasets (on tiny trees in tmp_path, in the published formats)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from adu_depth_core.data import DataError, build_reader
from adu_depth_core.data.folder import write_calib, write_frame_calib, write_sample
from adu_depth_core.data.sample import StereoSample

RNG = np.random.default_rng(0)


def _rgb(h, w):
    return RNG.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _sample(h=48, w=96):
    depth = RNG.uniform(1, 50, size=(h, w)).astype(np.float32)
    K = np.array([[50.0, 0, w / 2], [0, 50.0, h / 2], [0, 0, 1]])
    return StereoSample(_rgb(h, w), _rgb(h, w), depth, np.isfinite(depth), K, 0.3, "test")


OBJECT_CALIB = """P0: 700 0 100 0 0 700 30 0 0 0 1 0
P1: 700 0 100 -378 0 700 30 0 0 0 1 0
P2: 700 0 100 42 0 700 30 0.7 0 0 1 0.005
P3: 700 0 100 -336 0 700 30 2.1 0 0 1 0.003
R0_rect: 1 0 0 0 1 0 0 0 1
Tr_velo_to_cam: 0 -1 0 0 0 0 -1 -0.08 1 0 0 -0.27
Tr_imu_to_velo: 1 0 0 0 0 1 0 0 0 0 1 0
"""


def test_kitti_object_projects_lidar_with_p2_r0_tr_and_reads_the_baseline(tmp_path):

    root = tmp_path / "training"
    (root / "image_2").mkdir(parents=True)
    assert cv2.imwrite(str(root / "image_2" / "000007.png"), _rgb(60, 200))
    (root / "calib").mkdir(parents=True)
    (root / "calib" / "000007.txt").write_text(OBJECT_CALIB)
    # velodyne frame: x forward, y left, z up; a point 20 m ahead, 1 m left, 0.5 m down; one behind
    velo = np.array([[20.0, 1.0, -0.5, 0.3], [-5.0, 0.0, 0.0, 0.3]], dtype=np.float32)
    (root / "velodyne").mkdir()
    velo.tofile(root / "velodyne" / "000007.bin")
    s = build_reader("kitti_object", root=tmp_path)[0]
    # camera-2 frame = R0 · Tr · X + K^-1 P2[:, 3]: x = -1 + 0.06, y = 0.5 - 0.08 + 0.001, z = 20 - 0.27 + 0.005
    cam = np.array([-1.0 + 42 / 700 - 100 * 0.005 / 700, 0.42 + 0.7 / 700 - 30 * 0.005 / 700, 19.735])
    u, v = 700 * cam[0] / cam[2] + 100, 700 * cam[1] / cam[2] + 30
    assert np.isfinite(s.depth_m).sum() == 1 and s.right is None
    assert s.depth_m[int(np.floor(v + 0.5)), int(np.floor(u + 0.5))] == pytest.approx(cam[2], abs=1e-3)
    assert s.baseline_m == pytest.approx((42 + 336) / 700) and s.K[0, 0] == 700
    with pytest.raises(DataError, match="not a KITTI object folder"):
        build_reader("kitti_object", root=tmp_path / "nope")


def test_per_frame_calibration_overrides_the_folder_one_and_folders_concatenate(tmp_path):
    for name in ("a", "b"):
        write_calib(tmp_path / name, np.diag([50.0, 50.0, 1.0]), 0.3, 48, 96)
        for i in range(2):
            write_sample(tmp_path / name, f"{i:06d}", _sample())
    K1 = np.array([[80.0, 0, 40], [0, 80.0, 20], [0, 0, 1]])
    write_frame_calib(tmp_path / "b", "000001", K1, 0.25)
    reader = build_reader("folders", roots=[tmp_path / "a", tmp_path / "b"])
    assert len(reader) == 4
    assert reader[1].K[0, 0] == 50.0 and reader[2].K[0, 0] == 50.0
    np.testing.assert_array_equal(reader[3].K, K1)
    assert reader[3].baseline_m == 0.25 and reader[-1].source_id == reader[3].source_id
    (tmp_path / "b" / "calib" / "000001.yaml").write_text("K: nonsense\n")
    with pytest.raises(DataError, match="frame calibration"):
        reader[3]
