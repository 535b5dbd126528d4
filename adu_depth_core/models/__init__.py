"""Networks: the monocular student (ships), the stereo teacher (training only), and checkpoint loading.

``create_student(...)(image)`` and ``create_teacher(...)(left, right)`` take RGB in [0, 1]
(B x 3 x H x W, H and W multiples of 32) and return
``{"depth": Bx1xHxW metres, "log_b": Bx1xHxW, "features": {4, 8, 16: BxCxhxw}}``.
"""

from adu_depth_core.models.encoders import ENCODERS, Encoder, build_encoder
from adu_depth_core.models.loading import ARCHS, load_model, load_state_into
from adu_depth_core.models.student import DepthStudent, create_student
from adu_depth_core.models.teacher import StereoTeacher, create_teacher

__all__ = [
    "ARCHS",
    "ENCODERS",
    "DepthStudent",
    "Encoder",
    "StereoTeacher",
    "build_encoder",
    "create_student",
    "create_teacher",
    "load_model",
    "load_state_into",
]
