"""The GPU recipe (render, teacher, student inside one budget) as a dry run on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from adu_depth_core.models import load_model

RECIPE = [sys.executable, "-m", "adu_depth_core.train.gpu_recipe"]
ENV = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONUNBUFFERED": "1"}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_smoke_run_renders_every_layout_and_trains_both_stages_in_its_budget(tmp_path):
    out = tmp_path / "gpu"
    done = subprocess.run(
        [*RECIPE, "--out", str(out), "--smoke", "--device", "cpu", "--minutes", "1"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["render"]["frames"]) == {"street", "room", "workshop"}
    assert all(n >= 2 for n in summary["render"]["frames"].values())
    for stage in ("teacher", "student"):
        assert summary[stage]["steps"] > 25, "the time box planned at least past its probe"
        assert (out / stage / "model.pt").is_file()
    assert summary["total_seconds"] < 60 * 1.0 + 90, "a 1-minute budget stays about a minute"
    _, card = load_model(out / "student" / "model.pt")
    assert (card.input_height, card.input_width) == (64, 192)
    assert card.canonical_focal_px is not None


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when no GPU is visible")
def test_cuda_without_a_gpu_is_a_clear_error(tmp_path):
    done = subprocess.run(
        [*RECIPE, "--out", str(tmp_path / "x")], env=ENV, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "no CUDA device" in done.stderr and "--smoke" in done.stderr
    assert not (tmp_path / "x").exists()
