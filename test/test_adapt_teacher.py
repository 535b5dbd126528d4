"""``adu-depth adapt-teacher`` as users run it: bad pairs are refused with a message that says what to do,
a killed run resumes to the same step and weights, and the task trains the teacher, not its frozen original."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from adu_depth_core.adapt import AdaptTeacherTask
from adu_depth_core.data.folder import write_calib, write_sample
from adu_depth_core.data.middlebury import MiddleburyMotorcycle
from adu_depth_core.data.sample import DataError
from adu_depth_core.data.synthetic import SyntheticStereo
from adu_depth_core.pair_checks import check_pair
from adu_depth_core.train.config import AdaptConfig

H, W = 64, 128
CLI = [sys.executable, "-m", "adu_depth_core.cli.main"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
TINY = ["--set", "data.workers=0", "--set", "train.threads=1", "--set", "train.image_every=0"]


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory) -> Path:
    """Four rendered room pairs as a folder dataset without any depth (a robot's unlabeled recording)."""
    root = tmp_path_factory.mktemp("pairs")
    reader = SyntheticStereo(4, (H, W), seed=11, layout="room")
    for i in range(len(reader)):
        s = reader[i]
        write_sample(root, f"{i:06d}", s.replace(depth_m=None, valid=None))
    write_calib(root, reader[0].K, reader[0].baseline_m, H, W)
    return root


@pytest.fixture(scope="module")
def motorcycle():
    return MiddleburyMotorcycle()[0]


def test_a_rectified_real_pair_passes_the_check(motorcycle):
    check = check_pair(motorcycle)
    assert check.decided and check.median_dy_px < 1.0 and check.median_dx_px > 10


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.replace(right=np.roll(s.right, 12, axis=0)), "does not look rectified"),
        (
            lambda s: s.replace(
                right=cv2.warpAffine(s.right, cv2.getRotationMatrix2D((370, 250), 4.0, 1.0), (741, 500))
            ),
            "does not look rectified",
        ),
        (lambda s: s.replace(left=s.right, right=s.left), "swapped"),
        (lambda s: s.replace(right=None), "no right image"),
        (lambda s: s.replace(right=s.right[:-10]), "one size"),
        (lambda s: s.replace(baseline_m=0.0), "baseline"),
    ],
    ids=["vertical-shift", "rotated", "swapped", "no-right", "sizes", "baseline"],
)
def test_bad_pairs_get_a_clear_error(motorcycle, change, message):
    with pytest.raises(DataError, match=message):
        check_pair(change(motorcycle), "pair 0")


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], env=ENV, capture_output=True, text=True, timeout=timeout)


def _broken_copy(src: Path, dst: Path, what: str) -> Path:
    shutil.copytree(src, dst)
    if what == "no-right-folder":
        shutil.rmtree(dst / "right")
    elif what == "missing-right":
        (dst / "right" / "000002.png").unlink()
    elif what == "mismatched":
        img = cv2.imread(str(dst / "right" / "000000.png"))
        cv2.imwrite(str(dst / "right" / "000000.png"), cv2.resize(img, (W // 2, H // 2)))
    elif what == "no-baseline":
        text = (dst / "calib.yaml").read_text().splitlines()
        (dst / "calib.yaml").write_text("\n".join(t for t in text if not t.startswith("baseline_m")))
    return dst


@pytest.mark.parametrize(
    "what, message",
    [
        ("no-right-folder", "no right image"),
        ("missing-right", "missing right image"),
        ("mismatched", "mis-sized image"),
        ("no-baseline", "baseline_m"),
    ],
)
def test_adapt_teacher_refuses_bad_datasets_before_training(
    tmp_path, pairs_dir, tiny_teacher_ckpt, what, message
):
    data = _broken_copy(pairs_dir, tmp_path / "data", what)
    res = _cli(
        "adapt-teacher",
        "--data",
        str(data),
        "--teacher",
        str(tiny_teacher_ckpt),
        "--out",
        str(tmp_path / "run"),
    )
    assert res.returncode == 2, res.stderr[-2000:]
    assert res.stderr.startswith("error: ") and message in res.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_the_task_trains_the_teacher_and_leaves_the_original_alone(tiny_teacher_ckpt):
    from adu_depth_core.models import load_model

    teacher, _ = load_model(tiny_teacher_ckpt)
    original, _ = load_model(tiny_teacher_ckpt)
    task = AdaptTeacherTask(teacher, original, AdaptConfig(w_sgbm=1.0)).train()
    assert not any(m.training for m in task.teacher.modules() if isinstance(m, torch.nn.BatchNorm2d))
    s = SyntheticStereo(2, (H, W), seed=5, layout="room")
    to_t = lambda im: torch.from_numpy(im.transpose(2, 0, 1).astype(np.float32) / 255.0)  # noqa: E731
    batch = {
        "left": torch.stack([to_t(s[i].left) for i in range(2)]),
        "right": torch.stack([to_t(s[i].right) for i in range(2)]),
        "K": torch.from_numpy(np.stack([s[i].K for i in range(2)])).float(),
        "baseline_m": torch.tensor([s[i].baseline_m for i in range(2)]),
    }
    out = task(batch)
    assert set(out) >= {"loss", "photo", "lr", "smooth", "anchor", "sgbm", "output"}
    out["loss"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in task.teacher.parameters())
    assert all(p.grad is None for p in task.original.parameters())
    ignored = task._ddp_params_and_buffers_to_ignore
    assert ignored and all(n.startswith("original.") for n in ignored)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


@pytest.mark.slow
def test_a_killed_adapt_teacher_run_resumes_to_the_same_step_and_weights(
    tmp_path, pairs_dir, tiny_teacher_ckpt
):
    steps = ["--steps", "10", "--set", "train.ckpt_every=1"]
    base = ["adapt-teacher", "--data", str(pairs_dir), "--teacher", str(tiny_teacher_ckpt), *steps, *TINY]
    full = _cli(*base, "--out", str(tmp_path / "full"), timeout=240)
    assert full.returncode == 0, full.stderr[-3000:]

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [*CLI, *base, "--out", str(killed)], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    last = killed / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 180
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    killed_at = torch.load(last, weights_only=True)["step"]
    assert 1 <= killed_at < 10 and not (killed / "model.pt").exists()

    resumed = _cli("adapt-teacher", "--resume", str(last), timeout=240)  # the checkpoint's config suffices
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert torch.load(last, weights_only=True)["step"] == 10
    full_w, resumed_w = _weights(tmp_path / "full" / "model.pt"), _weights(killed / "model.pt")
    assert full_w.keys() == resumed_w.keys() and not any(k.startswith("original") for k in full_w)
    for k in full_w:
        torch.testing.assert_close(full_w[k], resumed_w[k], atol=1e-6, rtol=0)


def test_dataset_report_counts_pairs_and_confident_pixels(tmp_path, pairs_dir):
    from adu_depth_core.data.io import write_npy

    data = _broken_copy(pairs_dir, tmp_path / "data", "none")
    for i in range(4):
        conf = np.full((H, W), 0.3, np.float32)
        conf[:, : W // 4] = 0.95  # a quarter of each frame is confident
        write_npy(data / "confidence" / f"{i:06d}.npy", conf)
        write_npy(data / "teacher_depth" / f"{i:06d}.npy", np.full((H, W), 3.0 + i, np.float32))
    res = _cli("dataset-report", "--data", str(data), "--out", str(tmp_path / "rep"), "--max-frames", "3")
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert summary["pairs"] == 4 and summary["sampled"] == 3
    assert summary["confidence_share"][">=0.9"] == pytest.approx(0.25)
    assert summary["confidence_share"][">=0.5"] == pytest.approx(0.25)
    sheet = cv2.imread(str(tmp_path / "rep" / "contact_sheet.png"))
    assert sheet.shape == (3 * 160, 3 * 320, 3)  # 3 frames x [image | depth | confidence], tiles 320 wide
    assert cv2.imread(str(tmp_path / "rep" / "confidence_hist.png")) is not None
    unlabelled = _cli("dataset-report", "--data", str(pairs_dir), "--out", str(tmp_path / "rep2"))
    assert unlabelled.returncode == 2 and "bag-to-dataset --teacher" in unlabelled.stderr


def test_a_missing_teacher_is_reported_before_any_work(tmp_path, pairs_dir):
    res = _cli(
        "adapt-teacher",
        "--data",
        str(pairs_dir),
        "--teacher",
        str(tmp_path / "no.pt"),
        "--out",
        str(tmp_path / "r"),
    )
    assert res.returncode == 2 and "teacher checkpoint not found" in res.stderr
    assert "pairs; checked" not in res.stdout
