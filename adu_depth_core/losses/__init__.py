"""ADU-Depth losses (docs/method.md): SILog, Laplace NLL + teacher confidence, AFD, FRD."""

from adu_depth_core.losses.feature_distill import attention_map, feature_distill_loss
from adu_depth_core.losses.response_distill import depth_weight, focal_weight, response_distill_loss
from adu_depth_core.losses.silog import silog_loss
from adu_depth_core.losses.uncertainty import (
    laplace_nll,
    resize_confidence,
    teacher_confidence,
    uncertainty_targets,
)

__all__ = [
    "attention_map",
    "depth_weight",
    "feature_distill_loss",
    "focal_weight",
    "laplace_nll",
    "resize_confidence",
    "response_distill_loss",
    "silog_loss",
    "teacher_confidence",
    "uncertainty_targets",
]
