"""QoS profiles from parameter values: sensor-data in, reliable out (REP 2003), both overridable."""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

_RELIABILITY = {
    "best_effort": ReliabilityPolicy.BEST_EFFORT,
    "reliable": ReliabilityPolicy.RELIABLE,
    "system_default": ReliabilityPolicy.SYSTEM_DEFAULT,
}
_DURABILITY = {
    "volatile": DurabilityPolicy.VOLATILE,
    "transient_local": DurabilityPolicy.TRANSIENT_LOCAL,
    "system_default": DurabilityPolicy.SYSTEM_DEFAULT,
}


def make_qos(reliability: str, depth: int, durability: str = "volatile") -> QoSProfile:
    """Keep-last QoS with the named reliability and durability (names as in params.py)."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=_RELIABILITY[reliability],
        durability=_DURABILITY[durability],
    )


def input_qos(cfg) -> QoSProfile:
    """Subscriptions (image, camera_info): sensor-data QoS by default."""
    return make_qos(cfg.input_qos_reliability, cfg.input_qos_depth, "volatile")


def output_qos(cfg) -> QoSProfile:
    """Publishers: reliable by default, so both reliable and best-effort subscribers match."""
    return make_qos(cfg.output_qos_reliability, cfg.output_qos_depth, cfg.output_qos_durability)


def has_incompatible_peer(node, topic: str, ours: QoSProfile, we_subscribe: bool) -> bool:
    """Whether ``topic`` (fully resolved) has a peer whose QoS cannot match ``ours`` (from the ROS graph)."""
    from rclpy.qos import QoSCompatibility, qos_check_compatible

    if we_subscribe:
        pairs = [(p.qos_profile, ours) for p in node.get_publishers_info_by_topic(topic)]
    else:
        pairs = [(ours, s.qos_profile) for s in node.get_subscriptions_info_by_topic(topic)]
    return any(qos_check_compatible(pub, sub)[0] == QoSCompatibility.ERROR for pub, sub in pairs)
