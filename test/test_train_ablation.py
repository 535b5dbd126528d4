"""The ablation's bookkeeping: each row's config is its docs/method.md preset, finished runs are reused, and the
table's mean ± std and AbsRel ratios match an independent computation."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from adu_depth_core.config import LossConfig
from adu_depth_core.train.ablation import (
    AblationConfig,
    EvalSet,
    load_ablation_config,
    row_config,
    run_one,
    write_results,
)


def _cfg(tmp_path, **kw) -> AblationConfig:
    base = {"data": {"height": 64, "width": 192, "batch_size": 2}, "train": {"steps": 5}}
    return AblationConfig(
        student=base,
        eval={"syn": {"dataset": "synthetic", "num_images": 2}},
        out_dir=str(tmp_path / "runs"),
        results=str(tmp_path / "res" / "abl.md"),
        **kw,
    )


def test_each_row_is_its_preset_with_the_shared_settings(tmp_path):
    cfg = _cfg(tmp_path, loss_overrides={"tau": 10.0})
    for row in ("1", "3", "6"):
        tc = row_config(cfg, row, 2, "teacher.pt")
        assert tc.loss == LossConfig.ablation_row(row, tau=10.0)
        assert tc.task == "distill" and tc.teacher_checkpoint == "teacher.pt"
        assert tc.train.seed == 2 and tc.train.run_dir.endswith(f"row{row}_seed2") and tc.train.steps == 5
        assert tc.val.every == 0 and tc.data.batch_size == 2
    with pytest.raises(KeyError, match="ablation row"):
        _cfg(tmp_path, rows=["7"])


def test_a_finished_run_is_reused_not_retrained(tmp_path):
    cfg = _cfg(tmp_path)
    done = tmp_path / "runs" / "row3_seed1" / "metrics.json"
    done.parent.mkdir(parents=True)
    saved = {"row": "3", "seed": 1, "train_s": 1.0, "eval_s": 0.5, "eval": {"syn": {"abs_rel": 0.2}}}
    done.write_text(json.dumps(saved))
    assert run_one(cfg, "3", 1, "no-teacher-needed.pt") == saved


def test_table_means_stds_and_ratios(tmp_path):
    cfg = _cfg(tmp_path, rows=["1", "6"], seeds=[0, 1, 2])
    rng = np.random.default_rng(0)
    values = {r: rng.uniform(0.1, 0.3, 3) for r in cfg.rows}
    results = [
        {
            "row": r,
            "seed": s,
            "train_s": 10.0,
            "eval_s": 1.0,
            "eval": {"syn": {"abs_rel": float(values[r][s]), "a1": 0.9}},
        }
        for r in cfg.rows
        for s in cfg.seeds
    ]
    teacher = {"syn": {"abs_rel": 0.05, "a1": 0.95}}
    out = write_results(cfg, results, teacher, "t.pt", {"wall_s": 120.0, "teacher_train_s": 0.0}, "cmd")
    text = out.read_text()
    for r in cfg.rows:
        assert f"{values[r].mean():.3f} ± {values[r].std(ddof=1):.3f}" in text
    ratio = values["6"].mean() / values["1"].mean()
    assert f"= {ratio:.3f} ({100 * (ratio - 1):+.1f} %)" in text
    assert f"= {values['6'].mean() / 0.05:.3f}" in text and "| teacher (stereo, reference) | 0.050 |" in text
    with open(out.with_name("abl_runs.csv")) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 7 and {r["row"] for r in rows} == {"1", "6", "teacher"}
    saved = yaml.safe_load(out.with_name("abl_config.yaml").read_text())
    assert saved["seeds"] == [0, 1, 2] and saved["eval"]["syn"]["num_images"] == 2


def test_the_shipped_ablation_config_has_seven_rows_and_three_seeds():
    cfg = load_ablation_config(Path(__file__).parents[1] / "config" / "train" / "ablation.yaml")
    assert cfg.rows == ["1", "2", "3", "4", "5", "6"] and len(cfg.seeds) >= 3
    assert {"synthetic", "middlebury"} <= set(cfg.eval)
    train_seed = cfg.student["data"]["kwargs"]["seed"]
    held_out = cfg.eval["synthetic"].kwargs["seed"]
    assert held_out >= train_seed + cfg.student["data"]["kwargs"]["n"]  # held-out scenes are disjoint


def test_gap_closed_and_a_set_the_teacher_cannot_score(tmp_path):
    cfg = _cfg(tmp_path, rows=["1", "6"], seeds=[0, 1])
    cfg.eval["mono"] = cfg.eval["syn"]
    results = [
        {
            "row": r,
            "seed": s,
            "train_s": 1.0,
            "eval_s": 1.0,
            "eval": {"syn": {"abs_rel": v}, "mono": {"abs_rel": v}},
        }
        for r, v in (("1", 0.30), ("6", 0.20))
        for s in cfg.seeds
    ]
    teacher = {"syn": {"abs_rel": 0.10}}  # no "mono": monocular-only frames have no teacher score
    text = write_results(
        cfg, results, teacher, "t.pt", {"wall_s": 1.0, "teacher_train_s": 0.0}, ""
    ).read_text()
    assert "gap closed by full ADU-Depth: 50 %" in text  # (0.30 - 0.20) / (0.30 - 0.10)
    mono = text.split("## mono")[1]
    assert "teacher (stereo, reference)" not in mono and "6 + uncertainty guidance" in mono


def test_teacher_skips_monocular_sets_and_aspect_input_keeps_the_image_shape(tmp_path):
    from adu_depth_core.data.folder import write_calib, write_sample
    from adu_depth_core.data.sample import StereoSample
    from adu_depth_core.models.loading import DEFAULT_STUDENT, DEFAULT_TEACHER
    from adu_depth_core.stereo import aspect_input_size
    from adu_depth_core.train.ablation import evaluate_checkpoint

    rng = np.random.default_rng(0)
    K = np.array([[200.0, 0, 95.5], [0, 200.0, 71.5], [0, 0, 1]])
    depth = rng.uniform(2, 20, (144, 192)).astype(np.float32)
    left = rng.integers(0, 255, (144, 192, 3), dtype=np.uint8)
    write_calib(tmp_path / "mono", K, 0.5, 144, 192)
    write_sample(
        tmp_path / "mono", "000000", StereoSample(left, None, depth, np.isfinite(depth), K, 0.5, "x")
    )
    cfg = _cfg(tmp_path)
    cfg.eval = {
        "mono": EvalSet(
            dataset="folder", kwargs={"root": str(tmp_path / "mono")}, num_images=1, aspect_input=True
        )
    }
    assert evaluate_checkpoint(DEFAULT_TEACHER, cfg) == {}
    assert np.isfinite(evaluate_checkpoint(DEFAULT_STUDENT, cfg)["mono"]["abs_rel"])
    h, w = aspect_input_size((192, 640), (144, 192))
    assert abs(w / h - 192 / 144) < 0.2 and h % 32 == 0 and w % 32 == 0
    assert 0.8 < h * w / (192 * 640) < 1.25
