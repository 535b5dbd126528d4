"""The depth node's parameters as data: names, defaults, descriptions, limits, validation.

``PARAMS`` is the single source of truth: the node declares from it,
``config/depth.yaml`` mirrors it and the docs are checked against it.
``DepthNodeConfig`` is the typed, validated snapshot the node reads per frame
(never ``get_parameter`` per frame).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adu_depth_core.image_encodings import DEPTH_ENCODINGS
from adu_depth_core.recipe.outputs import RESOLUTIONS
from adu_depth_core.scale.scaler import SCALE_MODES, ScaleConfig

BACKENDS = ("auto", "tensorrt", "onnxruntime", "torch")
PRECISIONS = ("fp32", "fp16", "int8")
RELIABILITIES = ("best_effort", "reliable", "system_default")
DURABILITIES = ("volatile", "transient_local", "system_default")


class ParameterError(ValueError):
    """A parameter value the node refuses; the text names the parameter and the allowed values."""


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter: ROS name, default (which fixes its type), description and limits."""

    name: str
    default: bool | int | float | str
    description: str
    choices: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    read_only: bool = False  # fixed at start-up (publishers, subscriptions, QoS)
    reloads_model: bool = False  # changing it at run time loads the model again

    @property
    def field(self) -> str:
        return self.name.replace(".", "_")

    def check(self, value: Any) -> None:
        """Raise ParameterError if ``value`` has the wrong type or is out of range / not a choice."""
        kind = type(self.default)
        ok_type = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            ok_type = True
        if not ok_type:
            raise ParameterError(
                f"{self.name}: expected {kind.__name__}, got {value!r} ({type(value).__name__})"
            )
        if self.choices and value not in self.choices:
            raise ParameterError(f"{self.name}: '{value}' is not one of {', '.join(self.choices)}")
        if self.min_value is not None and value < self.min_value:
            raise ParameterError(f"{self.name}: {value} is below the minimum {self.min_value}")
        if self.max_value is not None and value > self.max_value:
            raise ParameterError(f"{self.name}: {value} is above the maximum {self.max_value}")

    def descriptor(self):
        """rcl_interfaces ParameterDescriptor (ranges and choices visible to rqt / ros2 param describe)."""
        from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

        desc = ParameterDescriptor(name=self.name, description=self.description, read_only=self.read_only)
        notes = []
        if self.choices:
            notes.append("one of: " + ", ".join(self.choices))
        if self.reloads_model:
            notes.append("changing it reloads the model; a model that fails to load is refused")
        desc.additional_constraints = "; ".join(notes)
        lo, hi = self.min_value, self.max_value
        if isinstance(self.default, float) and lo is not None and hi is not None:
            desc.floating_point_range = [
                FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)
            ]
        elif type(self.default) is int and lo is not None and hi is not None:
            desc.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=1)]
        return desc


def _p(name: str, default: Any, description: str, **kw: Any) -> ParamSpec:
    return ParamSpec(name, default, description, **kw)


PARAMS: tuple[ParamSpec, ...] = (
    # model
    _p("model_path", "default", "Student checkpoint (.pt), ONNX file or TensorRT engine; 'default' = the bundled student", reloads_model=True),
    _p("backend", "auto", "Inference backend", choices=BACKENDS, reloads_model=True),
    _p("device", "auto", "Device for the backend: auto, cpu, cuda or cuda:N", reloads_model=True),
    _p("precision", "fp32", "Numeric precision of the backend", choices=PRECISIONS, reloads_model=True),
    _p("cpu_threads", 0, "CPU threads for torch / ONNX Runtime (0 = the library's default); limit it when other nodes share the CPU", min_value=0, max_value=256, reloads_model=True),
    _p("network_size", "", "Network input HxW (multiples of 32) for a checkpoint, e.g. 320x416 for a 4:3 camera so images keep their aspect ratio; empty = the model card's size. ONNX/engine files have a fixed size: export one at the size you want", reloads_model=True),
    _p("model_dirs", "", "Allow-list of folders model_path may point into (':'-separated; symlinks resolved); empty = anywhere. Set it on a shared network (see docs/security.md)", read_only=True),
    # outputs and thresholds (changeable at run time)
    _p("min_depth_m", 0.1, "Depth below this (metres) is published as invalid (NaN / 0 mm)", min_value=0.0, max_value=1000.0),
    _p("max_depth_m", 80.0, "Depth above this (metres) is published as invalid (NaN / 0 mm)", min_value=0.01, max_value=1000.0),
    _p("max_sigma_m", 0.0, "Point-cloud filter: drop points whose uncertainty sigma exceeds this (metres); 0 = off", min_value=0.0, max_value=1000.0),
    _p("max_relative_sigma", 0.25, "Point-cloud filter: drop points whose sigma / depth exceeds this; 0 = off", min_value=0.0, max_value=100.0),
    _p("output_resolution", "camera", "Size of depth, uncertainty and points: the camera's ('camera') or the network's ('network')", choices=RESOLUTIONS),
    _p("depth_encoding", "32FC1", "Depth image encoding: 32FC1 metres (NaN invalid) or 16UC1 millimetres (0 invalid), REP 118", choices=DEPTH_ENCODINGS),
    _p("points_stride", 1, "Point cloud keeps every Nth row and column (1 = organised at full size)", min_value=1, max_value=64),
    _p("points_color", True, "Add packed float32 'rgb' from the camera image to the point cloud"),
    _p("color_min_depth_m", 0.0, "Depth mapped to the near end of 'depth/color' (metres); used when color_max_depth_m > 0", min_value=0.0, max_value=1000.0),
    _p("color_max_depth_m", 0.0, "Depth mapped to the far end of 'depth/color' (metres); 0 = per-frame 2nd-98th percentile range", min_value=0.0, max_value=1000.0),
    _p("frame_id", "", "Override for the outputs' header.frame_id; empty = keep the input image's frame_id"),
    # metric scale from the camera mounting (changeable at run time; a change restarts the scale filter)
    _p("scale_mode", "none", "Metric scale: 'none' (the network's own) or 'ground_plane' (scale = camera_height_m / the height of the ground plane the depth shows)", choices=SCALE_MODES),
    _p("camera_height_m", 1.65, "Camera height above the ground (metres), for scale_mode ground_plane", min_value=0.05, max_value=100.0),
    _p("camera_pitch_deg", 0.0, "Camera pitch in degrees, positive looking down (REP 103), for scale_mode ground_plane", min_value=-80.0, max_value=80.0),
    _p("camera_roll_deg", 0.0, "Camera roll in degrees, positive right side down (REP 103), for scale_mode ground_plane", min_value=-80.0, max_value=80.0),
    _p("ground_frame", "", "TF frame on the ground (e.g. base_footprint, z up): when set and tf2_ros is installed, height and orientation come from TF instead of camera_height_m/pitch/roll", read_only=True),
    _p("scale_min_confidence", 0.5, "A frame's ground-plane scale is used only at this confidence or above (0-1)", min_value=0.0, max_value=1.0),
    _p("scale_window", 1, "Frames the applied scale averages (trimmed mean of log-scales); 1 = each frame's own scale. Outlier frames are rejected either way", min_value=1, max_value=300),
    # which outputs exist (fixed at start-up)
    _p("publish_depth", True, "Publish 'depth'", read_only=True),
    _p("publish_uncertainty", True, "Publish 'depth/uncertainty' (32FC1 sigma, metres)", read_only=True),
    _p("publish_camera_info", True, "Publish 'depth/camera_info' rescaled to the depth image's size", read_only=True),
    _p("publish_color", True, "Publish 'depth/color' (rgb8 colourised depth)", read_only=True),
    _p("publish_points", True, "Publish 'points' (PointCloud2)", read_only=True),
    _p("use_compressed", False, "Subscribe to 'image/compressed' (CompressedImage) instead of 'image'", read_only=True),
    # QoS (fixed at start-up)
    _p("input_qos.reliability", "best_effort", "Reliability of the image and camera_info subscriptions", choices=RELIABILITIES, read_only=True),
    _p("input_qos.depth", 5, "History depth (keep last) of the input subscriptions", min_value=1, max_value=1000, read_only=True),
    _p("output_qos.reliability", "reliable", "Reliability of the output publishers", choices=RELIABILITIES, read_only=True),
    _p("output_qos.durability", "volatile", "Durability of the output publishers", choices=DURABILITIES, read_only=True),
    _p("output_qos.depth", 5, "History depth (keep last) of the output publishers", min_value=1, max_value=1000, read_only=True),
    # limits
    _p("max_input_pixels", 12_000_000, "Frames with more pixels (width x height, read from the header before decoding) are refused; 0 = no limit", min_value=0, max_value=1_000_000_000),
    # housekeeping
    _p("diagnostics_period_s", 1.0, "Period of the /diagnostics status (seconds)", min_value=0.05, max_value=60.0, read_only=True),
    _p("log_throttle_s", 5.0, "The same kind of bad-input message is logged at most once per this many seconds", min_value=0.0, max_value=3600.0),
    _p("stale_input_warn_s", 3.0, "Diagnostics WARN when no image arrived, or none was answered, for this long (seconds); 0 = off", min_value=0.0, max_value=3600.0),
    _p("stale_input_error_s", 10.0, "Diagnostics ERROR when no image arrived, or none was answered, for this long (seconds); 0 = off", min_value=0.0, max_value=3600.0),
)  # fmt: skip

SPECS: Mapping[str, ParamSpec] = {p.name: p for p in PARAMS}


@dataclass(frozen=True)
class DepthNodeConfig:
    """Validated parameter values; field = parameter name with '.' replaced by '_'."""

    model_path: str
    backend: str
    device: str
    precision: str
    cpu_threads: int
    network_size: str
    model_dirs: str
    min_depth_m: float
    max_depth_m: float
    max_sigma_m: float
    max_relative_sigma: float
    output_resolution: str
    depth_encoding: str
    points_stride: int
    points_color: bool
    color_min_depth_m: float
    color_max_depth_m: float
    frame_id: str
    scale_mode: str
    camera_height_m: float
    camera_pitch_deg: float
    camera_roll_deg: float
    ground_frame: str
    scale_min_confidence: float
    scale_window: int
    publish_depth: bool
    publish_uncertainty: bool
    publish_camera_info: bool
    publish_color: bool
    publish_points: bool
    use_compressed: bool
    input_qos_reliability: str
    input_qos_depth: int
    output_qos_reliability: str
    output_qos_durability: str
    output_qos_depth: int
    max_input_pixels: int
    diagnostics_period_s: float
    log_throttle_s: float
    stale_input_warn_s: float
    stale_input_error_s: float

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> DepthNodeConfig:
        """Build from {parameter name: value}; missing names take their defaults; validates."""
        unknown = set(values) - set(SPECS)
        if unknown:
            raise ParameterError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        merged = {p.name: values.get(p.name, p.default) for p in PARAMS}
        for name, value in merged.items():
            SPECS[name].check(value)
        cfg = cls(**{SPECS[n].field: _coerce(SPECS[n], v) for n, v in merged.items()})
        cfg.check_consistency()
        return cfg

    def updated(self, changes: Mapping[str, Any]) -> DepthNodeConfig:
        """A new validated config with ``changes`` ({parameter name: value}) applied."""
        return DepthNodeConfig.from_values({**self.as_params(), **changes})

    def as_params(self) -> dict[str, Any]:
        return {p.name: getattr(self, p.field) for p in PARAMS}

    def check_consistency(self) -> None:
        """Cross-parameter rules."""
        if self.network_size:
            from adu_depth_core.runtime.preprocess import parse_network_size

            try:
                parse_network_size(self.network_size)
            except ValueError as exc:
                raise ParameterError(f"network_size: {exc} (or empty for the model card's size)") from None
        if self.min_depth_m >= self.max_depth_m:
            raise ParameterError(
                f"min_depth_m ({self.min_depth_m}) must be below max_depth_m ({self.max_depth_m})"
            )
        if self.color_max_depth_m and self.color_min_depth_m >= self.color_max_depth_m:
            raise ParameterError(
                f"color_min_depth_m ({self.color_min_depth_m}) must be below color_max_depth_m "
                f"({self.color_max_depth_m}), or set color_max_depth_m to 0 for automatic"
            )
        warn_s, error_s = self.stale_input_warn_s, self.stale_input_error_s
        if warn_s and error_s and error_s < warn_s:
            raise ParameterError(
                f"stale_input_error_s ({error_s}) must not be below stale_input_warn_s ({warn_s}); 0 = off"
            )
        if not self.model_path.strip():
            raise ParameterError("model_path is empty; give a checkpoint/ONNX/engine path or 'default'")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ParameterError(f"device: '{self.device}' is not auto, cpu, cuda or cuda:N")

    def scale_config(self) -> ScaleConfig:
        """The library's scale settings of these parameters."""
        return ScaleConfig.from_settings(self)

    def model_changes(self, other: DepthNodeConfig) -> bool:
        """True when ``other`` needs a different model instance than this config."""
        return any(getattr(self, p.field) != getattr(other, p.field) for p in PARAMS if p.reloads_model)


def _coerce(spec: ParamSpec, value: Any) -> Any:
    return float(value) if isinstance(spec.default, float) else value
