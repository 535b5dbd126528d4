"""The one table of outputs (name, topic, message type) and the one set of output settings with their defaults.

The depth node, ``bag-run`` and the demo all read these; the node's parameters
of the same names (config/depth.yaml) default to the values here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from adu_depth_core.image_encodings import DEPTH_ENCODINGS
from adu_depth_core.scale import ScaleConfig


class OutputSpec(NamedTuple):
    """One output: its topic relative to the namespace, its ROS message type, and what it carries."""

    topic: str
    msgtype: str
    what: str


OUTPUTS: dict[str, OutputSpec] = {
    "depth": OutputSpec("depth", "sensor_msgs/msg/Image", "REP 118 depth (32FC1 m or 16UC1 mm)"),
    "uncertainty": OutputSpec("depth/uncertainty", "sensor_msgs/msg/Image", "32FC1 sigma, metres"),
    "camera_info": OutputSpec("depth/camera_info", "sensor_msgs/msg/CameraInfo", "K/P at the depth size"),
    "color": OutputSpec("depth/color", "sensor_msgs/msg/Image", "rgb8 colourised depth"),
    "points": OutputSpec("points", "sensor_msgs/msg/PointCloud2", "organised x, y, z (+ rgb) cloud"),
}
RESOLUTIONS = ("camera", "network")


def output_topic(namespace: str, name: str) -> str:
    """Absolute topic of output ``name`` ('depth', 'uncertainty', ...) in ``namespace``."""
    ns = namespace.strip("/")
    return f"/{ns}/{OUTPUTS[name].topic}" if ns else f"/{OUTPUTS[name].topic}"


@dataclass(frozen=True)
class RecipeConfig:
    """How one frame's outputs are made; the node's parameters of the same names set these."""

    min_depth_m: float = 0.1  # depth outside [min, max] is invalid (NaN / 0 mm)
    max_depth_m: float = 80.0
    max_sigma_m: float = 0.0  # point filter, 0 = off
    max_relative_sigma: float = 0.25  # point filter, 0 = off
    output_resolution: str = "camera"  # 'camera': the image's size; 'network': the network's (cheaper)
    depth_encoding: str = "32FC1"
    points_stride: int = 1
    points_color: bool = True
    color_min_depth_m: float = 0.0  # used when color_max_depth_m > 0
    color_max_depth_m: float = 0.0  # 0 = per-frame 2nd-98th percentile range
    scale: ScaleConfig = field(default_factory=ScaleConfig)

    def __post_init__(self) -> None:
        if self.output_resolution not in RESOLUTIONS:
            raise ValueError(
                f"output_resolution must be one of {RESOLUTIONS}, got '{self.output_resolution}'"
            )
        if self.depth_encoding not in DEPTH_ENCODINGS:
            raise ValueError(f"depth_encoding must be one of {DEPTH_ENCODINGS}, got '{self.depth_encoding}'")
        if self.points_stride < 1:
            raise ValueError(f"points_stride must be >= 1, got {self.points_stride}")
        if self.color_max_depth_m and self.color_min_depth_m >= self.color_max_depth_m:
            raise ValueError(
                f"color_min_depth_m ({self.color_min_depth_m}) must be below color_max_depth_m "
                f"({self.color_max_depth_m}), or set color_max_depth_m to 0 for automatic"
            )

    @classmethod
    def from_settings(cls, settings: object) -> RecipeConfig:
        """From anything with attributes of these names (node parameters, CLI options); scale via ScaleConfig."""
        names = [f for f in cls.__dataclass_fields__ if f != "scale"]
        values = {n: getattr(settings, n) for n in names if hasattr(settings, n)}
        return cls(**values, scale=ScaleConfig.from_settings(settings))

    @property
    def infer_output(self) -> str:
        """The ``DepthEstimator.infer`` output argument of ``output_resolution``."""
        return "input" if self.output_resolution == "camera" else "network"
