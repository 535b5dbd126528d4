"""``make-sample-bag``: a small rosbag of synthetic stereo street frames with exact ground truth.

Topics (10 Hz, stamps from 1.7e9 s; the LiDAR is 3 ms late, like an unsynchronised sensor):

| topic | type | content |
|---|---|---|
| /stereo/left/image_raw, /stereo/right/image_raw | Image rgb8 | rectified pair |
| /stereo/left/camera_info, /stereo/right/camera_info | CameraInfo | K; right P has Tx = -fx * baseline |
| /stereo/left/depth | Image 32FC1 | exact left z-depth (m), NaN = sky |
| /lidar/points | PointCloud2 | 64-beam returns in the 'lidar' frame (x fwd, y left, z up) |
| /middlebury/{left,right}/image_raw, .../camera_info, /middlebury/left/depth | | Middlebury 2014 Motorcycle |

The LiDAR extrinsic ``T_cam_lidar`` is stored in the bag's metadata (custom_data) and
in ``T_cam_lidar.yaml`` next to it (for ``bag-eval --extrinsic``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adu_depth_core.bags import messages as M
from adu_depth_core.bags.io import BagWriter

START_NS = 1_700_000_000 * 1_000_000_000
PERIOD_NS = 100_000_000
LIDAR_DELAY_NS = 3_000_000
LEFT_FRAME, RIGHT_FRAME, LIDAR_FRAME = "stereo_left_optical_frame", "stereo_right_optical_frame", "lidar"
# LiDAR axes (x forward, y left, z up) -> camera optical axes (x right, y down, z forward); LiDAR 8 cm above
T_CAM_LIDAR = np.array(
    [[0.0, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, -0.08], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)
EXTRINSIC_FILE = "T_cam_lidar.yaml"


@dataclass(frozen=True)
class SampleBagConfig:
    """What make-sample-bag writes."""

    n: int = 8
    height: int = 192
    width: int = 640
    seed: int = 0
    storage: str = "mcap"
    lidar: bool = True
    middlebury: bool = True


def stereo_topics(prefix: str) -> dict[str, str]:
    """Topic names of one stereo camera under ``prefix`` ('/stereo', '/middlebury')."""
    return {
        "left": f"{prefix}/left/image_raw",
        "right": f"{prefix}/right/image_raw",
        "left_info": f"{prefix}/left/camera_info",
        "right_info": f"{prefix}/right/camera_info",
        "depth": f"{prefix}/left/depth",
    }


SAMPLE_CAMERA_HEIGHT_M = 1.65  # one rig for the whole bag, at KITTI's (and the scale stage's default) height


def _write_stereo(bag: BagWriter, prefix: str, t_ns: int, left, right, depth_m, K, baseline_m: float) -> None:
    topics = stereo_topics(prefix)
    h, w = left.shape[:2]
    lh, rh = M.make_header(t_ns, LEFT_FRAME), M.make_header(t_ns, RIGHT_FRAME)
    P_right = np.hstack([K, [[-K[0, 0] * baseline_m], [0.0], [0.0]]])
    bag.write(topics["left"], M.image_msg(left, "rgb8", lh), t_ns)
    bag.write(topics["right"], M.image_msg(right, "rgb8", rh), t_ns)
    bag.write(topics["left_info"], M.camera_info_msg(K, w, h, lh), t_ns)
    bag.write(topics["right_info"], M.camera_info_msg(K, w, h, rh, P=P_right), t_ns)
    bag.write(topics["depth"], M.depth_msg(depth_m, lh), t_ns)


def lidar_cloud(sparse_depth_m: np.ndarray, K: np.ndarray, t_ns: int):
    """The LiDAR returns of a sparse depth map as an unorganised PointCloud2 in the LiDAR frame.

    Each return sits on its pixel's ray, so projecting it back (``bags.lidar``) gives the same depth.
    """
    from adu_depth_core.runtime.geometry import backproject, to_point_array

    xyz = backproject(sparse_depth_m, K).reshape(-1, 3)
    xyz = xyz[np.isfinite(xyz).all(axis=1)].astype(np.float64)
    T_lidar_cam = np.linalg.inv(T_CAM_LIDAR)
    pts = (xyz @ T_lidar_cam[:3, :3].T + T_lidar_cam[:3, 3]).astype(np.float32)
    return M.pointcloud_msg(to_point_array(pts[None]), M.make_header(t_ns, LIDAR_FRAME))


def _write_middlebury(bag: BagWriter, t_ns: int) -> None:
    """The Middlebury 2014 Motorcycle pair (scikit-image), right view aligned to the left K."""
    from adu_depth_core.data.middlebury import MiddleburyMotorcycle

    s = MiddleburyMotorcycle(align_right=True)[0]
    _write_stereo(bag, "/middlebury", t_ns, s.left, s.right, s.depth_m, s.K, s.baseline_m)


def write_sample_bag(
    out: str | os.PathLike, cfg: SampleBagConfig = SampleBagConfig(), progress: bool = True
) -> Path:
    """Render ``cfg.n`` synthetic stereo frames (+ Middlebury) into a new bag at ``out``; returns its path."""
    from tqdm import tqdm

    from adu_depth_core.data.synthetic import StereoSynthesizer, SynthConfig

    out = Path(out)
    lidar_origin = tuple(float(v) for v in T_CAM_LIDAR[:3, 3])  # the LiDAR's origin in the camera frame
    synth = StereoSynthesizer(
        SynthConfig(
            height=cfg.height,
            width=cfg.width,
            lidar=cfg.lidar,
            lidar_offset_m=lidar_origin,
            camera_height_m=(SAMPLE_CAMERA_HEIGHT_M, SAMPLE_CAMERA_HEIGHT_M),
        )
    )
    with BagWriter(out, storage=cfg.storage) as bag:
        bag.set_custom_data("adu_depth.tool", "make-sample-bag")
        bag.set_custom_data("adu_depth.T_cam_lidar", " ".join(f"{v:.9g}" for v in T_CAM_LIDAR.ravel()))
        for i in tqdm(range(cfg.n), desc="make-sample-bag", unit="frame", disable=not progress):
            f = synth.render(cfg.seed + i)
            t_ns = START_NS + i * PERIOD_NS
            _write_stereo(bag, "/stereo", t_ns, f.left, f.right, f.depth_m, f.K, f.baseline_m)
            if f.lidar_m is not None:
                t_lidar = t_ns + LIDAR_DELAY_NS
                bag.write("/lidar/points", lidar_cloud(f.lidar_m, f.K, t_lidar), t_lidar)
        if cfg.middlebury:
            _write_middlebury(bag, START_NS + cfg.n * PERIOD_NS)
    rows = "\n".join(f"  - [{', '.join(f'{v:.9g}' for v in row)}]" for row in T_CAM_LIDAR)
    (out / EXTRINSIC_FILE).write_text(
        f"# p_cam = T_cam_lidar @ p_lidar (camera optical frame)\nT_cam_lidar:\n{rows}\n"
    )
    return out
