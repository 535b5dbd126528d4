"""adu_depth_core: the pure library behind adu-depth (no rclpy, ever).

Models, losses, data, metrics, runtime and export live here; the ROS nodes in
``adu_depth_ros`` only convert messages and call into this package. Submodules
are imported on use so that ``import adu_depth_core`` stays light (no torch).
"""

__version__ = "0.1.0"
