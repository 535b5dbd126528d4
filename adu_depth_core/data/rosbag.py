"""Stereo rosbag2 recordings (sqlite3 or MCAP) read with ``rosbags``: two image topics + camera_info.

Left/right Image or CompressedImage messages are paired one-to-one by header stamp within
``max_dt_s`` (closest first); an optional depth Image topic (32FC1 m or 16UC1 mm, registered to the
left camera) or a LiDAR PointCloud2 topic (with ``lidar_extrinsic``: T_cam_lidar as 16 numbers, a
YAML or a KITTI-style .txt, projected into the left view, nearest point per pixel) is matched to the
left stamps the same way. K is the left camera_info's P[:3, :3]
(rectified images) and the baseline comes from the right camera_info (ROS: P[0, 3] = -fx * B),
unless ``baseline_m`` is given. ``rectify=True`` undistorts and rectifies raw images with each
camera_info's K, D, R, P first. The bag is indexed once (header stamps read straight from the CDR
bytes); samples are then fetched by log time, so the reader is random access and picklable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from adu_depth_core.data.sample import DataError, StereoSample, make_valid

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
INFO_TYPE = "sensor_msgs/msg/CameraInfo"
CLOUD_TYPE = "sensor_msgs/msg/PointCloud2"


def _bags():
    """The message helpers of adu_depth_core.bags (needs the 'rosbags' package)."""
    try:
        from adu_depth_core.bags import matching, messages
        from adu_depth_core.bags.io import jazzy_typestore
    except ImportError as exc:  # pragma: no cover - rosbags is in the bags extra
        raise ImportError("reading rosbags needs the 'rosbags' package: pip install '.[bags]'") from exc
    return messages, matching, jazzy_typestore


@dataclass(frozen=True)
class _Ref:
    """Where one message lives: its topic, log time and header stamp (ns)."""

    topic: str
    log_ns: int
    stamp_ns: int


def info_topic_for(image_topic: str) -> str:
    """The camera_info topic next to an image topic: /cam/left/image_rect -> /cam/left/camera_info."""
    parent = image_topic.rstrip("/").rsplit("/", 1)[0]
    if parent.endswith("/compressed") or image_topic.endswith("/compressed"):
        parent = image_topic.rstrip("/").rsplit("/", 2)[0]
    return f"{parent}/camera_info"


class RosbagStereo:
    """Stereo samples from a rosbag2 directory (or its .db3/.mcap file)."""

    def __init__(
        self,
        path: str | os.PathLike,
        left_topic: str,
        right_topic: str,
        left_info_topic: str | None = None,
        right_info_topic: str | None = None,
        depth_topic: str | None = None,
        max_dt_s: float = 0.005,
        baseline_m: float | None = None,
        rectify: bool = False,
        lidar_extrinsic: str | os.PathLike | None = None,
    ) -> None:
        p = Path(path)
        self.path = p.parent if p.is_file() else p
        if not (self.path / "metadata.yaml").is_file():
            raise DataError(f"not a rosbag2 directory: {self.path / 'metadata.yaml'} is missing")
        self.topics = {
            "left": left_topic,
            "right": right_topic,
            "left_info": left_info_topic or info_topic_for(left_topic),
            "right_info": right_info_topic or info_topic_for(right_topic),
        }
        if depth_topic:
            self.topics["depth"] = depth_topic
        self.rectify = rectify
        self.T_cam_lidar = None
        if lidar_extrinsic is not None:
            from adu_depth_core.bags.lidar import ExtrinsicError, load_extrinsic

            try:
                self.T_cam_lidar = load_extrinsic(lidar_extrinsic)
            except ExtrinsicError as exc:
                raise DataError(str(exc)) from None
        self._reader: Any = None
        self._typestore: Any = None
        refs, infos = self._index()
        self._set_calibration(infos, baseline_m)
        self.samples = self._pair(refs, int(round(max_dt_s * 1e9)))
        if not self.samples:
            raise DataError(
                f"{self.path}: no left/right pairs within {max_dt_s * 1e3:.1f} ms "
                f"({len(refs['left'])} left, {len(refs['right'])} right images); raise max_dt_s?"
            )

    # -- indexing -----------------------------------------------------------------------------------
    def _open(self) -> Any:
        if self._reader is None:
            from rosbags.rosbag2 import Reader

            _, _, jazzy_typestore = _bags()
            try:
                reader = Reader(self.path)
                reader.open()
            except Exception as exc:  # rosbags/sqlite/mcap raise many types for corrupt bags
                raise DataError(f"cannot open bag {self.path}: {type(exc).__name__}: {exc}") from exc
            self._reader, self._typestore = reader, jazzy_typestore()
        return self._reader

    def _connections(self, role: str) -> list[Any]:
        topic = self.topics[role]
        conns = [c for c in self._open().connections if c.topic == topic]
        if not conns:
            have = ", ".join(sorted({c.topic for c in self._reader.connections}))
            raise DataError(f"{role} topic '{topic}' is not in bag {self.path}; topics there: {have}")
        wanted = {
            "left_info": (INFO_TYPE,),
            "right_info": (INFO_TYPE,),
            "depth": (IMAGE_TYPES[0], CLOUD_TYPE),
        }
        allowed = wanted.get(role, IMAGE_TYPES)
        if conns[0].msgtype not in allowed:
            raise DataError(
                f"{role} topic '{topic}' has type {conns[0].msgtype}, expected {' or '.join(allowed)}"
            )
        if conns[0].msgtype == CLOUD_TYPE and self.T_cam_lidar is None:
            raise DataError(
                f"depth topic '{topic}' is a PointCloud2: pass lidar_extrinsic (T_cam_lidar) to project it"
            )
        return conns

    def _index(self) -> tuple[dict[str, list[_Ref]], dict[str, Any]]:
        messages, _, _ = _bags()
        conns = {role: self._connections(role) for role in self.topics}
        refs: dict[str, list[_Ref]] = {r: [] for r in self.topics if not r.endswith("info")}
        infos: dict[str, Any] = {}
        roles_of: dict[int, list[str]] = {}
        for role, cs in conns.items():
            for c in cs:
                roles_of.setdefault(c.id, []).append(role)  # one topic may serve two roles
        unique = {c.id: c for cs in conns.values() for c in cs}
        for conn, log_ns, data in self._reader.messages(connections=list(unique.values())):
            for role in roles_of[conn.id]:
                if role.endswith("info"):
                    if role not in infos:
                        infos[role] = self._typestore.deserialize_cdr(data, conn.msgtype)
                else:
                    refs[role].append(_Ref(conn.topic, int(log_ns), messages.cdr_stamp_ns(bytes(data[:12]))))
        for role in ("left_info", "right_info"):
            if role not in infos:
                raise DataError(f"camera_info topic '{self.topics[role]}' in {self.path} has no messages")
        return refs, infos

    def _set_calibration(self, infos: dict[str, Any], baseline_m: float | None) -> None:
        messages, _, _ = _bags()
        try:
            left, right = (messages.camera_info_to_intrinsics(infos[r]) for r in ("left_info", "right_info"))
        except messages.MessageError as exc:
            raise DataError(f"{self.path}: {exc}") from None
        self.hw = (left.height, left.width)
        self.K = left.P[:3, :3].copy()
        self.baseline_m = float(baseline_m) if baseline_m is not None else right.baseline_m
        if not self.baseline_m > 0:
            raise DataError(
                f"{self.path}: right camera_info '{self.topics['right_info']}' has P[3] = "
                f"{right.P[0, 3]:g}, so no positive baseline (P[3] = -fx * B for the right camera "
                "of a rectified pair); pass baseline_m=..."
            )
        self._maps = None
        R_left = np.asarray(infos["left_info"].r, dtype=np.float64).reshape(3, 3)
        self._R_left = R_left if R_left.any() else np.eye(3)
        if self.rectify:
            self._maps = tuple(_rectify_maps(infos[r], self.topics[r]) for r in ("left_info", "right_info"))

    def _pair(self, refs: dict[str, list[_Ref]], tol_ns: int) -> list[tuple[_Ref, _Ref, _Ref | None]]:
        _, matching, _ = _bags()
        stamps = lambda role: [r.stamp_ns for r in refs[role]]  # noqa: E731
        pairs = matching.match_stamps(stamps("left"), stamps("right"), tol_ns).pairs
        depth_of: dict[int, _Ref] = {}
        if "depth" in refs:
            lefts = [refs["left"][i].stamp_ns for i, _ in pairs]
            depth_of = {
                k: refs["depth"][j] for k, j in matching.match_stamps(lefts, stamps("depth"), tol_ns).pairs
            }
        return [(refs["left"][i], refs["right"][j], depth_of.get(k)) for k, (i, j) in enumerate(pairs)]

    # -- samples ------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> StereoSample:
        messages, _, _ = _bags()
        left_ref, right_ref, depth_ref = self.samples[i]
        source = f"{self.path}@{left_ref.stamp_ns}"
        try:
            images = [messages.image_to_rgb(self._fetch(ref)) for ref in (left_ref, right_ref)]
            depth = None if depth_ref is None else self._depth(self._fetch(depth_ref), source)
        except messages.MessageError as exc:
            raise DataError(f"{source}: {exc}") from None
        for name, arr in zip(("left", "right"), images):
            _check_size(arr, self.hw, f"{source}: {name} image")
        if self._maps is not None:
            images = [cv2.remap(img, *m, cv2.INTER_LINEAR) for img, m in zip(images, self._maps)]
        valid = None if depth is None else make_valid(depth)
        return StereoSample(images[0], images[1], depth, valid, self.K.copy(), self.baseline_m, source)

    def _depth(self, msg: Any, source: str) -> np.ndarray:
        """Depth in the (rectified) left view from a depth Image or a LiDAR PointCloud2."""
        messages, _, _ = _bags()
        if msg.__msgtype__ != CLOUD_TYPE:
            depth = _check_size(messages.depth_to_metres(msg), self.hw, f"{source}: depth image")
            if self._maps is not None:
                depth = cv2.remap(depth, *self._maps[0], cv2.INTER_NEAREST, borderValue=np.nan)
            return depth
        from adu_depth_core.projection import project_to_depth

        T = self.T_cam_lidar
        if self._maps is not None:  # the rectified left frame is R_left @ its optical frame
            R = np.eye(4)
            R[:3, :3] = self._R_left
            T = R @ T
        return project_to_depth(messages.pointcloud_xyz(msg), T, self.K, *self.hw)

    def _fetch(self, ref: _Ref) -> Any:
        messages, _, _ = _bags()
        conns = [c for c in self._open().connections if c.topic == ref.topic]
        for conn, _, data in self._reader.messages(connections=conns, start=ref.log_ns, stop=ref.log_ns + 1):
            if messages.cdr_stamp_ns(bytes(data[:12])) == ref.stamp_ns:
                return self._typestore.deserialize_cdr(data, conn.msgtype)
        raise DataError(
            f"{self.path}: message of '{ref.topic}' at log time {ref.log_ns} ns vanished from the bag"
        )

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_reader"] = state["_typestore"] = None  # reopened lazily in each worker
        return state


def _check_size(arr: np.ndarray, hw: tuple[int, int], what: str) -> np.ndarray:
    if arr.shape[:2] != hw:
        raise DataError(f"{what} is {arr.shape[0]}x{arr.shape[1]} (HxW) but camera_info says {hw[0]}x{hw[1]}")
    return arr


def _rectify_maps(info: Any, topic: str) -> tuple[np.ndarray, np.ndarray]:
    if info.distortion_model not in ("plumb_bob", "rational_polynomial", ""):
        raise DataError(
            f"camera_info '{topic}': distortion model '{info.distortion_model}' is not supported "
            "for rectification (plumb_bob or rational_polynomial)"
        )
    K = np.asarray(info.k, dtype=np.float64).reshape(3, 3)
    R = np.asarray(info.r, dtype=np.float64).reshape(3, 3)
    R = R if R.any() else np.eye(3)  # unset R: no rectifying rotation
    P = np.asarray(info.p, dtype=np.float64).reshape(3, 4)
    D = np.asarray(info.d, dtype=np.float64)
    return cv2.initUndistortRectifyMap(K, D, R, P[:3, :3], (int(info.width), int(info.height)), cv2.CV_32FC1)
