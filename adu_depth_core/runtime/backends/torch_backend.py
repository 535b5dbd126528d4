"""PyTorch backend: runs a checkpoint directly (CPU or CUDA, fp32 or fp16 on CUDA)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adu_depth_core.runtime.backends.base import Backend, BackendOptions, ModelFileError, require


class TorchBackend(Backend):
    name = "torch"

    def __init__(self, deploy, card, input_hw, precision, device) -> None:
        super().__init__(card, input_hw, precision, device)
        import torch

        self._torch = torch
        self._model = deploy
        self._dtype = torch.float16 if precision == "fp16" else torch.float32

    def run(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        torch = self._torch
        x = torch.from_numpy(image).to(self.device, self._dtype, non_blocking=True)
        with torch.inference_mode():
            depth, sigma = self._model(x)
        return depth.float().cpu().numpy(), sigma.float().cpu().numpy()

    def close(self) -> None:
        self._model = None


def _check_precision(precision: str, device: str) -> None:
    if precision == "int8":
        raise ValueError(
            "int8 runs only on the tensorrt backend (GPU) or onnxruntime (CPU); use fp32 (or fp16 on CUDA) with torch"
        )
    if precision == "fp16" and not device.startswith("cuda"):
        raise ValueError("fp16 with the torch backend needs a CUDA device (device='cuda'); use fp32 on CPU")


def load(path: Path, kind: str, opts: BackendOptions) -> TorchBackend:
    """Load a checkpoint onto ``opts.device`` (default cpu)."""
    if kind != "checkpoint":
        raise ModelFileError(
            f"the torch backend runs checkpoints (.pt); '{path.name}' is a {kind} file - "
            "use backend='onnxruntime' for .onnx or 'tensorrt' for engines"
        )
    torch = require("torch", "torch", "install it with `pip install adu_depth_ros[torch]`")
    from adu_depth_core.checkpoint import CheckpointError
    from adu_depth_core.models import load_model
    from adu_depth_core.runtime.deploy import DeployModel

    device = opts.device or "cpu"
    _check_precision(opts.precision, device)
    if opts.num_threads:
        torch.set_num_threads(opts.num_threads)  # process-wide: the caller asked for it
    try:
        model, card = load_model(path, map_location="cpu")
    except CheckpointError as exc:
        raise ModelFileError(str(exc)) from exc
    deploy = DeployModel(model).eval().to(device)
    if opts.precision == "fp16":
        deploy = deploy.half()
    input_hw = opts.input_size or (card.input_height, card.input_width)
    return TorchBackend(deploy, card, input_hw, opts.precision, device)
