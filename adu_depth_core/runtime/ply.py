"""Write point clouds as PLY (binary little endian by default, or ASCII), atomically."""

from __future__ import annotations

import io
import os

import numpy as np

from adu_depth_core.runtime.cache import write_atomic


def _flatten(xyz: np.ndarray, rgb: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Organised or flat points -> (N, 3) float32 finite points (+ their (N, 3) uint8 colours)."""
    pts = np.asarray(xyz, dtype=np.float32).reshape(-1, 3)
    keep = np.all(np.isfinite(pts), axis=1)
    if rgb is None:
        return pts[keep], None
    cols = np.asarray(rgb)
    if cols.dtype != np.uint8 or cols.reshape(-1, 3).shape[0] != pts.shape[0]:
        raise ValueError(f"colours must be uint8 with one RGB per point, got {cols.dtype} {cols.shape}")
    return pts[keep], cols.reshape(-1, 3)[keep]


def _header(n: int, with_rgb: bool, binary: bool) -> bytes:
    fmt = "binary_little_endian" if binary else "ascii"
    lines = ["ply", f"format {fmt} 1.0", "comment written by adu-depth", f"element vertex {n}"]
    lines += [f"property float {c}" for c in "xyz"]
    if with_rgb:
        lines += [f"property uchar {c}" for c in ("red", "green", "blue")]
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")


def ply_bytes(xyz: np.ndarray, rgb: np.ndarray | None = None, binary: bool = True) -> bytes:
    """PLY file content for the finite points of ``xyz`` ((N, 3) or (h, w, 3)), optional uint8 colours."""
    pts, cols = _flatten(xyz, rgb)
    buf = io.BytesIO()
    buf.write(_header(len(pts), cols is not None, binary))
    if binary:
        fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
        fields += [] if cols is None else [("red", "u1"), ("green", "u1"), ("blue", "u1")]
        rec = np.empty(len(pts), dtype=fields)
        rec["x"], rec["y"], rec["z"] = pts.T
        if cols is not None:
            rec["red"], rec["green"], rec["blue"] = cols.T
        buf.write(rec.tobytes())
    else:
        for i, p in enumerate(pts):
            extra = "" if cols is None else " {} {} {}".format(*cols[i])
            buf.write(f"{p[0]:.6g} {p[1]:.6g} {p[2]:.6g}{extra}\n".encode("ascii"))
    return buf.getvalue()


def write_ply(
    path: str | os.PathLike, xyz: np.ndarray, rgb: np.ndarray | None = None, binary: bool = True
) -> int:
    """Write the finite points (NaN rows dropped) to ``path``; returns the number of points written."""
    data = ply_bytes(xyz, rgb, binary)
    write_atomic(path, data)
    return int(np.all(np.isfinite(np.asarray(xyz, dtype=np.float32).reshape(-1, 3)), axis=1).sum())
