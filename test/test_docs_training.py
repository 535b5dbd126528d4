"""Documented training and evaluation commands resolve to configs the code accepts and name real reader
arguments (the command parsing helpers are test_docs.py's)."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml
from test_docs import DOCS, ROOT, _adu_depth_calls, _fences, _subparsers


def _reader_arguments() -> dict[str, set[str]]:
    """Dataset name -> keyword arguments of its reader class, read from the sources with ast."""
    tree = ast.parse((ROOT / "adu_depth_core" / "data" / "datasets.py").read_text())
    out = {}
    for fn in tree.body:
        if not (isinstance(fn, ast.FunctionDef) and fn.decorator_list):
            continue
        name = fn.decorator_list[0].args[0].value
        imp = next(n for n in ast.walk(fn) if isinstance(n, ast.ImportFrom))
        source = ROOT / Path(*imp.module.split(".")).with_suffix(".py")
        classes = [n for n in ast.parse(source.read_text()).body if isinstance(n, ast.ClassDef)]
        cls = next(c for c in classes if c.name == imp.names[0].name)
        init = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
        out[name] = {a.arg for a in init.args.args[1:] + init.args.kwonlyargs}
    return out


def _yaml_configs(page: str) -> list[dict]:
    """The training configs a page writes out as ```yaml blocks."""
    text = (DOCS / page).read_text()
    blocks = [yaml.safe_load(body) for info, body in _fences(text) if info.strip() == "yaml"]
    return [b for b in blocks if isinstance(b, dict) and "task" in b]


def _reader_problems(where: str, dataset: str, kwargs: dict, extra: frozenset = frozenset()) -> list[str]:
    known = _reader_arguments().get(dataset)
    if known is None:
        return [f"{where}: no dataset '{dataset}' in the data registry"]
    return [f"{where}: {dataset} has no argument '{k}'" for k in kwargs if k not in known | extra]


def test_reader_check_catches_unknown_arguments():
    assert "split_file" in _reader_arguments()["kitti_eigen"]
    assert _reader_problems("x", "kitti_eigen", {"root": 1, "split": 2}) == [
        "x: kitti_eigen has no argument 'split'"
    ]
    assert _reader_problems("x", "kitty", {}) == ["x: no dataset 'kitty' in the data registry"]


def test_training_commands_give_valid_configs():
    """Every train-teacher / distill / ablation command resolves to a config the code accepts."""
    from adu_depth_core.train.ablation import load_ablation_config
    from adu_depth_core.train.config import load_train_config

    parsers, problems, checked = _subparsers(), [], 0
    train_extra = frozenset({"augment", "skip_bad"})  # build_dataset's own keys in data.kwargs
    for page, sub, rest in _adu_depth_calls(fenced_only=True):
        if sub not in ("train-teacher", "distill", "ablation"):
            continue
        args = parsers[sub].parse_args(rest)
        if args.config is None:
            continue  # --resume CKPT alone: the checkpoint's own config
        if sub == "ablation":
            load_ablation_config(ROOT / args.config, args.overrides)
            checked += 1
            continue
        extra = [f"train.run_dir={args.run_dir}"] if args.run_dir else []
        extra += [f"teacher_checkpoint={args.teacher}"] if getattr(args, "teacher", None) else []
        overrides = [*args.overrides, *extra, f"task={'teacher' if sub == 'train-teacher' else 'distill'}"]
        if (ROOT / args.config).is_file():
            cfg = load_train_config(ROOT / args.config, overrides)
        else:  # a config the page writes out as a ```yaml block
            snippets = _yaml_configs(page)
            assert snippets, f"{page}: --config {args.config} is neither in the repository nor on the page"
            cfg = load_train_config(None, overrides, **snippets[0])
        where = f"{page}: adu-depth {sub} --config {args.config}"
        problems += _reader_problems(where, cfg.data.dataset, cfg.data.kwargs, train_extra)
        if cfg.val.every > 0:
            problems += _reader_problems(where + " (val)", cfg.val.dataset, cfg.val.kwargs)
        checked += 1
    assert checked >= 15 and problems == []


def test_eval_commands_name_real_reader_arguments():
    from adu_depth_core.train.evaluate import parse_kv

    parsers, problems, checked = _subparsers(), [], 0
    for page, sub, rest in _adu_depth_calls(fenced_only=True):
        if sub == "eval":
            args = parsers[sub].parse_args(rest)
            problems += _reader_problems(f"{page}: eval", args.dataset, parse_kv(args.data_kwargs))
            checked += 1
    assert checked >= 5 and problems == []
