"""Helpers that drive a depth node over real topics: a camera-side probe and an isolated ROS context.

Used by the tests, the node benchmark and the demo. Over loopback, best-effort
images can be lost, so ``Probe.request`` resends a frame (with a newer stamp)
until every wanted output for one stamp has arrived.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import Log
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from std_msgs.msg import Header

from adu_depth_ros.conversions import numpy_to_image

OUTPUT_TYPES = {
    "depth": Image,
    "depth/uncertainty": Image,
    "depth/camera_info": CameraInfo,
    "depth/color": Image,
    "points": PointCloud2,
}


def free_domain_id(salt: int = 0) -> int:
    """A ROS_DOMAIN_ID in 100..199 from the process id, so parallel test runs do not see each other."""
    return 100 + (os.getpid() + salt) % 100


@contextmanager
def ros_context(domain_id: int | None = None):
    """An initialised, isolated rclpy Context (loopback discovery only); shut down on exit."""
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    ctx = Context()
    rclpy.init(context=ctx, domain_id=free_domain_id() if domain_id is None else domain_id)
    try:
        yield ctx
    finally:
        ctx.try_shutdown()


@contextmanager
def spinning(ctx: Context, *nodes: Node, threads: int = 2):
    """Spin ``nodes`` in a background executor (multi-threaded, or single-threaded for ``threads=1``)."""
    if threads == 1:
        executor = SingleThreadedExecutor(context=ctx)
    else:
        executor = MultiThreadedExecutor(num_threads=threads, context=ctx)
    for node in nodes:
        executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield executor
    finally:
        executor.shutdown(timeout_sec=2.0)
        thread.join(timeout=5.0)


def make_camera_info(
    width: int, height: int, fx: float, fy: float, cx: float, cy: float, frame_id: str = "cam_optical_frame"
) -> CameraInfo:
    """A calibrated pinhole CameraInfo (no distortion, P = [K | 0])."""
    msg = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    msg.header.frame_id = frame_id
    msg.d = [0.0] * 5
    msg.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def gradient_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth colour gradient with a little noise: HxWx3 uint8 RGB."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack([255 * xx / max(width - 1, 1), 255 * yy / max(height - 1, 1), 128 + 0 * xx], axis=-1)
    return np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)


class Probe(Node):
    """The camera side: publishes image + camera_info, records the node's outputs and /diagnostics."""

    def __init__(
        self,
        context: Context,
        namespace: str = "",
        outputs: Iterable[str] = OUTPUT_TYPES,
        image_topic: str = "image",
        info_topic: str = "camera_info",
        reliable_input: bool = False,
        name: str = "probe",
    ) -> None:
        super().__init__(name, namespace=namespace, context=context)
        policy = ReliabilityPolicy.RELIABLE if reliable_input else ReliabilityPolicy.BEST_EFFORT
        sensor = QoSProfile(depth=50 if reliable_input else 5, reliability=policy)
        self.image_pub = self.create_publisher(Image, image_topic, sensor)
        self.compressed_pub = self.create_publisher(CompressedImage, image_topic + "/compressed", sensor)
        self.info_pub = self.create_publisher(CameraInfo, info_topic, sensor)
        self._lock = threading.Lock()
        self.received: dict[str, list[tuple[object, float]]] = {name: [] for name in outputs}
        self.diagnostics: list[DiagnosticArray] = []
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        for name in self.received:
            self.create_subscription(OUTPUT_TYPES[name], name, self._collector(name), reliable)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, reliable)
        self.logs: list[Log] = []
        self.create_subscription(
            Log, "/rosout", self._on_log, QoSProfile(depth=1000, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        )
        self._stamp_ns = time.time_ns()
        self._param_clients: dict[str, object] = {}

    def _collector(self, name: str) -> Callable:
        def collect(msg) -> None:
            with self._lock:
                self.received[name].append((msg, time.time()))

        return collect

    def _on_diag(self, msg: DiagnosticArray) -> None:
        with self._lock:
            self.diagnostics.append(msg)

    def _on_log(self, msg: Log) -> None:
        if msg.name != self.get_logger().name:
            with self._lock:
                self.logs.append(msg)

    def log_lines(self, containing: str = "") -> list[str]:
        """Messages other nodes logged to /rosout that contain ``containing``."""
        with self._lock:
            return [m.msg for m in self.logs if containing in m.msg]

    def next_stamp(self) -> Time:
        """A fresh, strictly increasing stamp (wall clock, as a camera driver would set)."""
        self._stamp_ns = max(time.time_ns(), self._stamp_ns + 1000)
        return Time(sec=self._stamp_ns // 10**9, nanosec=self._stamp_ns % 10**9)

    def send(
        self,
        image: Image | CompressedImage | np.ndarray,
        info: CameraInfo | None = None,
        frame_id: str = "cam_optical_frame",
    ) -> Time:
        """Publish one frame (an RGB array is sent as rgb8) and its camera_info with the same stamp."""
        stamp = self.next_stamp()
        msg = numpy_to_image(image, "rgb8") if isinstance(image, np.ndarray) else image
        msg.header = Header(stamp=stamp, frame_id=frame_id)
        if info is not None:
            info.header = Header(stamp=stamp, frame_id=info.header.frame_id or frame_id)
            self.info_pub.publish(info)
        (self.compressed_pub if isinstance(msg, CompressedImage) else self.image_pub).publish(msg)
        return stamp

    def outputs_for(self, stamp: Time, names: Iterable[str]) -> dict[str, object] | None:
        """{name: message} with header.stamp == stamp for every name, or None if any is missing."""
        key = (stamp.sec, stamp.nanosec)
        found = {}
        with self._lock:
            for name in names:
                match = [
                    m for m, _ in self.received[name] if (m.header.stamp.sec, m.header.stamp.nanosec) == key
                ]
                if not match:
                    return None
                found[name] = match[-1]
        return found

    def request(
        self,
        image,
        info: CameraInfo | None = None,
        names: Iterable[str] = ("depth",),
        timeout_s: float = 20.0,
        resend_s: float = 0.5,
        frame_id: str = "cam_optical_frame",
    ) -> dict[str, object]:
        """Send a frame until the node answers it on every output in ``names``; {name: message}."""
        names = tuple(names)
        deadline = time.monotonic() + timeout_s
        stamps: list[Time] = []
        while time.monotonic() < deadline:
            stamps.append(self.send(image, info, frame_id))
            until = min(deadline, time.monotonic() + resend_s)
            while time.monotonic() < until:
                for stamp in reversed(stamps):
                    got = self.outputs_for(stamp, names)
                    if got is not None:
                        return got
                time.sleep(0.01)
        raise TimeoutError(f"no answer on {names} after {timeout_s} s ({len(stamps)} frames sent)")

    def set_params(self, node_name: str, values: dict, timeout_s: float = 30.0) -> list:
        """Set parameters of ``node_name`` through its parameter service; SetParametersResult per value."""
        from rclpy.parameter_client import AsyncParameterClient

        if node_name not in self._param_clients:  # one client per remote node (rclpy has no destroy for it)
            self._param_clients[node_name] = AsyncParameterClient(self, node_name)
        client = self._param_clients[node_name]
        if not client.wait_for_services(timeout_sec=timeout_s):
            raise TimeoutError(f"parameter services of {node_name} did not appear")
        future = client.set_parameters([Parameter(k, value=v) for k, v in values.items()])
        if not self.wait_until(future.done, timeout_s):
            raise TimeoutError(f"set_parameters on {node_name} got no answer")
        return list(future.result().results)

    def wait_until(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
        """Poll ``predicate`` until it holds or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    def statuses(self, node: str = "/depth_node") -> list:
        """DiagnosticStatus entries received so far from the depth node with fully qualified name ``node``."""
        with self._lock:
            arrays = list(self.diagnostics)
        return [s for a in arrays for s in a.status if s.name == f"{node}: depth"]

    def wait_status(self, node: str, predicate: Callable, since: int = 0, timeout_s: float = 10.0):
        """The first status of ``node`` (from index ``since``, see ``len(statuses(node))``) matching ``predicate``."""
        start = since
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for status in self.statuses(node)[start:]:
                if predicate(status):
                    return status
            time.sleep(0.05)
        raise TimeoutError(f"no diagnostics status of {node} matched within {timeout_s} s")

    def clear(self) -> None:
        with self._lock:
            for v in self.received.values():
                v.clear()
            self.diagnostics.clear()
            self.logs.clear()


@contextmanager
def running_node(ctx: Context, params: dict, namespace: str = "", lifecycle: bool = False, **probe_kw):
    """A depth node with ``params`` and a Probe in ``namespace``, spinning until the block ends."""
    if lifecycle:
        from adu_depth_ros.lifecycle_node import LifecycleDepthNode as node_cls
    else:
        from adu_depth_ros.depth_node import DepthNode as node_cls
    overrides = [Parameter(k, value=v) for k, v in params.items()]
    node = node_cls(context=ctx, namespace=namespace, parameter_overrides=overrides)
    probe = Probe(ctx, namespace=namespace, **probe_kw)
    try:
        with spinning(ctx, node, probe):
            yield node, probe
    finally:
        node.destroy_node()
        probe.destroy_node()


def status_value(status, key: str) -> str | None:
    """The value of ``key`` in a DiagnosticStatus, or None."""
    return next((kv.value for kv in status.values if kv.key == key), None)


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process in MB (Linux /proc; NaN where it is not available)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return float("nan")
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
