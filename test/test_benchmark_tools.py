"""Benchmark scripts that results in docs/ depend on: TensorBoard scalars to CSV, model selection on synthetic
scenes, and the selection of the stereo refinement settings."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from adu_depth_core.train.logs import TensorBoardLog

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=300
    )


def test_tb_to_csv_writes_a_row_per_step_and_leaves_unlogged_cells_empty(tmp_path):
    run = tmp_path / "run"
    log = TensorBoardLog(run / "tb")
    for step in (10, 20, 30):
        log.scalars("train", {"loss": 1.0 / step, "lr": 1e-3}, step)
    log.scalars("val", {"abs_rel": 0.25}, 20)
    log.scalars("speed", {"steps_per_s": 3.0}, 20)
    log.close()
    out = tmp_path / "log.csv"
    done = _run("tb_to_csv.py", str(run), str(out))
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open()))
    assert [r["step"] for r in rows] == ["10", "20", "30"]
    assert float(rows[2]["train/loss"]) == pytest.approx(1 / 30, rel=1e-5)
    assert [r["val/abs_rel"] for r in rows] == ["", "0.25", ""]
    assert "speed/steps_per_s" not in rows[0]  # machine speed is not a result


def test_tb_to_csv_names_a_folder_without_a_log(tmp_path):
    done = _run("tb_to_csv.py", str(tmp_path), str(tmp_path / "x.csv"))
    assert done.returncode == 2 and "tb does not exist" in done.stderr and "Traceback" not in done.stderr


def test_select_models_scores_only_the_layouts_asked_for(tmp_path, tiny_canonical_ckpt):
    out = tmp_path / "sel.json"
    args = [
        "--model",
        f"a={tiny_canonical_ckpt}",
        "--model",
        f"b={tiny_canonical_ckpt}",
        "--layouts",
        "street",
    ]
    done = _run("select_models.py", *args, "--scale", "0.04", "--input-size", "64x128", "--json", str(out))
    assert done.returncode == 0, done.stderr
    payload = json.loads(out.read_text())
    assert payload["frames"] == {"street": 1} and payload["selected"] == "a"  # a tie keeps the first
    row = payload["rows"][0]
    assert "street_abs_rel" in row and "room_abs_rel" not in row
    assert row["mean_abs_rel"] == pytest.approx(row["street_abs_rel"])


def test_select_stereo_refine_scores_every_setting_and_draws_them(tmp_path, tiny_teacher_ckpt):
    out, fig = tmp_path / "refine.json", tmp_path / "refine.jpg"
    done = _run(
        "select_stereo_refine.py",
        *("--teacher", str(tiny_teacher_ckpt), "--size", "64x192", "--teacher-width", "64"),
        *("--scale", "0.03", "--threads", "1", "--json", str(out), "--figure", str(fig)),
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(out.read_text())
    methods = [r["method"] for r in payload["rows"]]
    assert methods[:3] == ["teacher", "SGBM", "defaults"] and set(payload["configs"]) == set(methods[2:])
    assert payload["pairs"] == 3 and payload["selected"] in payload["configs"]
    assert all(0.0 <= r["bad3"] <= 1.0 and r["bad1"] >= r["bad3"] for r in payload["rows"])
    assert fig.stat().st_size > 1000 and "selected:" in done.stdout
