"""Small benchmark helpers that results in docs/ depend on: TensorBoard scalars to CSV."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from adu_depth_core.train.logs import TensorBoardLog

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_tb_to_csv_writes_a_row_per_step_and_leaves_unlogged_cells_empty(tmp_path):
    run = tmp_path / "run"
    log = TensorBoardLog(run / "tb")
    for step in (10, 20, 30):
        log.scalars("train", {"loss": 1.0 / step, "lr": 1e-3}, step)
    log.scalars("val", {"abs_rel": 0.25}, 20)
    log.scalars("speed", {"steps_per_s": 3.0}, 20)
    log.close()
    out = tmp_path / "log.csv"
    done = subprocess.run(
        [sys.executable, str(BENCH / "tb_to_csv.py"), str(run), str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open()))
    assert [r["step"] for r in rows] == ["10", "20", "30"]
    assert float(rows[2]["train/loss"]) == pytest.approx(1 / 30, rel=1e-5)
    assert [r["val/abs_rel"] for r in rows] == ["", "0.25", ""]
    assert "speed/steps_per_s" not in rows[0]  # machine speed is not a result


def test_tb_to_csv_names_a_folder_without_a_log(tmp_path):
    done = subprocess.run(
        [sys.executable, str(BENCH / "tb_to_csv.py"), str(tmp_path), str(tmp_path / "x.csv")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "tb does not exist" in done.stderr and "Traceback" not in done.stderr
