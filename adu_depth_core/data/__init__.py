"""Data: one StereoSample layout from every source (synthetic scenes, KITTI, DrivingStereo, folders,
rosbags, Middlebury), stereo-consistent augmentation and the torch dataset of the batch contract.

    from adu_depth_core.data import build_dataset
    ds = build_dataset("synthetic", size=(192, 640), augment={}, n=1000, seed=0)
"""

from adu_depth_core.data.augment import AugmentConfig
from adu_depth_core.data.datasets import DATASETS, build_dataset, build_reader
from adu_depth_core.data.sample import DataError, StereoSample
from adu_depth_core.data.torch_dataset import StereoDataset

__all__ = [
    "AugmentConfig",
    "DATASETS",
    "DataError",
    "StereoDataset",
    "StereoSample",
    "build_dataset",
    "build_reader",
]
