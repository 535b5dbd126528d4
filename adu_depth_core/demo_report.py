"""Pictures and a point cloud from a recorded output bag (what the demo leaves for a person to look at).

Pure library code (no rclpy): it reads a bag recorded from the depth node with
the input image, the ground truth, and the node's depth, uncertainty and points,
and writes per-frame colour maps, a 2x2 panel per frame (image | depth | sigma |
error against ground truth), a PLY of one cloud, and a rendered preview of it.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from adu_depth_core.bags import messages as M
from adu_depth_core.bags.io import BagReader
from adu_depth_core.runtime.colormap import colorize, colorize_depth, colorize_sigma
from adu_depth_core.runtime.geometry import unpack_rgb
from adu_depth_core.runtime.ply import write_ply


@dataclass(frozen=True)
class RecordedTopics:
    """Topic names in a recorded output bag."""

    image: str = "/camera/image_raw"
    gt_depth: str = "/camera/depth_gt"
    depth: str = "/camera/depth"
    uncertainty: str = "/camera/depth/uncertainty"
    points: str = "/camera/points"


def _save_rgb(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path


def _label(rgb: np.ndarray, text: str) -> np.ndarray:
    out = rgb.copy()
    scale = max(0.4, out.shape[1] / 1200)
    cv2.putText(out, text, (8, int(24 * scale + 6)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2)
    return out


def frame_panel(
    image: np.ndarray, depth_m: np.ndarray, sigma_m: np.ndarray, gt_m: np.ndarray | None
) -> np.ndarray:
    """2 x 2 RGB panel: input | depth | sigma | relative error vs ground truth (black where none)."""
    h, w = depth_m.shape
    image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA) if image.shape[:2] != (h, w) else image
    lo, hi = np.nanpercentile(gt_m if gt_m is not None and np.isfinite(gt_m).any() else depth_m, [2, 98])
    tiles = [
        _label(image, "input"),
        _label(colorize_depth(depth_m, lo, hi), f"depth {lo:.1f}-{hi:.1f} m"),
        _label(colorize_sigma(sigma_m), "uncertainty sigma (m)"),
    ]
    if gt_m is not None:
        rel = np.abs(depth_m - gt_m) / gt_m
        tiles.append(_label(colorize(rel, 0.0, 0.3), "|error| / depth, 0-30%"))
    else:
        tiles.append(_label(np.zeros_like(image), "no ground truth"))
    return np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])


def _by_stamp(bag: BagReader, topics: dict[str, str]) -> dict[int, dict[str, object]]:
    """stamp -> {role: decoded message} for the roles whose topic is in the bag."""
    present = {role: t for role, t in topics.items() if t in bag.topics}
    by_topic = {t: role for role, t in present.items()}
    frames: dict[int, dict[str, object]] = defaultdict(dict)
    for _raw, msg in bag.messages(present.values()):
        frames[M.stamp_ns(msg.header)][by_topic[_raw.topic]] = msg
    return frames


def write_pictures(
    bag_path: str | os.PathLike, out_dir: str | os.PathLike, topics: RecordedTopics
) -> list[Path]:
    """Per frame: depth and uncertainty colour PNGs and a 2x2 panel; returns the files written."""
    out, written = Path(out_dir), []
    roles = {"image": topics.image, "gt": topics.gt_depth, "depth": topics.depth, "sigma": topics.uncertainty}
    with BagReader(bag_path) as bag:
        frames = _by_stamp(bag, roles)
    for k, stamp in enumerate(sorted(frames)):
        f = frames[stamp]
        if "depth" not in f or "sigma" not in f:
            continue
        depth, sigma = M.depth_to_metres(f["depth"]), M.image_to_array(f["sigma"]).astype(np.float32)
        gt = M.depth_to_metres(f["gt"]) if "gt" in f else None
        if gt is not None and gt.shape != depth.shape:
            gt = cv2.resize(gt, depth.shape[::-1], interpolation=cv2.INTER_NEAREST)
        written.append(_save_rgb(out / f"depth_{k:03d}.png", colorize_depth(depth)))
        written.append(_save_rgb(out / f"uncertainty_{k:03d}.png", colorize_sigma(sigma)))
        if "image" in f:
            panel = frame_panel(M.image_to_rgb(f["image"]), depth, sigma, gt)
            written.append(_save_rgb(out / f"panel_{k:03d}.png", panel))
    return written


def cloud_arrays(
    bag_path: str | os.PathLike, points_topic: str, stamp_ns: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """(N, 3) xyz and (N, 3) uint8 rgb (or None) of the finite points of one recorded cloud.

    The cloud stamped ``stamp_ns`` if given, else the last non-empty one.
    """
    with BagReader(bag_path) as bag:
        bag.require(points_topic, ["sensor_msgs/msg/PointCloud2"], role="points topic")
        clouds = [msg for _raw, msg in bag.messages([points_topic])]
    if stamp_ns is not None:
        clouds = [m for m in clouds if M.stamp_ns(m.header) == stamp_ns] or clouds
    for msg in clouds[::-1]:  # the last cloud that has any valid point
        arr = M.pointcloud_to_array(msg).reshape(-1)
        xyz = np.stack([arr[n] for n in ("x", "y", "z")], axis=1).astype(np.float32)
        keep = np.isfinite(xyz).all(axis=1)
        if keep.any():
            break
    rgb = unpack_rgb(arr["rgb"])[keep] if "rgb" in (arr.dtype.names or ()) else None
    return xyz[keep], rgb


def render_cloud(
    xyz: np.ndarray,
    rgb: np.ndarray | None,
    size: tuple[int, int] = (360, 640),
    yaw_deg: float = -35.0,
    pitch_deg: float = 20.0,
) -> np.ndarray:
    """An oblique view of a cloud in the optical frame (z-buffered splats), to see its 3D shape at a glance."""
    h, w = size
    centre = np.median(xyz, axis=0)
    y, p = np.deg2rad(yaw_deg), np.deg2rad(pitch_deg)
    Ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    Rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    dist = 1.6 * float(np.percentile(np.linalg.norm(xyz - centre, axis=1), 90)) + 1e-3
    cam = (xyz - centre) @ (Rx @ Ry).T + np.array([0.0, 0.0, dist])
    front = cam[:, 2] > 1e-3
    cam, colours = cam[front], (rgb[front] if rgb is not None else None)
    f = 0.9 * w
    u = np.round(f * cam[:, 0] / cam[:, 2] + w / 2).astype(int)
    v = np.round(f * cam[:, 1] / cam[:, 2] + h / 2).astype(int)
    inside = (u >= 0) & (u < w - 1) & (v >= 0) & (v < h - 1)
    u, v, z = u[inside], v[inside], cam[inside, 2]
    if colours is None:
        colours = colorize_depth(z[None, :])[0]
    else:
        colours = colours[inside]
    order = np.argsort(-z)  # far first, so near points overwrite them
    canvas = np.full((h, w, 3), 24, np.uint8)
    for du in (0, 1):
        for dv in (0, 1):
            canvas[v[order] + dv, u[order] + du] = colours[order]
    return canvas


def write_cloud(
    bag_path: str | os.PathLike,
    points_topic: str,
    out_ply: str | os.PathLike,
    preview_png: str | os.PathLike | None = None,
    stamp_ns: int | None = None,
) -> int:
    """One recorded cloud (see cloud_arrays) as a binary PLY and an oblique preview PNG; returns the point count."""
    xyz, rgb = cloud_arrays(bag_path, points_topic, stamp_ns)
    n = write_ply(out_ply, xyz, rgb)
    if preview_png is not None and n:
        _save_rgb(Path(preview_png), render_cloud(xyz, rgb))
    return n


METRICS_HELP = """\
How to read these numbers (lower is better unless marked):
  abs_rel   mean |pred - gt| / gt             (0.10 = 10 % average relative error)
  rmse      root mean square error, metres
  a1        share of pixels within 25 % of the truth (higher is better; 1.0 = all)
  silog     KITTI benchmark scale-invariant log error (x100)
  ause_*    area between the sparsification curve of the predicted sigma and the
            oracle's: 0 means the uncertainty ranks errors perfectly
"""


GROUP_KEYS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "a1", "a2", "a3", "silog", "ause_abs_rel", "ause_rmse")


def group_table(frames_csv: str | os.PathLike, groups: dict[str, list[int]]) -> str:
    """Markdown table of per-image-mean metrics for each named group of frame stamps (from bag-eval's CSV)."""
    import csv

    with open(frames_csv, newline="") as f:
        rows = {int(r["stamp_ns"]): r for r in csv.DictReader(f)}
    lines = ["| frames | n | " + " | ".join(GROUP_KEYS) + " |", "|---|---|" + "---|" * len(GROUP_KEYS)]
    for name, stamps in groups.items():
        picked = [rows[s] for s in stamps if s in rows]
        if picked:
            means = [np.mean([float(r[k]) for r in picked]) for k in GROUP_KEYS]
            lines.append(f"| {name} | {len(picked)} | " + " | ".join(f"{m:.3f}" for m in means) + " |")
    return "\n".join(lines)


def write_demo_outputs(
    bag_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    topics: RecordedTopics,
    groups: dict[str, list[int]] | None = None,
) -> dict:
    """Metrics (CSV, JSON, markdown, plots), pictures and the PLY cloud of a recorded demo bag.

    ``groups`` names sets of frame stamps (e.g. street vs Middlebury), each reported on its own row.
    """
    from adu_depth_core.bags.evaluate import EvalConfig, evaluate_bag, format_table

    out = Path(out_dir)
    cfg = EvalConfig(depth_topic=topics.depth, gt_topic=topics.gt_depth, uncertainty_topic=topics.uncertainty)
    result = evaluate_bag(bag_path, cfg, out_dir=out / "eval", json_path=out / "metrics.json", progress=False)
    table = format_table(result)
    by_group = group_table(result.files["frames_csv"], groups) if groups else ""
    md = f"# Demo metrics\n\nBag: `{bag_path}`; frames evaluated: {result.frames_evaluated}\n\n"
    if by_group:
        md += f"## By scene (per-image means)\n\n{by_group}\n\n## All frames\n\n"
    md += f"```\n{table}\n```\n\n```\n{METRICS_HELP}```\n"
    (out / "metrics.md").write_text(md)
    pictures = write_pictures(bag_path, out / "pictures", topics)
    first_scene = next(iter(groups.values()), None) if groups else None  # the main scene's last frame
    n_points = write_cloud(
        bag_path,
        topics.points,
        out / "cloud.ply",
        out / "cloud_preview.png",
        first_scene[-1] if first_scene else None,
    )
    return {
        "result": result,
        "table": table,
        "by_group": by_group,
        "pictures": pictures,
        "n_points": n_points,
    }
