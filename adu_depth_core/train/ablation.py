"""docs/method.md's ablation in one command: rows 1-6 (+ the teacher) x seeds, evaluated on held-out sets,
written as markdown tables of mean ± std over seeds.

One teacher is trained once (or reused from its run folder) and shared by every row and seed;
each row only swaps the ``loss`` preset (``LossConfig.ablation_row``), so the training loop,
data and seeds are identical across rows. Finished runs keep their ``metrics.json`` and are
skipped when the command is re-run, so an interrupted ablation continues where it stopped.
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from adu_depth_core.config import ABLATION_ROWS, LossConfig, from_dict, save_yaml, to_dict
from adu_depth_core.train import report
from adu_depth_core.train.config import TrainConfig, apply_overrides

ROW_NAMES = {
    "1": "1 student, GT only",
    "2": "2 + response distillation",
    "3": "3 + focal-depth adaptation",
    "4": "4 + feature distillation",
    "5": "5 + attention adaptation",
    "6": "6 + uncertainty guidance (ADU-Depth)",
    "teacher": "teacher (stereo, reference)",
}


@dataclass
class EvalSet:
    """A held-out set: a reader from the data registry and how to score on it."""

    dataset: str = "synthetic"
    kwargs: dict[str, Any] = field(default_factory=dict)
    num_images: int = 24
    median_scaling: bool = False
    crop: str | None = None
    # run at about the card's pixel count but the first image's aspect ratio (e.g. Middlebury's 4:3
    # instead of squashing it into a 1:3.3 card); false = the card's input size
    aspect_input: bool = False


@dataclass
class TeacherSpec:
    """The shared teacher: a train-teacher config (+ overrides); reused if ``<run_dir>/model.pt`` exists."""

    config: str = "config/train/cpu_teacher.yaml"
    overrides: list[str] = field(default_factory=list)
    checkpoint: str | None = None  # use this checkpoint instead of training one


@dataclass
class AblationConfig:
    """Rows x seeds of student runs sharing one base distillation config and one teacher."""

    rows: list[str] = field(default_factory=lambda: ["1", "2", "3", "4", "5", "6"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    student: dict[str, Any] = field(default_factory=dict)  # a TrainConfig (task distill); loss = row preset
    loss_overrides: dict[str, Any] = field(default_factory=dict)  # applied on top of every row's preset
    teacher: TeacherSpec = field(default_factory=TeacherSpec)
    eval: dict[str, EvalSet] = field(default_factory=dict)
    out_dir: str = "runs/ablation"
    results: str = "docs/results/ablation.md"

    def __post_init__(self) -> None:
        self.rows = [str(r) for r in self.rows]
        for r in self.rows:
            ABLATION_ROWS.get(r)
        self.eval = {k: v if isinstance(v, EvalSet) else from_dict(EvalSet, v) for k, v in self.eval.items()}
        if len(self.seeds) < 1 or not self.eval:
            raise ValueError("the ablation needs at least one seed and one eval set")


def load_ablation_config(path: str | Path, overrides: list[str] | None = None) -> AblationConfig:
    d = yaml.safe_load(Path(path).read_text()) or {}
    return from_dict(AblationConfig, apply_overrides(d, list(overrides or [])))


def row_config(cfg: AblationConfig, row: str, seed: int, teacher_ckpt: str) -> TrainConfig:
    """The distillation config of one (row, seed) run."""
    d = copy.deepcopy(cfg.student)
    d.update(task="distill", teacher_checkpoint=teacher_ckpt)
    d["loss"] = to_dict(LossConfig.ablation_row(row, **cfg.loss_overrides))
    d.setdefault("train", {}).update(seed=int(seed), run_dir=str(Path(cfg.out_dir) / f"row{row}_seed{seed}"))
    d.setdefault("val", {})["every"] = 0
    return TrainConfig.from_dict(d)


def ensure_teacher(cfg: AblationConfig) -> tuple[str, float]:
    """Path of the shared teacher (trained here unless it exists) and the seconds spent training it."""
    from adu_depth_core.train.config import load_train_config
    from adu_depth_core.train.runner import train

    if cfg.teacher.checkpoint:
        return cfg.teacher.checkpoint, 0.0
    tcfg = load_train_config(cfg.teacher.config, [*cfg.teacher.overrides, "task=teacher"])
    final = Path(tcfg.train.run_dir) / "model.pt"
    if final.is_file():
        print(f"ablation: reusing the teacher {final}")
        return str(final), 0.0
    resume = "auto" if (Path(tcfg.train.run_dir) / "checkpoints" / "last.pt").is_file() else None
    t0 = time.perf_counter()
    return str(train(tcfg, resume=resume)), time.perf_counter() - t0


def evaluate_checkpoint(path: str | Path, cfg: AblationConfig) -> dict[str, dict[str, float]]:
    """Mean metrics of a checkpoint on every eval set."""
    from adu_depth_core.data import build_reader
    from adu_depth_core.models import load_model
    from adu_depth_core.stereo import aspect_input_size
    from adu_depth_core.train.evaluate import EvalOptions, evaluate_model

    model, card = load_model(path)
    out = {}
    for name, es in cfg.eval.items():
        reader = build_reader(es.dataset, output_size=(card.input_height, card.input_width), **es.kwargs)
        n = min(es.num_images, len(reader))
        samples = [reader[i] for i in range(n)]
        if card.arch == "teacher" and samples[0].right is None:
            continue  # a monocular-only set (e.g. KITTI object frames without image_3): no teacher score
        card_hw = (card.input_height, card.input_width)
        opts = EvalOptions(
            input_hw=aspect_input_size(card_hw, samples[0].left.shape[:2]) if es.aspect_input else None,
            crop=es.crop,
            min_depth_m=card.min_depth_m,
            max_depth_m=card.max_depth_m,
            median_scaling=es.median_scaling,
            figures=0,
        )
        out[name] = evaluate_model(model, card, samples, opts, progress=False).mean
    return out


def run_one(cfg: AblationConfig, row: str, seed: int, teacher_ckpt: str) -> dict[str, Any]:
    """Train + evaluate one (row, seed), or load its finished metrics.json."""
    from adu_depth_core.train.runner import train

    tcfg = row_config(cfg, row, seed, teacher_ckpt)
    done = Path(tcfg.train.run_dir) / "metrics.json"
    if done.is_file():
        return json.loads(done.read_text())
    resume = "auto" if (Path(tcfg.train.run_dir) / "checkpoints" / "last.pt").is_file() else None
    t0 = time.perf_counter()
    model_path = train(tcfg, resume=resume)
    t_train = time.perf_counter() - t0
    result = {
        "row": row,
        "seed": seed,
        "train_s": t_train,
        "eval": evaluate_checkpoint(model_path, cfg),
        "eval_s": time.perf_counter() - t0 - t_train,
    }
    report.write_text(done, json.dumps(result, indent=2))
    shutil.rmtree(Path(tcfg.train.run_dir) / "checkpoints", ignore_errors=True)  # model.pt stays
    return result


def run_ablation(cfg: AblationConfig, command: str = "") -> Path:
    """Every row x seed, the teacher's own scores, then the markdown table; returns its path."""
    t0 = time.perf_counter()
    teacher_ckpt, teacher_s = ensure_teacher(cfg)
    results = [run_one(cfg, r, s, teacher_ckpt) for s in cfg.seeds for r in cfg.rows]
    teacher_eval = evaluate_checkpoint(teacher_ckpt, cfg)
    wall_s = time.perf_counter() - t0
    return write_results(
        cfg, results, teacher_eval, teacher_ckpt, {"wall_s": wall_s, "teacher_train_s": teacher_s}, command
    )


def summarise(results: list[dict], rows: list[str], set_name: str) -> dict[str, tuple[dict, dict]]:
    """Row -> (mean, std) over seeds of one eval set."""
    return {r: report.mean_std([x["eval"][set_name] for x in results if x["row"] == r]) for r in rows}


def relative_abs_rel(summary: dict[str, tuple[dict, dict]], teacher: dict[str, float] | None) -> list[str]:
    """Sentences comparing the full ADU-Depth row's AbsRel with GT-only and with the teacher."""
    if "6" not in summary:
        return []
    full = summary["6"][0]["abs_rel"]
    lines = []
    if "1" in summary:
        gt_only = summary["1"][0]["abs_rel"]
        lines.append(
            f"full ADU-Depth AbsRel / GT-only AbsRel = {full:.4f} / {gt_only:.4f} = "
            f"{full / gt_only:.3f} ({100 * (full / gt_only - 1):+.1f} %)"
        )
    if teacher is None:
        return lines
    lines.append(
        f"full ADU-Depth AbsRel / teacher AbsRel = {full:.4f} / {teacher['abs_rel']:.4f} = "
        f"{full / teacher['abs_rel']:.3f}"
    )
    if "1" in summary and summary["1"][0]["abs_rel"] != teacher["abs_rel"]:
        gt_only = summary["1"][0]["abs_rel"]
        closed = (gt_only - full) / (gt_only - teacher["abs_rel"])
        lines.append(
            f"share of the GT-only student -> teacher AbsRel gap closed by full ADU-Depth: {100 * closed:.0f} %"
        )
    return lines


def write_results(cfg, results, teacher_eval, teacher_ckpt, timing, command) -> Path:
    """ablation.md (tables per eval set), ablation_runs.csv (every run) and ablation_config.yaml beside it."""
    out = Path(cfg.results)
    lines = [
        "# Ablation (docs/method.md rows 1-6 + teacher)",
        "",
        f"- command: `{command}`" if command else "- command: (library call)",
        f"- seeds: {cfg.seeds}; rows: {cfg.rows}; one teacher shared by all rows and seeds: `{teacher_ckpt}`",
        *(
            [f"- loss overrides on top of every row's preset: `{cfg.loss_overrides}`"]
            if cfg.loss_overrides
            else []
        ),
        f"- wall time of this invocation: {timing['wall_s'] / 60:.1f} min "
        f"(teacher training in it: {timing['teacher_train_s'] / 60:.1f} min); "
        f"student training + eval summed over runs: {sum(r['train_s'] + r['eval_s'] for r in results) / 60:.1f} min",
        f"- config: `{out.with_name(out.stem + '_config.yaml').name}`; every run: "
        f"`{out.with_name(out.stem + '_runs.csv').name}`",
        "",
    ]
    for name, es in cfg.eval.items():
        summary = summarise(results, cfg.rows, name)
        table = [(ROW_NAMES[r], *summary[r]) for r in cfg.rows]
        if name in teacher_eval:
            table.append((ROW_NAMES["teacher"], teacher_eval[name], None))
        n_img = es.num_images if es.dataset != "middlebury" else 1
        lines += [
            f"## {name}: {es.dataset} {es.kwargs or ''} ({n_img} image(s)"
            f"{', median-scaled' if es.median_scaling else ''}), mean ± std over {len(cfg.seeds)} seeds",
            "",
            report.markdown_table(table, report.COLUMNS, first_header="row"),
            "",
        ]
        lines += [f"- {s}" for s in relative_abs_rel(summary, teacher_eval.get(name))] + [""]
    report.write_text(out, "\n".join(lines))
    rows = [
        {"row": r["row"], "seed": r["seed"], "set": k, "train_s": r["train_s"], **m}
        for r in results
        for k, m in r["eval"].items()
    ]
    rows += [{"row": "teacher", "seed": "", "set": k, **m} for k, m in teacher_eval.items()]
    report.write_csv(out.with_name(out.stem + "_runs.csv"), rows)
    save_yaml(cfg, out.with_name(out.stem + "_config.yaml"))
    return out
