"""Dataset registry: a name -> a reader of StereoSamples; build_dataset wraps it for training.

From a YAML config::

    data: {name: kitti_eigen, size: [192, 640], augment: {flip_prob: 0.5},
           kwargs: {root: /data/kitti, split_file: splits/eigen_train.txt}}

    build_dataset(cfg["name"], size=cfg["size"], augment=cfg["augment"], **cfg["kwargs"])

Readers are imported inside the builders, so the registry is cheap to import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from adu_depth_core.data.augment import AugmentConfig
from adu_depth_core.data.sample import StereoSample
from adu_depth_core.registry import Registry

if TYPE_CHECKING:
    from adu_depth_core.data.torch_dataset import StereoDataset

DATASETS: Registry = Registry("dataset")
# A builder is f(output_size, **reader_kwargs) -> reader; output_size is the (H, W) the StereoDataset will
# produce (or None), a hint a reader may use to avoid resampling (the synthetic one renders at that size).


@DATASETS.register("synthetic")
def _synthetic(output_size: tuple[int, int] | None, **kw: Any) -> Sequence[StereoSample]:
    from adu_depth_core.data.synthetic import SyntheticStereo

    if output_size is not None:
        kw.setdefault("size", output_size)
    return SyntheticStereo(**kw)


@DATASETS.register("kitti_eigen")
def _kitti(output_size: tuple[int, int] | None, **kw: Any) -> Sequence[StereoSample]:
    from adu_depth_core.data.kitti import KittiEigen

    return KittiEigen(**kw)


@DATASETS.register("kitti_object")
def _kitti_object(output_size: tuple[int, int] | None, **kw: Any) -> Sequence[StereoSample]:
    from adu_depth_core.data.kitti_object import KittiObject

    return KittiObject(**kw)


@DATASETS.register("drivingstereo")
def _drivingstereo(output_size: tuple[int, int] | None, **kw: Any) -> Sequence[StereoSample]:
    from adu_depth_core.data.drivingstereo import DrivingStereo

    return DrivingStereo(**kw)


@DATASETS.register("folder")
def _folder(output_size: tuple[int, int] | None, **kw: Any) -> Sequence[StereoSample]:
    from adu_depth_core.data.folder import FolderStereo

    return FolderStereo(**kw)


@DATASETS.register("folders")
def _folders(output_size: tuple[int, int] | None, **kw: Any) -> Sequence[StereoSample]:
    from adu_depth_core.data.folder import FolderStereoSet

    return FolderStereoSet(**kw)


@DATASETS.register("rosbag")
def _rosbag(output_size: tuple[int, int] | None, **kw: Any) -> Sequence[StereoSample]:
    from adu_depth_core.data.rosbag import RosbagStereo

    return RosbagStereo(**kw)


@DATASETS.register("middlebury")
def _middlebury(output_size: tuple[int, int] | None, **kw: Any) -> Sequence[StereoSample]:
    from adu_depth_core.data.middlebury import MiddleburyMotorcycle

    return MiddleburyMotorcycle(**kw)


@DATASETS.register("middlebury_cones")
def _middlebury_cones(output_size: tuple[int, int] | None, **kw: Any) -> Sequence[StereoSample]:
    """Middlebury 2003 Cones as one sample whose depth is relative (∝ 1 / disparity): score it median-scaled."""
    from adu_depth_core.data.middlebury import MiddleburyCones

    return MiddleburyCones(**kw)


def build_reader(
    name: str, output_size: Sequence[int] | None = None, **kwargs: Any
) -> Sequence[StereoSample]:
    """The reader registered as `name`, built with its keyword arguments."""
    return DATASETS.get(name)(
        None if output_size is None else (int(output_size[0]), int(output_size[1])), **kwargs
    )


def build_dataset(
    name: str,
    size: Sequence[int] | None = None,
    augment: AugmentConfig | dict | None = None,
    skip_bad: bool = False,
    **kwargs: Any,
) -> StereoDataset:
    """A StereoDataset over the reader `name`; augment may be an AugmentConfig or its fields as a dict."""
    from adu_depth_core.data.torch_dataset import StereoDataset

    if isinstance(augment, dict):
        augment = AugmentConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in augment.items()})
    return StereoDataset(
        build_reader(name, output_size=size, **kwargs),
        size=None if size is None else (int(size[0]), int(size[1])),
        augment=augment,
        skip_bad=skip_bad,
    )
