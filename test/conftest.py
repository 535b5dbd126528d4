"""Shared test configuration: marker skips (only when a dependency is truly absent)
and small shared fixtures (tiny student and teacher checkpoints)."""

from __future__ import annotations

import importlib.util
import os

import pytest

# One intra-op thread per process: several test processes (node subprocesses, torchrun ranks)
# share 2 cores, and oversubscribed OpenMP threads were ~10x slower than one each.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _cuda_available() -> bool:
    if not _has("torch"):
        return False
    import torch

    return torch.cuda.is_available()


_SKIPS = {
    "ros": (
        lambda: _has("rclpy") and _has("sensor_msgs"),
        "rclpy / sensor_msgs not installed (pip install .[ros])",
    ),
    "gpu": (_cuda_available, "no CUDA GPU on this machine"),
    "tensorrt": (lambda: _has("tensorrt") and _has("pycuda"), "TensorRT and pycuda are not installed here"),
    "launch": (
        lambda: _has("launch") and _has("launch_ros"),
        "ROS 2 launch/launch_ros are not installable from PyPI",
    ),
}


def pytest_collection_modifyitems(config, items):
    cache: dict[str, bool] = {}
    for item in items:
        for name, (check, reason) in _SKIPS.items():
            if item.get_closest_marker(name) is None:
                continue
            if name not in cache:
                cache[name] = check()
            if not cache[name]:
                item.add_marker(pytest.mark.skip(reason=reason))


def _tiny_checkpoint(folder, arch: str, model_kwargs: dict, seed: int, **card_fields):
    """A random-weight network of ``arch`` saved as a real checkpoint with a real card (64x128 input)."""
    import torch

    from adu_depth_core.checkpoint import ModelCard, save_checkpoint
    from adu_depth_core.models.loading import ARCHS

    torch.manual_seed(seed)
    model = ARCHS.get(arch)(pretrained=False, **model_kwargs).eval()
    card = ModelCard(
        arch=arch,
        encoder=model_kwargs["encoder"],
        model_kwargs=dict(model_kwargs),
        input_height=64,
        input_width=128,
        min_depth_m=0.5,
        max_depth_m=80.0,
        notes="random weights, for tests",
        **card_fields,
    )
    path = folder / f"tiny_{arch}.pt"
    save_checkpoint(path, model.state_dict(), card)
    return path


@pytest.fixture(scope="session")
def tiny_student_ckpt(tmp_path_factory):
    """A small random-weight student checkpoint (real format, real card) for runtime/node/bag tests."""
    kwargs = {"encoder": "efficientnet_lite0", "min_depth": 0.5, "max_depth": 80.0}
    return _tiny_checkpoint(tmp_path_factory.mktemp("ckpt"), "student", kwargs, seed=0)


# A tiny stereo teacher (64x128 card, one cost volume): enough to exercise training loops, not to teach.
TINY_TEACHER_KW = {
    "encoder": "efficientnet_lite0",
    "min_depth": 0.5,
    "max_depth": 80.0,
    "width_mult": 0.25,
    "max_disparity": 32,
    "cost_strides": [4],
    "cost_channels": 8,
}


@pytest.fixture(scope="session")
def tiny_teacher_ckpt(tmp_path_factory):
    """A random-weight tiny teacher checkpoint (real format, real card) of TINY_TEACHER_KW."""
    return _tiny_checkpoint(tmp_path_factory.mktemp("teacher"), "teacher", TINY_TEACHER_KW, seed=0)


@pytest.fixture(scope="session")
def tiny_canonical_ckpt(tmp_path_factory):
    """A small random-weight canonical-camera student (card canonical_focal_px = 100 px at its 64x128 input)."""
    kwargs = {"encoder": "efficientnet_lite0", "min_depth": 0.2, "max_depth": 200.0}
    return _tiny_checkpoint(
        tmp_path_factory.mktemp("canonical"), "student", kwargs, seed=1, canonical_focal_px=100.0
    )


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch intra-op thread for a module (restored after): on a shared 2-core box, two spinning
    OpenMP threads per process made the ray caster and the tiny models 10-100x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def ctx():
    """An isolated, initialised rclpy context (own ROS domain) per test module; shut down after."""
    from adu_depth_ros.testing import ros_context

    with ros_context() as context:
        yield context
