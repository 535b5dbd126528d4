"""The rclpy wiring shared by the plain and the lifecycle depth node.

Subscription callbacks only store the newest frame; one worker thread takes it,
runs :class:`~adu_depth_ros.pipeline.FrameProcessor` and publishes. Parameters
are read once into a validated :class:`DepthNodeConfig` and swapped atomically
when they change at run time.
"""

from __future__ import annotations

import threading
import time
import traceback

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.qos import qos_policy_name_from_kind
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2

from adu_depth_core.recipe import OUTPUTS
from adu_depth_core.runtime import ImageError, ModelLoadError, ModelRunError
from adu_depth_ros import qos
from adu_depth_ros.conversions import ConversionError
from adu_depth_ros.diagnostics import ERROR, WARN, NodeHealth
from adu_depth_ros.ground_tf import TfGroundPrior, tf_available
from adu_depth_ros.model_loading import load_estimator
from adu_depth_ros.params import PARAMS, SPECS, DepthNodeConfig, ParameterError
from adu_depth_ros.pipeline import CameraInfoCache, Frame, FrameProcessor, FrameSlot

# Output name -> (parameter that enables it, topic, message type), from the core's one output table.
_MSG_CLASSES = {
    "sensor_msgs/msg/Image": Image,
    "sensor_msgs/msg/CameraInfo": CameraInfo,
    "sensor_msgs/msg/PointCloud2": PointCloud2,
}
OUTPUT_TOPICS = {n: (f"publish_{n}", o.topic, _MSG_CLASSES[o.msgtype]) for n, o in OUTPUTS.items()}
# Input topic -> message type ('image/compressed' replaces 'image' when use_compressed is true).
INPUT_TOPICS = {"image": Image, "image/compressed": CompressedImage, "camera_info": CameraInfo}


class DepthNodeMixin:
    """Depth node behaviour; mixed in front of ``rclpy.node.Node`` or ``LifecycleNode``."""

    def _init_depth(self) -> None:
        """Declare parameters, set up diagnostics and the parameter callback (no model, no topics yet)."""
        self.cfg = self._declare_parameters()
        self.health = NodeHealth(f"{self.get_fully_qualified_name()}: depth", self.cfg.log_throttle_s)
        self._apply_health_settings(self.cfg)
        self.infos = CameraInfoCache()
        self._processor: FrameProcessor | None = None
        self._model_wanted = False
        self._pubs: dict[str, object] = {}
        self._subs: list[object] = []
        self._slot: FrameSlot | None = None
        self._worker: threading.Thread | None = None
        self._ground_prior = self._ground_tf()
        self._qos_lock = threading.Lock()
        self._qos_mismatches: dict[str, str] = {}  # relative topic -> message, while a mismatch lasts
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diag_timer = self.create_timer(self.cfg.diagnostics_period_s, self._publish_diagnostics)
        self.add_on_set_parameters_callback(self._on_set_parameters)

    def _ground_tf(self):
        """TF mounting source for ground_frame where tf2_ros imports; else None (the parameters)."""
        if not self.cfg.ground_frame:
            return None
        if not tf_available():
            self.get_logger().warning(
                f"ground_frame '{self.cfg.ground_frame}' is set but tf2_ros is not installed: "
                "ground-plane scale uses camera_height_m / camera_pitch_deg / camera_roll_deg"
            )
            return None
        return TfGroundPrior(self, self.cfg.ground_frame)

    def _declare_parameters(self) -> DepthNodeConfig:
        declared = self.declare_parameters("", [(p.name, p.default, p.descriptor()) for p in PARAMS])
        return DepthNodeConfig.from_values({p.name: p.value for p in declared})

    # -- model ------------------------------------------------------------------------------------

    def _load_model(self, cfg: DepthNodeConfig) -> bool:
        """Load the model; on failure log once, report ERROR in diagnostics and keep running without it."""
        self._model_wanted = True
        try:
            estimator = load_estimator(cfg)
        except ModelLoadError as exc:
            msg = f"cannot load model '{cfg.model_path}' ({type(exc).__name__}: {exc}); set model_path to a valid file"
            self.health.set_standing("model", ERROR, msg)
            self._report("model", msg, ERROR)
            return False
        self._use_model(estimator, cfg)
        return True

    def _use_model(self, estimator, cfg: DepthNodeConfig) -> None:
        self._processor = FrameProcessor(estimator, self.infos, self._ground_prior)
        self.health.clear_standing("model")
        self.health.hardware_id = f"{cfg.model_path}: {estimator.describe()}"
        self.get_logger().info(f"model '{cfg.model_path}' loaded: {estimator.describe()}")

    def _unload_model(self) -> None:
        self._model_wanted = False
        self._processor = None

    # -- topics -----------------------------------------------------------------------------------

    def _make_publisher(self, msg_type, topic: str, profile, **kw):
        return self.create_publisher(msg_type, topic, profile, **kw)

    def _qos_mismatch(self, topic: str, param: str, peer: str):
        """Event callback: a peer whose QoS cannot match ours (the classic 'no output' cause) -> log + diagnostics."""

        def report(info) -> None:
            policy = qos_policy_name_from_kind(info.last_policy_kind)
            msg = (
                f"a {peer} on '{topic}' has incompatible QoS ({policy}); nothing flows between them: "
                f"set {param}.reliability (now {getattr(self.cfg, param + '_reliability')}) to match it"
            )
            self._report("qos", msg, ERROR)
            with self._qos_lock:
                self._qos_mismatches[topic] = msg
            self.health.set_standing(f"qos {topic}", ERROR, f"[qos] {msg}")

        return report

    def _recheck_qos(self) -> None:
        """Clear a QoS mismatch once no incompatible peer is left on its topic (the middleware reports when
        a mismatch starts, never when it ends)."""
        with self._qos_lock:
            topics = list(self._qos_mismatches)
        for topic in topics:
            we_subscribe = topic in INPUT_TOPICS
            ours = qos.input_qos(self.cfg) if we_subscribe else qos.output_qos(self.cfg)
            if not qos.has_incompatible_peer(self, self.resolve_topic_name(topic), ours, we_subscribe):
                with self._qos_lock:
                    self._qos_mismatches.pop(topic, None)
                self.health.clear_standing(f"qos {topic}")

    def _create_outputs(self) -> None:
        profile = qos.output_qos(self.cfg)
        for name, (flag, topic, msg_type) in OUTPUT_TOPICS.items():
            if getattr(self.cfg, flag):
                events = PublisherEventCallbacks(
                    incompatible_qos=self._qos_mismatch(topic, "output_qos", "subscriber")
                )
                self._pubs[name] = self._make_publisher(msg_type, topic, profile, event_callbacks=events)

    def _destroy_outputs(self) -> None:
        for pub in self._pubs.values():
            self.destroy_publisher(pub)
        self._pubs = {}

    def _create_inputs(self) -> None:
        profile = qos.input_qos(self.cfg)
        image = "image/compressed" if self.cfg.use_compressed else "image"
        for topic, callback in ((image, self._on_image), ("camera_info", self._on_camera_info)):
            msg_type = INPUT_TOPICS[topic]
            events = SubscriptionEventCallbacks(
                incompatible_qos=self._qos_mismatch(topic, "input_qos", "publisher")
            )
            self._subs.append(
                self.create_subscription(msg_type, topic, callback, profile, event_callbacks=events)
            )
        self.health.watch_input(True)

    def _destroy_inputs(self) -> None:
        self.health.watch_input(False)
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []

    # -- worker -----------------------------------------------------------------------------------

    def _start_worker(self) -> None:
        self._slot = FrameSlot()
        self._worker = threading.Thread(
            target=self._work, args=(self._slot,), name="depth_worker", daemon=True
        )
        self._worker.start()

    def _stop_worker(self) -> None:
        if self._slot is not None:
            self._slot.close()
        if self._worker is not None:
            self._worker.join()
        self._slot, self._worker = None, None

    def _work(self, slot: FrameSlot) -> None:
        """The worker loop, supervised: an unexpected error is logged with its traceback, counted and
        reported, and the loop starts again with the next frame (the worker never dies silently)."""
        while not slot.closed:
            try:
                while (frame := slot.take()) is not None:
                    self._handle(frame)
            except Exception as exc:  # a bug: report it and serve on, never leave the node deaf
                self.health.count("worker_restarts")
                self.get_logger().error(traceback.format_exc())
                self._report(
                    "worker",
                    f"inference worker failed on {type(exc).__name__}: {exc}; restarted it (frame dropped)",
                    ERROR,
                )

    def _on_image(self, msg) -> None:
        self.health.count("received")
        slot = self._slot
        if slot is not None and slot.put(Frame(msg, time.monotonic())):
            self.health.count("dropped_stale")

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self.infos.add(msg)
        except ConversionError as exc:
            self._report("camera_info", f"ignoring camera_info: {exc}")

    def _wanted(self) -> frozenset[str]:
        """Outputs somebody subscribes to (no work is done for the others)."""
        return frozenset(n for n, pub in self._pubs.items() if pub.get_subscription_count() > 0)

    def _handle(self, frame: Frame) -> None:
        """Process one frame; bad input is reported and skipped, never fatal."""
        cfg, processor = self.cfg, self._processor
        if processor is None:
            self.health.count("skipped_no_model")
            return
        wanted = self._wanted()
        if not wanted:
            self.health.count("skipped_no_subscriber")
            return
        self.health.stage_ms("queue", 1e3 * (time.monotonic() - frame.received_s))
        try:
            result = processor.run(frame.msg, cfg, wanted)
        except (ConversionError, ImageError) as exc:
            self.health.count("rejected")
            self._report("input", f"dropping image: {exc}")
            return
        except ModelRunError as exc:  # the backend failed on this frame; the model stays loaded
            self.health.count("rejected")
            self._report("inference", f"inference failed ({exc})", ERROR)
            return
        for category, message in result.problems:
            self._report(category, message)
        for key, value in result.notes.items():
            self.health.note(key, value)
        t0 = time.perf_counter()
        for name, msg in result.messages.items():
            self._pubs[name].publish(msg)
            self.health.count_published(name)
        result.timings_ms["publish"] = 1e3 * (time.perf_counter() - t0)
        for stage, ms in result.timings_ms.items():
            self.health.stage_ms(stage, ms)
        self.health.stage_ms("total", 1e3 * (time.monotonic() - frame.received_s))
        self.health.note("published_outputs", ",".join(sorted(result.messages)) or "none")
        for key, value in result.scale.as_notes().items() if result.scale else ():
            self.health.note(key, value)
        self.health.count("processed")

    # -- reporting and parameters -----------------------------------------------------------------

    def _report(self, category: str, message: str, level: int = WARN) -> None:
        """One throttled log line per problem category, and the problem in diagnostics."""
        line = self.health.problem(category, message, level)
        if line is not None:
            (self.get_logger().error if level >= ERROR else self.get_logger().warning)(line)

    def _publish_diagnostics(self) -> None:
        self._recheck_qos()
        self._diag_pub.publish(self.health.to_msg(self.get_clock().now().to_msg()))

    def _on_set_parameters(self, params) -> SetParametersResult:
        """Validate run-time changes as a whole; reload the model when model parameters change."""
        changes = {p.name: p.value for p in params if p.name in SPECS}
        if not changes:
            return SetParametersResult(successful=True)
        try:
            new = self.cfg.updated(changes)
        except ParameterError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        if self._model_wanted and new.model_changes(self.cfg):
            try:
                estimator = load_estimator(new)
            except ModelLoadError as exc:
                reason = f"model not changed: cannot load '{new.model_path}' ({type(exc).__name__}: {exc})"
                return SetParametersResult(successful=False, reason=reason)
            self._use_model(estimator, new)
        self.cfg = new
        self._apply_health_settings(new)
        return SetParametersResult(successful=True)

    def _apply_health_settings(self, cfg: DepthNodeConfig) -> None:
        self.health.throttle_s = cfg.log_throttle_s
        self.health.stale_warn_s, self.health.stale_error_s = cfg.stale_input_warn_s, cfg.stale_input_error_s

    def _shutdown_depth(self) -> None:
        """Stop the worker and drop topics and model (idempotent)."""
        self._stop_worker()
        self._destroy_inputs()
        self._destroy_outputs()
        self._unload_model()
