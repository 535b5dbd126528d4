"""Command-line failures from issue 17: one clear 'error:' line (the traceback only with --debug),
'default' accepted everywhere, resume hints, stale temporary files, bounded --threads, size limits."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from adu_depth_core.cli.main import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from adu_depth_core.image_size import blank_png

    folder = tmp_path_factory.mktemp("photo")
    rng = np.random.default_rng(0)
    cv2.imwrite(str(folder / "a.png"), rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    (folder / "huge.png").write_bytes(blank_png(4000, 5000))  # 20 MP in a few kB
    return folder


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_eval_accepts_default(tmp_path, capsys):
    rc = main(
        ["eval", "--model", "default", "--dataset", "synthetic", "--data", "n=1", "--data", "size=[64, 128]"]
        + ["--figures", "0", "--out", str(tmp_path / "r")]
    )
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / "r" / "metrics.json").is_file()


def test_a_teacher_checkpoint_is_one_line_for_infer(tiny_teacher_ckpt, photo, tmp_path, capsys):
    rc = main(
        ["infer", "--model", str(tiny_teacher_ckpt), "--input", str(photo / "a.png"), "--out", str(tmp_path)]
    )
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and "'teacher' (stereo) checkpoint" in line


def test_a_teacher_checkpoint_is_one_line_for_bag_run(tiny_teacher_ckpt, tmp_path, capsys):
    from adu_depth_core.bags.sample_bag import SampleBagConfig, write_sample_bag

    write_sample_bag(
        tmp_path / "bag", SampleBagConfig(n=1, height=64, width=96, lidar=False, middlebury=False)
    )
    args = ["bag-run", "--bag", str(tmp_path / "bag"), "--image-topic", "/stereo/left/image_raw"]
    rc = main([*args, "--model", str(tiny_teacher_ckpt), "--out", str(tmp_path / "o"), "--quiet"])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and "teacher" in line


def test_oversized_image_is_refused_before_decoding(tiny_student_ckpt, photo, tmp_path, capsys):
    rc = main(["infer", "--model", str(tiny_student_ckpt), "--input", str(photo), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1 and "4000x5000 (HxW) = 20000000 pixels, above the limit of 12000000" in err
    assert (tmp_path / "a_depth.npy").is_file() or any(tmp_path.glob("a*"))  # the good image was done


def test_threads_are_bounded(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["infer", "--input", "x.png", "--out", "o", "--threads", "100000"])
    assert exc.value.code == 2 and "4 per CPU" in capsys.readouterr().err


def _run_dir_with_steps(tmp_path, tiny_student_ckpt):
    ckpts = tmp_path / "run" / "checkpoints"
    ckpts.mkdir(parents=True)
    for step in (10, 20):
        shutil.copy(tiny_student_ckpt, ckpts / f"step_{step:07d}.pt")
    return ckpts


def test_corrupt_last_pt_on_resume_is_one_line(tmp_path, tiny_student_ckpt, capsys):
    ckpts = _run_dir_with_steps(tmp_path, tiny_student_ckpt)
    (ckpts / "last.pt").write_bytes(b"PK\x03\x04" + bytes(100))
    rc = main(["distill", "--resume", str(ckpts / "last.pt")])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and "corrupt or truncated" in line
    with pytest.raises(Exception, match="corrupt or truncated"):  # --debug: the real exception
        main(["--debug", "distill", "--resume", str(ckpts / "last.pt")])


def test_missing_last_pt_names_the_step_files(tmp_path, tiny_student_ckpt):
    from adu_depth_core.checkpoint import CheckpointError
    from adu_depth_core.train.checkpoints import find_resume_checkpoint

    _run_dir_with_steps(tmp_path, tiny_student_ckpt)
    with pytest.raises(
        CheckpointError, match=r"step_0000020.pt, step_0000010.pt.*--resume .*step_0000020.pt"
    ):
        find_resume_checkpoint("auto", tmp_path / "run")


def test_stale_temp_files_of_a_killed_write_are_removed(tmp_path, tiny_student_ckpt):
    from adu_depth_core.checkpoint import ModelCard
    from adu_depth_core.train.checkpoints import find_resume_checkpoint, save_training_checkpoint

    ckpts = _run_dir_with_steps(tmp_path, tiny_student_ckpt)
    stale = [ckpts / ".step_0000030.pt.x1y2z3.tmp", ckpts / ".last.pt.abc.tmp"]
    for path in stale:
        path.write_bytes(b"")  # what SIGKILL during torch.save leaves
    (ckpts / "last.pt").write_bytes(b"")
    find_resume_checkpoint("auto", tmp_path / "run")  # the next run (resume) cleans up ...
    assert not any(p.exists() for p in stale)
    stale[0].write_bytes(b"")
    save_training_checkpoint(ckpts, 40, model_state={}, card=ModelCard(), keep=5)  # ... and so does a write
    assert not stale[0].exists() and (ckpts / "step_0000040.pt").is_file()
    assert not list(ckpts.glob(".*.tmp"))
