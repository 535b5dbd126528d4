"""The README's main job at small size: sample bag -> real depth_node -> recorded MCAP -> metrics, pictures, PLY."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_demo_pipeline_writes_every_artefact(tmp_path, tiny_student_ckpt):
    out = tmp_path / "demo"
    cmd = [
        sys.executable, "-m", "adu_depth_ros.demo", "--out", str(out), "--model", str(tiny_student_ckpt),
        "--frames", "2", "--size", "64x128", "--frame-timeout", "60",
        "--param", "max_relative_sigma:=0.0",  # random weights: keep every point in the cloud
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=400, cwd=Path(__file__).parents[1])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "3/3 frames answered" in result.stdout  # 2 street frames + the Middlebury pair

    from adu_depth_core.bags.io import list_topics

    assert list(out.glob("output_bag/*.mcap")), "no MCAP written"
    topics = list_topics(out / "output_bag")
    for name in (
        "depth",
        "depth/uncertainty",
        "depth/camera_info",
        "depth/color",
        "points",
        "image_raw",
        "depth_gt",
    ):
        assert topics[f"/camera/{name}"].count == 3, name
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["frames_evaluated"] == 3
    assert 0.0 < summary["mean"]["abs_rel"] < 10.0
    assert "abs_rel" in (out / "metrics.md").read_text()
    assert len(list((out / "pictures").glob("panel_*.png"))) == 3
    assert len(list((out / "pictures").glob("depth_*.png"))) == 3
    ply = (out / "cloud.ply").read_bytes()
    n_vertices = int(ply.split(b"element vertex ")[1].split(b"\n")[0])
    assert n_vertices > 1000 and (out / "cloud_preview.png").stat().st_size > 0
