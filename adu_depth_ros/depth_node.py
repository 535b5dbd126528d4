"""``depth_node``: camera image in; metric depth, uncertainty, camera_info, colour depth and points out.

Run ``ros2 run adu_depth_ros depth_node --ros-args --params-file config/depth.yaml``;
add ``--lifecycle`` for the managed variant (model loaded on configure,
subscriptions on activate) and ``--shm-segment-mb 32`` to publish large clouds
through Fast DDS shared memory (see ``transport.py``). Topics and parameters: see docs/ros_interface.md and ``params.py``.
"""

from __future__ import annotations

import argparse
import sys

import rclpy
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.utilities import remove_ros_args

from adu_depth_ros.node_base import DepthNodeMixin
from adu_depth_ros.params import ParameterError
from adu_depth_ros.process_memory import keep_large_buffers
from adu_depth_ros.transport import fastdds_large_data


class DepthNode(DepthNodeMixin, Node):
    """The plain node: loads the model and subscribes at start-up."""

    def __init__(self, node_name: str = "depth_node", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        try:
            self._init_depth()
        except ParameterError:
            Node.destroy_node(self)
            raise
        self._load_model(self.cfg)
        self._create_outputs()
        self._start_worker()
        self._create_inputs()

    def destroy_node(self) -> None:
        self._shutdown_depth()
        super().destroy_node()


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="depth_node", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lifecycle", action="store_true", help="run as a managed (lifecycle) node: configure, then activate"
    )
    parser.add_argument(
        "--shm-segment-mb",
        type=int,
        default=0,
        help="Fast DDS shared-memory segment of this process in MB (e.g. 32 for full-size clouds); 0 = default",
    )
    return parser.parse_args(remove_ros_args(argv)[1:])


def main(args: list[str] | None = None) -> int:
    """Console script ``depth_node``."""
    argv = sys.argv if args is None else args
    opts = _parse(argv)
    _, transport = fastdds_large_data(opts.shm_segment_mb)  # before rclpy.init: the middleware reads it once
    memory = keep_large_buffers()
    rclpy.init(args=argv)
    node = None
    try:
        if opts.lifecycle:
            from adu_depth_ros.lifecycle_node import LifecycleDepthNode

            node = LifecycleDepthNode()
        else:
            node = DepthNode()
        node.get_logger().info(transport)
        node.get_logger().info(memory)
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ParameterError, InvalidParameterValueException, InvalidParameterTypeException) as exc:
        print(f"depth_node: invalid parameter: {exc}", file=sys.stderr)
        return 2
    except Exception:
        # SIGINT shuts the context down from the signal handler; an executor caught between two waits then
        # raises "context is not valid" instead of ExternalShutdownException: that is a clean stop too
        if rclpy.ok():
            raise
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
