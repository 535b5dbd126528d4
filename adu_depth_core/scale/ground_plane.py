"""Ground-plane scale of one depth map: RANSAC plane below the horizon, scale = known / measured height.

Frame: the camera optical frame (x right, y down, z forward, metres). The ground
prior is the camera's height above the ground and the ground's *up* normal in
that frame, from the mounting angles (:func:`up_normal`) or from TF. A monocular
depth map that is off by a global factor k gives a ground plane at k times the
true distance, so ``scale = camera_height_m / measured_height_m`` undoes k.

Everything is vectorised numpy and deterministic: the RANSAC hypotheses come
from a generator seeded per call, so the same depth map gives the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adu_depth_core.runtime.geometry import backproject
from adu_depth_core.runtime.intrinsics import check_K


def quaternion_matrix(x: float, y: float, z: float, w: float) -> np.ndarray:
    """3x3 rotation of a unit quaternion (x, y, z, w), as geometry_msgs/Quaternion orders it."""
    q = np.array([x, y, z, w], dtype=np.float64)
    x, y, z, w = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def up_normal(pitch_deg: float = 0.0, roll_deg: float = 0.0) -> np.ndarray:
    """Unit 'up' vector of the ground in the camera optical frame for a camera pitched and rolled.

    ``pitch_deg`` > 0: the camera looks down (REP 103 body pitch); ``roll_deg`` > 0: its right
    side is lower. Pitch is applied about the camera x axis, then roll about its optical axis.
    A level camera gives (0, -1, 0).
    """
    p, r = np.deg2rad(pitch_deg), np.deg2rad(roll_deg)
    return np.array([-np.sin(r) * np.cos(p), -np.cos(r) * np.cos(p), -np.sin(p)])


@dataclass(frozen=True)
class GroundPrior:
    """What the mounting says: camera height above the ground (m) and the ground's up normal (camera frame)."""

    camera_height_m: float
    normal: tuple[float, float, float] = (0.0, -1.0, 0.0)

    @classmethod
    def from_angles(
        cls, camera_height_m: float, pitch_deg: float = 0.0, roll_deg: float = 0.0
    ) -> GroundPrior:
        """Prior from the mounting height and pitch/roll (see :func:`up_normal` for the signs)."""
        return cls(float(camera_height_m), tuple(float(v) for v in up_normal(pitch_deg, roll_deg)))

    @classmethod
    def from_transform(cls, R_cam_ground, t_cam_ground) -> GroundPrior:
        """Prior from the pose of a ground frame (z up, origin on the ground) in the camera frame.

        ``p_cam = R p_ground + t`` (what TF's lookup_transform(camera, ground) gives): the up normal
        is R's z column and the camera's height above the plane z = 0 is ``-n . t``.
        """
        R = np.asarray(R_cam_ground, dtype=np.float64).reshape(3, 3)
        n = R[:, 2] / np.linalg.norm(R[:, 2])
        return cls(float(-(n @ np.asarray(t_cam_ground, dtype=np.float64))), tuple(float(v) for v in n))

    def check(self) -> None:
        """Raise ValueError for a height that is not positive or a normal that is not a direction."""
        if not (np.isfinite(self.camera_height_m) and self.camera_height_m > 0):
            raise ValueError(f"camera_height_m must be > 0, got {self.camera_height_m}")
        n = np.asarray(self.normal, dtype=np.float64)
        if n.shape != (3,) or not np.isfinite(n).all() or np.linalg.norm(n) < 1e-6:
            raise ValueError(f"ground normal must be a finite non-zero 3-vector, got {self.normal}")


@dataclass(frozen=True)
class FitOptions:
    """RANSAC and acceptance settings (scale-free: tolerances are relative to the measured height)."""

    lower_fraction: float = 0.5  # use only the bottom part of the image
    min_depression_deg: float = 5.0  # and only rays at least this far below the prior horizon
    max_points: int = 1500  # points sampled for the fit
    iterations: int = 64  # RANSAC hypotheses
    inlier_tol: float = 0.05  # |n.p - d| / height counted as on the plane
    max_normal_angle_deg: float = 10.0  # hypotheses further from the prior normal are rejected
    min_points: int = 50  # fewer valid points below the horizon: no estimate
    min_inlier_share: float = 0.2  # of the sampled points
    min_confidence: float = 0.5  # below it the frame's scale is not used
    seed: int = 0


@dataclass(frozen=True)
class PlaneFit:
    """A fitted ground plane n.p = -plane_height_m (n the unit up normal), the measured height, the fit."""

    normal: np.ndarray  # (3,) unit, camera frame, pointing up
    plane_height_m: float  # camera distance to the fitted plane, in the depth map's units
    height_m: float  # median height of the inliers below the camera along the prior (mounting) normal
    inlier_share: float  # inliers / sampled points
    residual: float  # RMS inlier distance to the fitted plane / plane_height_m
    angle_deg: float  # between the fitted and the prior normal
    points: int  # sampled points


@dataclass(frozen=True)
class FrameScale:
    """One frame's verdict: its scale (NaN without a plane), confidence in [0, 1], used or not and why."""

    scale: float
    confidence: float
    used: bool
    reason: str
    fit: PlaneFit | None = None


def ground_points(
    depth_m: np.ndarray, K: np.ndarray, normal: np.ndarray, opts: FitOptions, rng: np.random.Generator
) -> np.ndarray:
    """(N, 3) float64 points of the lower image whose rays point below the horizon, N <= max_points."""
    h, w = depth_m.shape
    K = check_K(K)
    v0 = min(int(h * (1.0 - opts.lower_fraction)), h - 1)
    area = (h - v0) * w
    stride = max(1, int(np.sqrt(area / (4 * opts.max_points))))
    K_crop = K.copy()
    K_crop[1, 2] -= v0
    xyz = backproject(depth_m[v0:], K_crop, stride).reshape(-1, 3).astype(np.float64)
    xyz = xyz[np.isfinite(xyz).all(1)]
    rays = xyz / np.linalg.norm(xyz, axis=1, keepdims=True)
    xyz = xyz[rays @ -normal > np.sin(np.deg2rad(opts.min_depression_deg))]
    if len(xyz) > opts.max_points:
        xyz = xyz[rng.choice(len(xyz), opts.max_points, replace=False)]
    return xyz


def _hypotheses(
    points: np.ndarray, prior: np.ndarray, opts: FitOptions, rng
) -> tuple[np.ndarray, np.ndarray]:
    """Up normals (H, 3) and heights (H,) of 3-point planes within the angle limit of the prior."""
    idx = rng.integers(0, len(points), size=(opts.iterations, 3))
    a, b, c = points[idx[:, 0]], points[idx[:, 1]], points[idx[:, 2]]
    n = np.cross(b - a, c - a)
    norm = np.linalg.norm(n, axis=1)
    ok = norm > 1e-12
    n = n[ok] / norm[ok, None]
    n *= np.sign(n @ prior)[:, None]  # point up
    height = -(n * a[ok]).sum(1)
    keep = (n @ prior > np.cos(np.deg2rad(opts.max_normal_angle_deg))) & (height > 0)
    return n[keep], height[keep]


def _refine(points: np.ndarray, inliers: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares plane (smallest singular vector) through the inliers: up normal and height."""
    p = points[inliers]
    centre = p.mean(0)
    normal = np.linalg.svd(p - centre, full_matrices=False)[2][-1]
    normal = normal * np.sign(normal @ prior)
    return normal, float(-(normal @ centre))


def fit_ground_plane(points: np.ndarray, prior_normal, opts: FitOptions = FitOptions()) -> PlaneFit | None:
    """RANSAC ground plane of (N, 3) points constrained to ``max_normal_angle_deg`` of ``prior_normal``.

    RANSAC decides which points are ground; the measured height is then their median distance
    below the camera along the prior normal. The mounting is known, while the network's road is
    seldom exactly planar: a plane fitted to it tilts with the network's depth errors, and
    extrapolating that plane back to the camera amplifies them (docs/ground_scale.md has the
    comparison). Returns None when no hypothesis fits the constraint. Deterministic.
    """
    prior = np.asarray(prior_normal, dtype=np.float64)
    prior = prior / np.linalg.norm(prior)
    if len(points) < 3:
        return None
    rng = np.random.default_rng(opts.seed)
    normals, heights = _hypotheses(points, prior, opts, rng)
    if len(normals) == 0:
        return None
    dist = np.abs(points @ normals.T + heights[None, :])  # (N, H)
    counts = (dist < opts.inlier_tol * heights[None, :]).sum(0)
    best = int(np.argmax(counts))
    inliers = dist[:, best] < opts.inlier_tol * heights[best]
    normal, height = normals[best], float(heights[best])
    for _ in range(2):  # least squares on the inliers, then re-select them
        if inliers.sum() < 3:
            break
        normal, height = _refine(points, inliers, prior)
        if height <= 0:
            return None
        inliers = np.abs(points @ normal + height) < opts.inlier_tol * height
    if inliers.sum() < 3:
        return None
    res = np.abs(points[inliers] @ normal + height) / height
    angle = float(np.degrees(np.arccos(np.clip(normal @ prior, -1.0, 1.0))))
    return PlaneFit(
        normal=normal,
        plane_height_m=height,
        height_m=float(np.median(points[inliers] @ -prior)),
        inlier_share=float(inliers.mean()),
        residual=float(np.sqrt(np.mean(res**2))) if len(res) else float("inf"),
        angle_deg=angle,
        points=len(points),
    )


def fit_confidence(fit: PlaneFit, opts: FitOptions) -> float:
    """Confidence in [0, 1]: inlier share (saturating at 40 %) x residual x agreement with the prior."""
    c_share = min(1.0, fit.inlier_share / 0.4)
    c_res = max(0.0, 1.0 - (fit.residual / opts.inlier_tol) ** 2)
    c_angle = max(0.0, 1.0 - (fit.angle_deg / opts.max_normal_angle_deg) ** 2)
    return float(c_share * c_res * c_angle)


def frame_scale(
    depth_m: np.ndarray, K: np.ndarray, prior: GroundPrior, opts: FitOptions = FitOptions()
) -> FrameScale:
    """The ground-plane scale of one H x W depth map (``K`` of that size), its confidence and why."""
    if depth_m.ndim != 2:
        raise ValueError(f"depth must be H x W, got shape {depth_m.shape}")
    prior.check()
    normal = np.asarray(prior.normal, dtype=np.float64)
    normal = normal / np.linalg.norm(normal)
    points = ground_points(depth_m, K, normal, opts, np.random.default_rng(opts.seed))
    if len(points) < opts.min_points:
        return FrameScale(
            float("nan"), 0.0, False, f"ground not visible: {len(points)} valid points below the horizon"
        )
    fit = fit_ground_plane(points, normal, opts)
    if fit is None:
        lim = opts.max_normal_angle_deg
        return FrameScale(
            float("nan"), 0.0, False, f"ground not visible: no plane within {lim:g} deg of level"
        )
    scale = prior.camera_height_m / fit.height_m
    conf = fit_confidence(fit, opts)
    if fit.inlier_share < opts.min_inlier_share:
        why = f"ground not visible: plane covers {100 * fit.inlier_share:.0f}% of the lower image"
        return FrameScale(scale, conf, False, why, fit)
    if conf < opts.min_confidence:
        why = (
            f"low confidence {conf:.2f} (inliers {100 * fit.inlier_share:.0f}%, "
            f"residual {100 * fit.residual:.1f}%, tilt {fit.angle_deg:.1f} deg)"
        )
        return FrameScale(scale, conf, False, why, fit)
    return FrameScale(scale, conf, True, "ok", fit)
