"""Deployment runtime: one estimator over PyTorch / ONNX Runtime / TensorRT, plus the numpy helpers
(pre/post-processing, intrinsics, back-projection, colour maps, PLY) the node and tools share.

Importing this package imports neither torch nor any backend library.
"""

from adu_depth_core.runtime.backends import (
    BACKENDS,
    BackendUnavailableError,
    ModelFileError,
    ModelLoadError,
    ModelRunError,
)
from adu_depth_core.runtime.estimator import DepthEstimator, DepthResult
from adu_depth_core.runtime.intrinsics import scale_camera_info, scale_intrinsics
from adu_depth_core.runtime.preprocess import ImageError

__all__ = [
    "BACKENDS",
    "BackendUnavailableError",
    "DepthEstimator",
    "DepthResult",
    "ImageError",
    "ModelFileError",
    "ModelLoadError",
    "ModelRunError",
    "scale_camera_info",
    "scale_intrinsics",
]
