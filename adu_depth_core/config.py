"""Typed configs for the networks and the ADU-Depth losses, plus generic dataclass <-> dict/YAML helpers.

``from_dict`` is strict: nested dataclasses are rebuilt, unknown keys are rejected
with the list of known ones, lists become tuples where the field is a tuple, ints
become floats where the field is a float. The helpers work for any dataclass (the
training config reuses them).
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from adu_depth_core.registry import Registry

if TYPE_CHECKING:
    from torch import nn

T = TypeVar("T")


# ---------------------------------------------------------------------------------------------- helpers
def to_dict(obj: Any) -> Any:
    """Dataclass (nested) -> plain dict of YAML-safe types (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    return obj


def _scalar(tp: type, value: Any, where: str) -> Any:
    """Check a scalar field; ints and YAML-1.1 exponent strings such as '1e-3' are accepted for floats."""
    if tp is float and not isinstance(value, bool):
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif isinstance(value, tp) and not (tp is int and isinstance(value, bool)):
        return value  # int, bool, str (a bool is not accepted as an int)
    raise ValueError(f"{where}: expected {tp.__name__}, got {value!r}")


def _coerce(tp: Any, value: Any, where: str) -> Any:
    """Convert a plain value to field type ``tp`` (nested dataclasses, tuples, float from int, Optional)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where) if len(inner) == 1 else value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping for {tp.__name__}, got {type(value).__name__}")
        return from_dict(tp, value, _where=where)
    if tp in (float, int, bool, str):
        return _scalar(tp, value, where)
    if origin is tuple and isinstance(value, list | tuple):
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, where) for v in value)
        if args and len(args) != len(value):
            raise ValueError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_coerce(a, v, where) for a, v in zip(args, value)) if args else tuple(value)
    return value


def from_dict(cls: type[T], d: dict[str, Any] | None, _where: str = "") -> T:
    """Plain (nested) dict -> dataclass ``cls``; unknown keys raise ValueError naming the known ones."""
    d = dict(d or {})
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(d) - set(names))
    prefix = f"{_where}." if _where else ""
    if unknown:
        raise ValueError(
            f"unknown {cls.__name__} key(s) {', '.join(prefix + k for k in unknown)}; known: {', '.join(names)}"
        )
    kwargs = {k: _coerce(hints[k], v, prefix + k) for k, v in d.items()}
    return cls(**kwargs)


def load_yaml(cls: type[T], path: str | os.PathLike) -> T:
    """Read a YAML mapping into dataclass ``cls`` (strict keys)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping for {cls.__name__}, got {type(data).__name__}")
    return from_dict(cls, data)


def save_yaml(obj: Any, path: str | os.PathLike) -> Path:
    """Write a dataclass (or a plain mapping) as YAML, atomically, keys in field order."""
    import yaml

    from adu_depth_core.checkpoint import atomic_write_bytes

    text = yaml.safe_dump(to_dict(obj), sort_keys=False)
    return atomic_write_bytes(path, lambda f: f.write(text.encode()))


# ---------------------------------------------------------------------------------------------- model
ARCH_DEFAULT_WIDTH = {"student": 1.0, "teacher": 2.0}


@dataclass
class ModelConfig:
    """A network to build: ``arch`` 'student' or 'teacher' with the create-function arguments."""

    arch: str = "student"
    encoder: str = "efficientnet_lite0"  # efficientnet_lite0 | resnet18 | resnet34
    pretrained: bool = True  # ImageNet encoder weights (offline package for efficientnet_lite0)
    encoder_weights: str | None = None  # path of an ImageNet state dict (needed for resnet pretrained)
    min_depth: float = 1e-3  # metres; the depth range the model is for (evaluation, card)
    max_depth: float = 80.0
    # student: canonical camera. The network predicts depth as seen with this focal length (pixels of its
    # input); metric depth = output * fx_input / canonical_focal_px. None: a camera-unaware student.
    canonical_focal_px: float | None = None
    # depth head's output range (min, max); None = (min_depth, max_depth). A canonical student needs
    # headroom: its output is depth * canonical_focal_px / fx_input.
    head_depth_range: tuple[float, float] | None = None
    width_mult: float | None = None  # decoder width multiplier; None = 1.0 student, 2.0 teacher
    max_disparity_frac: float = 0.3  # teacher: disparity search range as a fraction of the image width
    max_disparity: float | None = None  # teacher: ... or in input pixels (overrides the fraction)
    disparity_bins: int = 48  # teacher: bins of the disparity distribution (stride 4)
    cost_strides: tuple[int, ...] = (4, 8)  # teacher: strides with a cost volume
    cost_channels: int = 64  # teacher: aggregated cost-volume channels

    def __post_init__(self) -> None:
        if self.arch not in ARCH_DEFAULT_WIDTH:
            raise ValueError(f"model arch must be one of {sorted(ARCH_DEFAULT_WIDTH)}, got '{self.arch}'")
        if self.canonical_focal_px is not None and (self.arch != "student" or self.canonical_focal_px <= 0):
            raise ValueError(
                f"canonical_focal_px is a positive focal length of a student, got {self.canonical_focal_px} "
                f"for a {self.arch} (the teacher takes each sample's own fx and baseline)"
            )

    def model_kwargs(self, with_pretrained: bool = False) -> dict[str, Any]:
        """Keyword arguments of create_student / create_teacher (what a ModelCard stores)."""
        lo, hi = self.head_depth_range or (self.min_depth, self.max_depth)
        kw: dict[str, Any] = {
            "encoder": self.encoder,
            "min_depth": lo,
            "max_depth": hi,
            "width_mult": self.width_mult if self.width_mult is not None else ARCH_DEFAULT_WIDTH[self.arch],
        }
        if self.arch == "teacher":
            kw.update(
                max_disparity_frac=self.max_disparity_frac,
                max_disparity=self.max_disparity,
                disparity_bins=self.disparity_bins,
                cost_strides=list(self.cost_strides),
                cost_channels=self.cost_channels,
            )
        if with_pretrained:
            kw.update(pretrained=self.pretrained, encoder_weights=self.encoder_weights)
        return kw

    def build(self) -> nn.Module:
        """Create the network (loading ImageNet encoder weights if ``pretrained``)."""
        from adu_depth_core.models.loading import ARCHS

        return ARCHS.get(self.arch)(**self.model_kwargs(with_pretrained=True))


# ---------------------------------------------------------------------------------------------- losses
@dataclass
class LossConfig:
    """Every weight, exponent and switch of docs/method.md's losses. Defaults: full ADU-Depth (ablation row 6)."""

    # supervised scale-invariant log loss: alpha * sqrt(mean(g^2) - lam * mean(g)^2), per image
    alpha: float = 10.0
    silog_lambda: float = 0.85
    # Laplace NLL in log space, weight w_u
    w_u: float = 1.0
    unc_teacher_targets: bool = True  # student: teacher depth as target where GT is missing ...
    pseudo_conf_threshold: float = 1.0  # ... on pixels whose normalised teacher confidence c_T >= this
    # teacher confidence c_T = exp(-b_T / conf_temperature), normalised to mean 1 per image. b_T is a scale
    # of log-depth (median ~0.05), so at 1.0 c_T ~ 1 - b_T barely varies; 0.1 was chosen on synthetic
    # validation scenes (docs/results/ablation_camera.md)
    conf_temperature: float = 0.1
    use_uncertainty_guidance: bool = True  # c_T weights both distillation terms
    # attention-adapted feature distillation
    feature_distill: bool = True
    lambda_f: float = 1.0
    feature_strides: tuple[int, ...] = (4, 8, 16)
    use_attention_adapter: bool = True  # adapter = 1x1 conv + self-attention block (else 1x1 conv only)
    use_attention_map: bool = True  # weight by M_k = HW * softmax(mean_C(T^2) / tau)
    tau: float = 1.0
    attn_heads: int = 4
    attn_window: int = 8  # window side (feature pixels) when a map has more than attn_max_tokens
    attn_max_tokens: int = 1024
    # focal-depth-adapted response distillation
    response_distill: bool = True
    lambda_r: float = 1.0
    use_focal: bool = True  # phi = (1 - exp(-e / beta))^gamma
    beta: float = 0.1
    gamma: float = 2.0
    use_depth_weight: bool = True  # psi = (d_T / max_depth)^eta, normalised to mean 1
    eta: float = 1.0

    def __post_init__(self) -> None:
        for name in ("alpha", "w_u", "lambda_f", "lambda_r", "gamma", "eta"):
            if getattr(self, name) < 0:
                raise ValueError(f"loss.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("conf_temperature", "tau", "beta"):
            if getattr(self, name) <= 0:
                raise ValueError(f"loss.{name} must be > 0, got {getattr(self, name)}")
        if not 0.0 <= self.silog_lambda <= 1.0:
            raise ValueError(f"loss.silog_lambda must be in [0, 1], got {self.silog_lambda}")
        bad = [s for s in self.feature_strides if s not in (4, 8, 16)]
        if bad:
            raise ValueError(
                f"loss.feature_strides must be a subset of (4, 8, 16), got {self.feature_strides}"
            )

    @property
    def uses_teacher(self) -> bool:
        """Whether any term needs the teacher's prediction."""
        return self.feature_on or self.response_on or (self.unc_teacher_targets and self.w_u > 0)

    @property
    def feature_on(self) -> bool:
        return self.feature_distill and self.lambda_f > 0 and bool(self.feature_strides)

    @property
    def response_on(self) -> bool:
        return self.response_distill and self.lambda_r > 0

    @classmethod
    def ablation_row(cls, row: int | str, **overrides: Any) -> LossConfig:
        """Preset of docs/method.md's ablation: 1..6 or 'teacher' (stage-1 losses); ``overrides`` set other fields."""
        return from_dict(cls, {**ABLATION_ROWS.get(str(row))(), **overrides})


ABLATION_ROWS: Registry = Registry("ablation row")
_NO_DISTILL = {"feature_distill": False, "response_distill": False, "unc_teacher_targets": False}
_PLAIN_RESPONSE = {"response_distill": True, "use_focal": False, "use_depth_weight": False}
_PLAIN_FEATURE = {"feature_distill": True, "use_attention_adapter": False, "use_attention_map": False}


@ABLATION_ROWS.register("teacher")
def _row_teacher() -> dict[str, Any]:
    """Stage 1 (teacher): L_sup + w_u L_unc on ground truth."""
    return dict(_NO_DISTILL, use_uncertainty_guidance=False)


@ABLATION_ROWS.register("1")
def _row1() -> dict[str, Any]:
    """Student, ground truth only: L_sup + w_u L_unc."""
    return dict(_NO_DISTILL, use_uncertainty_guidance=False)


@ABLATION_ROWS.register("2")
def _row2() -> dict[str, Any]:
    """+ plain response distillation (e only)."""
    return {**_row1(), **_PLAIN_RESPONSE}


@ABLATION_ROWS.register("3")
def _row3() -> dict[str, Any]:
    """+ focal-depth adaptation (phi, psi)."""
    return {**_row2(), "use_focal": True, "use_depth_weight": True}


@ABLATION_ROWS.register("4")
def _row4() -> dict[str, Any]:
    """+ plain feature distillation (1x1 adapter, MSE, no M, no c_T)."""
    return {**_row3(), **_PLAIN_FEATURE}


@ABLATION_ROWS.register("5")
def _row5() -> dict[str, Any]:
    """+ attention adaptation (attention adapter, M)."""
    return {**_row4(), "use_attention_adapter": True, "use_attention_map": True}


@ABLATION_ROWS.register("6")
def _row6() -> dict[str, Any]:
    """+ uncertainty guidance (c_T in both, teacher pseudo-labels in L_unc) = full ADU-Depth."""
    return {**_row5(), "use_uncertainty_guidance": True, "unc_teacher_targets": True}


__all__ = [
    "ABLATION_ROWS",
    "LossConfig",
    "ModelConfig",
    "from_dict",
    "load_yaml",
    "save_yaml",
    "to_dict",
]
