"""Where the bundled models live inside the installed package (no torch import: the runtime uses it too)."""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_STUDENT = ASSETS / "student_default.pt"
DEFAULT_STUDENT_ONNX = ASSETS / "student_default.onnx"  # used by ONNX Runtime / TensorRT when shipped
DEFAULT_TEACHER = ASSETS / "teacher_default.pt"
