"""Where the depth node gets its estimator: the ``model_dirs`` allow-list, then the library's loader.

Every way a model can fail (file missing or corrupt, a teacher checkpoint, a CUDA
device on a machine without one, a backend library missing, a path outside
``model_dirs``) arrives here as one :class:`~adu_depth_core.runtime.ModelLoadError`.
"""

from __future__ import annotations

import os
from pathlib import Path

from adu_depth_core.runtime import ModelFileError, ModelLoadError
from adu_depth_core.runtime.preprocess import parse_network_size
from adu_depth_ros.params import DepthNodeConfig

__all__ = ["ModelLoadError", "allowed_dirs", "check_model_dirs", "load_estimator"]


def allowed_dirs(model_dirs: str) -> list[Path]:
    """The ``model_dirs`` parameter ('dir1:dir2', ':' or ',' separated) as resolved folders; [] = anywhere."""
    parts = [p.strip() for p in model_dirs.replace(",", os.pathsep).split(os.pathsep)]
    return [Path(os.path.realpath(os.path.expanduser(p))) for p in parts if p]


def check_model_dirs(model_path: str, model_dirs: str) -> None:
    """Refuse a model_path outside the allow-list (symlinks and '..' resolved first); 'default' always passes."""
    dirs = allowed_dirs(model_dirs)
    if not dirs or model_path == "default":
        return
    real = Path(os.path.realpath(os.path.expanduser(model_path)))
    if not any(real.is_relative_to(d) for d in dirs):
        raise ModelFileError(
            f"model_path '{model_path}' is outside model_dirs ({', '.join(map(str, dirs))}); "
            "put the model in one of them (model_dirs is fixed at start-up)"
        )


def load_estimator(cfg: DepthNodeConfig):
    """The library's DepthEstimator for the configured model, backend, device and precision."""
    from adu_depth_core.runtime import DepthEstimator

    check_model_dirs(cfg.model_path, cfg.model_dirs)
    device = None if cfg.device == "auto" else cfg.device
    threads = cfg.cpu_threads or None
    size = parse_network_size(cfg.network_size) if cfg.network_size else None
    return DepthEstimator.from_file(
        cfg.model_path,
        backend=cfg.backend,
        device=device,
        precision=cfg.precision,
        num_threads=threads,
        input_size=size,
    )
