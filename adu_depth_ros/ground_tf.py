"""The camera's mounting from TF (``ground_frame`` -> camera optical frame), where ``tf2_ros`` is installed.

``tf2_ros`` comes with a ROS 2 install, not from PyPI: without it the node uses
``camera_height_m`` / ``camera_pitch_deg`` / ``camera_roll_deg`` and says so once.
"""

from __future__ import annotations

import importlib.util

from adu_depth_core.scale import GroundPrior
from adu_depth_core.scale.ground_plane import quaternion_matrix


def tf_available() -> bool:
    """True where ``tf2_ros`` can be imported (a ROS 2 install)."""
    try:
        return importlib.util.find_spec("tf2_ros") is not None
    except (ImportError, ValueError):
        return False


class TfGroundPrior:
    """Latest transform ground_frame -> camera frame as a GroundPrior; a TF buffer listening on ``node``."""

    def __init__(self, node, ground_frame: str) -> None:
        from tf2_ros import Buffer, TransformListener

        self.ground_frame = ground_frame
        self.buffer = Buffer()
        self.listener = TransformListener(self.buffer, node, spin_thread=False)

    def __call__(self, camera_frame: str) -> GroundPrior | str:
        """The prior for ``camera_frame`` (the image's frame_id), or why there is none."""
        from rclpy.time import Time
        from tf2_ros import TransformException

        try:
            tf = self.buffer.lookup_transform(camera_frame, self.ground_frame, Time())
        except TransformException as exc:
            return f"no TF {self.ground_frame} -> {camera_frame} ({type(exc).__name__}: {exc})"
        q, t = tf.transform.rotation, tf.transform.translation
        prior = GroundPrior.from_transform(quaternion_matrix(q.x, q.y, q.z, q.w), (t.x, t.y, t.z))
        if not prior.camera_height_m > 0:
            return f"TF puts the camera {prior.camera_height_m:.2f} m above {self.ground_frame}: not above it"
        return prior
