"""The training CLIs as users run them (subprocesses): DDP under torchrun keeps ranks identical, a killed
run resumes to the same weights as an uninterrupted one, and distillation reduces held-out error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from conftest import TINY_TEACHER_KW

from adu_depth_core.checkpoint import ModelCard

H, W = 64, 128
CLI = [sys.executable, "-m", "adu_depth_core.cli.main"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def tiny_config(path: Path, run_dir: Path, task: str = "distill", **train) -> Path:
    """A tiny 64x128 synthetic config (student decoder x0.25, batch 2, 1 thread) written to ``path``."""
    cfg = {
        "task": task,
        "data": {
            "dataset": "synthetic",
            "kwargs": {"n": 64, "seed": 0, "depth": "lidar", "augment": {"flip_prob": 0.5}},
            "height": H,
            "width": W,
            "batch_size": 2,
            "workers": 0,
        },
        "student": {"pretrained": False, "width_mult": 0.25, "min_depth": 0.5},
        "teacher": {
            "arch": "teacher",
            "pretrained": False,
            **{k: v for k, v in TINY_TEACHER_KW.items() if k != "max_depth"},
        },
        "optim": {"lr": 1e-3, "warmup_steps": 2},
        "train": {
            "steps": 10,
            "seed": 1,
            "log_every": 2,
            "image_every": 0,
            "ckpt_every": 3,
            "threads": 1,
            "run_dir": str(run_dir),
            **train,
        },
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True, map_location="cpu")["model"]


def _assert_same(a: dict, b: dict, atol: float = 0.0) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if atol == 0.0:
            assert torch.equal(a[k], b[k]), k
        else:
            torch.testing.assert_close(a[k], b[k], atol=atol, rtol=0.0, msg=k)


@pytest.mark.slow
def test_torchrun_two_ranks_gloo_end_with_identical_student_weights(tmp_path, tiny_teacher_ckpt):
    run = tmp_path / "ddp"
    cfg = tiny_config(tmp_path / "c.yaml", run, steps=3, ckpt_every=1, save_rank_weights=True)
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "adu_depth_core.cli.main",
    ]
    proc = subprocess.run(
        [*torchrun, "distill", "--config", str(cfg), "--teacher", str(tiny_teacher_ckpt)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert last["world_size"] == 2 and len(last["rng"]) == 2
    assert not torch.equal(last["rng"][0]["torch"], last["rng"][1]["torch"])  # ranks are seeded apart
    r0, r1 = _weights(run / "rank0_final.pt"), _weights(run / "rank1_final.pt")
    _assert_same(r0, r1)
    step1 = _weights(run / "checkpoints" / "step_0000001.pt")
    assert any(not torch.equal(step1[k], r0[k]) for k in r0 if r0[k].is_floating_point())


@pytest.mark.slow
def test_killed_run_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path, tiny_teacher_ckpt):
    full_run, killed_run = tmp_path / "full", tmp_path / "killed"
    base = ["distill", "--teacher", str(tiny_teacher_ckpt)]
    full = subprocess.run(
        [*CLI, *base, "--config", str(tiny_config(tmp_path / "a.yaml", full_run))],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert full.returncode == 0, full.stderr[-3000:]

    cfg = tiny_config(tmp_path / "b.yaml", killed_run)
    proc = subprocess.Popen(
        [*CLI, *base, "--config", str(cfg)], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    last = killed_run / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 180
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (killed_run / "model.pt").exists()
    killed_at = torch.load(last, weights_only=True)["step"]
    assert 3 <= killed_at < 10

    # Only the checkpoint: its saved config (teacher path, run folder, steps) is enough to continue.
    resumed = subprocess.run(
        [*CLI, "distill", "--resume", str(last)], env=ENV, capture_output=True, text=True, timeout=240
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _assert_same(_weights(full_run / "model.pt"), _weights(killed_run / "model.pt"), atol=1e-6)


def _held_out_abs_rel(model_path: Path | None, student_cfg: dict) -> dict[str, float]:
    """Mean metrics on 6 held-out scenes (seeds far from the training range) at 64x128."""
    from adu_depth_core.config import ModelConfig, from_dict
    from adu_depth_core.data.synthetic import SyntheticStereo
    from adu_depth_core.models import load_model
    from adu_depth_core.train.evaluate import EvalOptions, evaluate_model

    if model_path is None:  # the student before training: same config, pretrained encoder, fresh decoder
        torch.manual_seed(1)
        model = from_dict(ModelConfig, student_cfg).build()
        card = ModelCard(input_height=H, input_width=W)
    else:
        model, card = load_model(model_path)
    held_out = SyntheticStereo(n=6, size=(H, W), seed=9_000_000)
    opts = EvalOptions(min_depth_m=0.5, max_depth_m=80.0, figures=0)
    return evaluate_model(model, card, [held_out[i] for i in range(6)], opts, progress=False).mean


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_few_hundred_distillation_steps_reduce_held_out_error(tmp_path):
    student = {"pretrained": True, "width_mult": 0.25, "min_depth": 0.5}
    teacher_cfg = tiny_config(
        tmp_path / "t.yaml", tmp_path / "teacher", task="teacher", steps=80, ckpt_every=1000
    )
    cfg = yaml.safe_load(teacher_cfg.read_text())
    cfg["teacher"]["pretrained"] = True
    cfg["data"]["kwargs"].update(depth="dense", n=100000)
    cfg["data"]["batch_size"] = 4
    teacher_cfg.write_text(yaml.safe_dump(cfg))
    t = subprocess.run(
        [*CLI, "train-teacher", "--config", str(teacher_cfg)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert t.returncode == 0, t.stderr[-3000:]

    cfg = yaml.safe_load(
        tiny_config(tmp_path / "d.yaml", tmp_path / "student", steps=200, ckpt_every=1000).read_text()
    )
    cfg["student"] = student
    cfg["data"]["kwargs"]["n"] = 100000
    (tmp_path / "d.yaml").write_text(yaml.safe_dump(cfg))
    d = subprocess.run(
        [
            *CLI,
            "distill",
            "--config",
            str(tmp_path / "d.yaml"),
            "--teacher",
            str(tmp_path / "teacher" / "model.pt"),
        ],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert d.returncode == 0, d.stderr[-3000:]

    before = _held_out_abs_rel(None, student)
    after = _held_out_abs_rel(tmp_path / "student" / "model.pt", student)
    print(
        f"held-out AbsRel {before['abs_rel']:.3f} -> {after['abs_rel']:.3f}, RMSE {before['rmse']:.2f} -> {after['rmse']:.2f}"
    )
    assert after["abs_rel"] < 0.7 * before["abs_rel"], (before, after)
    assert after["rmse"] < before["rmse"] and after["a1"] > before["a1"], (before, after)


def test_a_time_boxed_run_plans_its_length_and_anneals_the_schedule(tmp_path):
    run = tmp_path / "boxed"
    cfg = tiny_config(
        tmp_path / "t.yaml", run, task="teacher", steps=100_000, max_minutes=0.25, ckpt_every=50
    )
    t0 = time.monotonic()
    done = subprocess.run(
        [*CLI, "train-teacher", "--config", str(cfg)], env=ENV, capture_output=True, text=True, timeout=240
    )
    wall = time.monotonic() - t0
    assert done.returncode == 0, done.stderr[-3000:]
    assert "time box:" in done.stdout + done.stderr
    saved = yaml.safe_load((run / "config.yaml").read_text())
    planned = saved["train"]["steps"]
    assert 25 < planned < 100_000
    last = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert last["step"] == planned  # ran to the planned end, then wrote the final model
    assert (run / "model.pt").exists()
    assert wall < 0.25 * 60 + 30, f"a 15 s time box took {wall:.0f} s"
    lr_end = last["optimizer"]["param_groups"][0]["lr"]
    optim = saved["optim"]  # the cosine schedule reached its floor at the planned step, not at 100,000
    assert lr_end == pytest.approx(optim["lr"] * optim["min_lr_ratio"], rel=1e-3)
