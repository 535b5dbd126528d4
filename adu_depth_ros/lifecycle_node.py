"""The managed depth node: model loaded on configure, subscriptions on activate (ros2/demos lifecycle_py idiom)."""

from __future__ import annotations

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from adu_depth_ros.node_base import DepthNodeMixin


class LifecycleDepthNode(DepthNodeMixin, LifecycleNode):
    """``depth_node --lifecycle``: unconfigured at start; publishers are lifecycle publishers."""

    def __init__(self, node_name: str = "depth_node", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self._init_depth()

    def _make_publisher(self, msg_type, topic: str, profile, **kw):
        return self.create_lifecycle_publisher(msg_type, topic, profile, **kw)

    def _destroy_outputs(self) -> None:
        for pub in self._pubs.values():
            self.destroy_lifecycle_publisher(pub)
        self._pubs = {}

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        if not self._load_model(self.cfg):
            self._unload_model()
            return TransitionCallbackReturn.FAILURE
        self._create_outputs()
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._start_worker()
        self._create_inputs()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._destroy_inputs()
        self._stop_worker()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._destroy_outputs()
        self._unload_model()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._shutdown_depth()
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        self._shutdown_depth()
        super().destroy_node()
