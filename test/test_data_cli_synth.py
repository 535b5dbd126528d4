"""`adu-depth synth` writes the folder-stereo format that FolderStereo reads back."""

from __future__ import annotations

import numpy as np

from adu_depth_core.cli.main import main
from adu_depth_core.data.folder import FolderStereo
from adu_depth_core.data.synthetic import StereoSynthesizer, SynthConfig


def test_synth_writes_folder_stereo_and_resumes(tmp_path, capsys):
    out = tmp_path / "synth"
    assert main(["synth", "--out", str(out), "--n", "2", "--size", "48x96", "--seed", "5", "--lidar"]) == 0
    reader = FolderStereo(out)
    assert len(reader) == 2 and reader.baseline_m == 0.54 and reader.hw == (48, 96)
    ref = StereoSynthesizer(SynthConfig(height=48, width=96, lidar=True)).render(6)
    s = reader[1]
    np.testing.assert_array_equal(s.left, ref.left)
    np.testing.assert_array_equal(s.right, ref.right)
    np.testing.assert_array_equal(s.valid, np.isfinite(ref.depth_m))
    np.testing.assert_array_equal(s.depth_m[s.valid], ref.depth_m[s.valid])
    np.testing.assert_allclose(s.K, ref.K)
    lidar = FolderStereo(out, depth_dir="lidar")[1]
    np.testing.assert_array_equal(lidar.valid, np.isfinite(ref.lidar_m))

    # an existing dataset is never silently overwritten
    assert main(["synth", "--out", str(out), "--n", "3", "--size", "48x96", "--seed", "5", "--lidar"]) == 2
    assert "--resume" in capsys.readouterr().err
    # resuming with other settings would mix two datasets
    assert main(["synth", "--out", str(out), "--n", "3", "--size", "48x96", "--seed", "6", "--resume"]) == 2
    assert "cannot resume" in capsys.readouterr().err
    before = (out / "left" / "000000.png").stat().st_mtime_ns
    args = ["synth", "--out", str(out), "--n", "3", "--size", "48x96", "--seed", "5", "--lidar", "--resume"]
    assert main(args) == 0
    assert "wrote 1 frame(s)" in capsys.readouterr().out
    assert len(FolderStereo(out)) == 3 and (out / "left" / "000000.png").stat().st_mtime_ns == before


def test_synth_renders_workshops_and_names_the_layouts_on_a_typo(tmp_path, capsys):
    out = tmp_path / "ws"
    assert main(["synth", "--out", str(out), "--n", "1", "--size", "48x96", "--layout", "workshop"]) == 0
    ref = StereoSynthesizer(SynthConfig(height=48, width=96, layout="workshop")).render(0)
    np.testing.assert_array_equal(FolderStereo(out)[0].left, ref.left)
    capsys.readouterr()
    assert main(["synth", "--out", str(tmp_path / "x"), "--n", "1", "--layout", "workshp"]) == 2
    err = capsys.readouterr().err
    assert "unknown scene layout 'workshp'" in err and "room, street, workshop" in err
    assert not (tmp_path / "x").exists()
