"""Synthetic generator variety: camera ranges, cast shadows, sky, street, room and workshop content, determinism."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from adu_depth_core.data import props, shading
from adu_depth_core.data.layouts import LAYOUTS
from adu_depth_core.data.layouts_room import chair, table
from adu_depth_core.data.layouts_workshop import workbench
from adu_depth_core.data.scene import SceneBuilder
from adu_depth_core.data.synthetic import StereoSynthesizer, SynthConfig

SIZE = dict(height=64, width=192)


def _builders(layout: str, seeds, camera_height_m=None):
    return [LAYOUTS.get(layout)(np.random.default_rng(s), camera_height_m) for s in seeds]


@pytest.mark.parametrize("layout", ["street", "room", "workshop"])
def test_same_seed_renders_identically_in_two_instances(layout):
    a = StereoSynthesizer(SynthConfig(layout=layout, **SIZE)).render(21)
    b = StereoSynthesizer(SynthConfig(layout=layout, **SIZE)).render(21)
    for name in ("left", "right", "depth_m", "depth_right_m"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.left, StereoSynthesizer(SynthConfig(layout=layout, **SIZE)).render(22).left)


def test_camera_height_pitch_and_roll_ranges():
    seeds = range(40)
    heights = [-b.planes[0][1] for b, _ in _builders("street", seeds)]
    assert 1.0 <= min(heights) < 1.3 and 1.9 < max(heights) <= 2.2
    low = [-b.planes[0][1] for b, _ in _builders("street", seeds, (0.3, 0.5))]
    assert min(low) >= 0.3 and max(low) <= 0.5
    room = [-b.planes[0][1] for b, _ in _builders("room", seeds)]
    assert min(room) >= 1.1 and max(room) <= 1.7
    R = np.stack([look["rig_R"] for _, look in _builders("street", seeds)])
    pitch = np.rad2deg(np.arcsin(-R[:, 1, 2]))  # R = Ry Rx Rz: element (1, 2) is -sin(pitch)
    roll = np.rad2deg(np.arctan2(R[:, 1, 0], R[:, 1, 1]))
    assert np.abs(pitch).max() <= 3.0 + 1e-9 and np.abs(pitch).max() > 2.0
    assert np.abs(roll).max() <= 2.0 + 1e-9 and np.abs(roll).max() > 1.3


def _shadow_scene(synth: StereoSynthesizer, shadows: bool):
    """Road 1.5 m below the camera, a 2 m cube 10 m ahead, sun up and to the right (+x)."""
    b = SceneBuilder(np.random.default_rng(0))
    b.plane(props.UP, -1.5, (1.0, 0.0, 0.0), (0.0, 0.0, 1.0), "gravel", (0.5, 0.5, 0.5), 3.0)
    b.box_on_ground(0.0, 10.0, (2.0, 2.0, 2.0), 1.5, 0.0, "brick", (0.8, 0.8, 0.8), 2.0)
    look = dict(sun=(0.7071, -0.7071, 0.0), ambient=0.3, sky_zenith=(0.3, 0.5, 0.9), sky_horizon=(0.8,) * 3)
    return b.build(synth.device, markings=None, rig_R=np.eye(3), shadows=shadows, **look)


def _pixel(K, x, y, z, baseline=0.0):
    return int(round(K[1, 1] * y / z + K[1, 2])), int(round(K[0, 0] * (x - baseline) / z + K[0, 2]))


def test_cast_shadow_darkens_only_the_shadowed_ground_in_both_views():
    synth = StereoSynthesizer(SynthConfig(height=96, width=320))
    frames = {}
    for on in (True, False):
        synth.scene = lambda seed, on=on: _shadow_scene(synth, on)
        frames[on] = synth.render(0)
    on, off, K = frames[True], frames[False], frames[True].K
    for img, base in (("left", 0.0), ("right", on.baseline_m)):
        a, b = getattr(on, img).astype(float), getattr(off, img).astype(float)
        # the ground 1 m left of the cube (x = -2) is hidden from a sun at 45 deg to the right
        v, u = _pixel(K, -2.0, 1.5, 10.0, base)
        ratio = a[v, u].mean() / b[v, u].mean()
        assert ratio == pytest.approx(0.3 / (0.3 + 0.7 * 0.7071), abs=0.03)  # ambient only
        v, u = _pixel(K, -2.0, 1.5, 16.0, base)  # beyond the cube: lit in both renders
        assert np.abs(a[v, u] - b[v, u]).max() <= 1
        assert (a <= b + 1).all(), "shadows never brighten"
    dark_l = (on.left.astype(int).sum(2) + 6 < off.left.astype(int).sum(2)).sum()
    dark_r = (on.right.astype(int).sum(2) + 6 < off.right.astype(int).sum(2)).sum()
    assert dark_l > 20 and abs(dark_l - dark_r) < 0.2 * dark_l


def test_random_scenes_have_shadows_and_sky_is_nan():
    synth = StereoSynthesizer(SynthConfig(**SIZE))
    shadowed, sky_seen = 0, 0
    for seed in range(4):
        s = synth.scene(seed)
        f = synth.render(seed)
        synth_off = dataclasses.replace(s, shadows=False)
        d = torch.from_numpy(synth._pixel_dirs(f.K).numpy()) @ s.rig_R.T
        img_off, depth_off = synth._render_view(synth_off, torch.zeros(1, 3), d, f.K)
        np.testing.assert_array_equal(depth_off, f.depth_m)  # shading never touches depth
        shadowed += int((f.left.astype(int).sum(2) + 6 < img_off.astype(int).sum(2)).sum())
        sky = np.isnan(f.depth_m)
        sky_seen += int(sky.sum())
        if sky.any():
            expect = (shading._sky(s, d).clamp(0, 1) * 255 + 0.5).to(torch.uint8).reshape(*sky.shape, 3)
            assert np.abs(f.left[sky].astype(int) - expect.numpy()[sky]).max() <= 1
    assert shadowed > 50 and sky_seen > 50


def test_sky_varies_with_clouds_and_weather():
    looks = [props.outdoor_look(np.random.default_rng(s)) for s in range(60)]
    covers = [lk["cloud_cover"] for lk in looks]
    assert min(covers) < 0.2 and max(covers) > 0.75
    grey = [lk for lk in looks if np.ptp(lk["sky_horizon"]) < 0.05 and lk["ambient"] > 0.6]  # overcast
    warm = [lk for lk in looks if lk["sun"][1] > -np.sin(np.deg2rad(19))]  # dusk: low sun
    assert grey and warm and all(lk["sun_rgb"][2] < lk["sun_rgb"][0] for lk in warm)


def _boxes_on_road(b: SceneBuilder):
    """(centre, half) of the pavement slabs: wide, thin boxes standing on the road plane."""
    cam_h = -b.planes[0][1]
    return [(c, h) for c, h, _, _ in b.boxes if abs(c[1] + h[1] - cam_h) < 1e-6 and h[1] < 0.1 and h[0] > 0.7]


def test_street_has_junctions_slopes_hills_and_big_vehicles():
    builders = _builders("street", range(40))
    slopes = [b for b, _ in builders if len(b.planes) == 2 and b.planes[1][0][2] < -0.03]
    assert slopes, "some streets go uphill"
    junctions = 0
    for b, _ in builders:
        slabs = sorted(_boxes_on_road(b), key=lambda ch: ch[0][0] * 1000 + ch[0][2])
        z_ranges = [(c[2] - h[2], c[2] + h[2], np.sign(c[0])) for c, h in slabs]
        gaps = [b0 - a1 for (_, a1, s0), (b0, _, s1) in zip(z_ranges, z_ranges[1:]) if s0 == s1]
        junctions += any(g >= 8.0 for g in gaps)
    assert junctions >= 3, "some streets have a crossing road (pavements interrupted by >= 8 m)"
    radii = [s[0][3] for b, _ in builders for s in b.spheres]
    assert max(radii) >= 60, "distant hills"
    tall = [h for b, _ in builders for _, h, _, _ in b.boxes if 1.4 <= h[1] <= 1.9 and h[0] <= 1.3]
    assert tall, "trucks or buses (2.8-3.8 m high, 2.3-2.55 m wide)"


def test_furniture_is_made_of_parts():
    b = SceneBuilder(np.random.default_rng(0))
    table(b, np.random.default_rng(1), 0.0, 5.0, 0.3, 1.5)
    assert len(b.boxes) == 5  # top + four legs
    top_y = b.boxes[0][0][1]
    assert all(leg[0][1] > top_y for leg in b.boxes[1:])  # legs below the top (y down)
    chair(b, np.random.default_rng(2), 1.0, 5.0, 0.0, 1.5)
    assert len(b.boxes) == 5 + 6  # seat, four legs, back
    rooms = _builders("room", range(20))
    assert max(len(b.boxes) for b, _ in rooms) > 40
    assert any(any(m[-1][-1] for m in b.boxes) for b, _ in rooms), "lamps or windows are emissive"


def test_workshop_is_close_range_and_low():
    seeds = range(30)
    heights = [-b.planes[0][1] for b, _ in _builders("workshop", seeds)]
    assert min(heights) >= 0.3 and max(heights) <= 1.6 and max(heights) - min(heights) > 0.8
    synth = {
        name: StereoSynthesizer(SynthConfig(layout=name, hfov_deg=(60.0, 60.0), **SIZE))
        for name in ("workshop", "street")
    }
    med = {}
    for name, s in synth.items():
        depths = [s.render(seed).depth_m for seed in range(4)]
        med[name] = float(np.median([np.nanmedian(d) for d in depths]))
        if name == "workshop":
            valid = np.concatenate([d[np.isfinite(d)] for d in depths])
            assert valid.min() > 0.3, "nothing inside the models' near range limit"
            assert np.mean(valid < 2.0) > 0.1, "a good share of the picture within 2 m"
            assert np.all(np.isfinite(np.stack(depths))), "indoors: no sky"
    assert med["workshop"] < 5.0 < med["street"]


def test_workbench_items_stand_on_its_top():
    b = SceneBuilder(np.random.default_rng(0))
    workbench(b, np.random.default_rng(3), 0.0, 2.0, 0.4, 1.2)
    top_centre, top_half = b.boxes[0][:2]
    top_y = top_centre[1] - top_half[1]  # the top's upper face (y down)
    boxes = [bx for bx in b.boxes[1:] if bx[0][1] < top_y]  # the items above it
    assert len(boxes) + len(b.cylinders) + len(b.spheres) >= 2
    for centre, half, _, _ in boxes:
        assert abs(centre[1] + half[1] - top_y) < 1e-9  # bottom face on the top
    for (x, z, _, _, y_bottom), _ in b.cylinders:
        assert abs(y_bottom - top_y) < 1e-9 and np.hypot(x, z - 2.0) < 1.5
    for (_, y, _, r), _ in b.spheres:
        assert abs(y + r - top_y) < 1e-9
