"""Data: one StereoSample layout from every source (synthetic scenes, KITTI, DrivingStereo, folders,
rosbags, Middlebury), stereo-consistent augmentation and the torch dataset of the batch contract.

    from adu_depth_core.data import build_dataset
    ds = build_dataset("synthetic", size=(192, 640), augment={}, n=1000, seed=0)

Names are imported on first use, so file readers/writers (folder, KITTI, rosbag) work without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AugmentConfig": "adu_depth_core.data.augment",
    "DATASETS": "adu_depth_core.data.datasets",
    "build_dataset": "adu_depth_core.data.datasets",
    "build_reader": "adu_depth_core.data.datasets",
    "DataError": "adu_depth_core.data.sample",
    "StereoSample": "adu_depth_core.data.sample",
    "StereoDataset": "adu_depth_core.data.torch_dataset",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'adu_depth_core.data' has no attribute '{name}'")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
