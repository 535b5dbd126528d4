"""The launch files, tested as far as this machine allows (ROS 2 `launch` is not installable here).

1. Static: parse them with ``ast``: every argument is declared with a description,
   every LaunchConfiguration / ``values[...]`` names a declared argument, and the
   package, executable, parameter file, parameters, remappings and output topics
   they name exist and agree with the package.
2. Their pure helper functions (topic resolution, remappings, record topics) are
   lifted out of the file and run.
3. The node is started in a subprocess exactly as depth.launch.py would start
   it (same parameter file, namespace and remappings) and must answer.
4. A full ``launch`` run, which skips with a reason here.
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SINGLE = ROOT / "launch" / "depth.launch.py"
MULTI = ROOT / "launch" / "multi_camera.launch.py"
CONFIG = ROOT / "config" / "depth.yaml"


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _constants(tree: ast.Module) -> dict:
    """Module-level NAME = <literal> assignments."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            with contextlib.suppress(ValueError):
                out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


def _helpers(path: Path) -> dict:
    """Exec the file's literal constants and pure helper functions (everything not touching `launch`)."""
    tree = _tree(path)
    keep = [n for n in tree.body if isinstance(n, ast.Assign) and _is_literal(n.value)]
    keep += [
        n
        for n in tree.body
        if isinstance(n, ast.FunctionDef) and n.name.startswith("_") and n.name != "_launch_setup"
    ]
    namespace: dict = {}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(path), "exec"), namespace)
    return namespace


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except ValueError:
        return False


def _calls(tree: ast.Module, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == name]


def _package_name() -> str:
    return re.search(r"<name>([^<]+)</name>", (ROOT / "package.xml").read_text()).group(1)


def _console_scripts() -> set[str]:
    text = (ROOT / "setup.py").read_text()
    return set(re.findall(r'"([\w-]+) = [\w.]+:\w+"', text))


@pytest.mark.parametrize("path", [SINGLE, MULTI], ids=["depth", "multi_camera"])
def test_every_argument_is_declared_with_a_description(path):
    tree = _tree(path)
    args = _constants(tree)["ARGUMENTS"]
    names = [a[0] for a in args]
    assert len(names) == len(set(names))
    for name, default, desc in args:
        assert isinstance(default, str) and isinstance(desc, str) and len(desc) > 10, name
    (declare,) = _calls(tree, "DeclareLaunchArgument")
    assert {k.arg for k in declare.keywords} == {"default_value", "description"}
    assert "generate_launch_description" in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    for call in _calls(
        tree, "LaunchConfiguration"
    ):  # literal names must be declared; others loop over ARGUMENTS
        (arg,) = call.args
        if isinstance(arg, ast.Constant):
            assert arg.value in names
    loops = [
        c
        for c in ast.walk(tree)
        if isinstance(c, ast.comprehension) and getattr(c.iter, "id", None) == "ARGUMENTS"
    ]
    assert len(loops) == 2  # one declares every argument, one reads every argument
    for sub in (
        n for n in ast.walk(tree) if isinstance(n, ast.Subscript) and getattr(n.value, "id", None) == "values"
    ):
        if isinstance(sub.slice, ast.Constant):
            assert sub.slice.value in names, ast.unparse(sub)
    const = _constants(tree)  # tuples whose members are read in loops (values[k] for k in ...)
    for group in ("MODEL_OVERRIDES", "PASS_THROUGH"):
        assert set(const.get(group, ())) <= set(names), group


def test_depth_launch_names_what_the_package_has():
    from adu_depth_ros.node_base import OUTPUT_TOPICS
    from adu_depth_ros.params import SPECS

    tree = _tree(SINGLE)
    const = _constants(tree)
    assert const["PACKAGE"] == _package_name()
    assert const["EXECUTABLE"] in _console_scripts()
    (node,) = _calls(tree, "Node")
    kw = {k.arg: ast.unparse(k.value) for k in node.keywords}
    assert kw["package"] == "PACKAGE" and kw["executable"] == "EXECUTABLE"
    assert {"parameters", "remappings", "namespace", "name"} <= set(kw)
    (share_path,) = _calls(
        tree, "PathJoinSubstitution"
    )  # FindPackageShare(PACKAGE) / "config" / "depth.yaml"
    parts = [ast.literal_eval(e) for e in share_path.args[0].elts[1:]]
    assert ROOT.joinpath(*parts) == CONFIG and CONFIG.is_file()
    assert 'glob("config/*.yaml")' in (ROOT / "setup.py").read_text()  # installed to share/<pkg>/config
    assert 'glob("launch/*.py")' in (ROOT / "setup.py").read_text()
    assert set(const["MODEL_OVERRIDES"]) <= set(SPECS)
    assert set(const["OUTPUT_TOPICS"]) == {topic for _, topic, _ in OUTPUT_TOPICS.values()}
    (record,) = _calls(tree, "ExecuteProcess")
    assert ast.unparse(record).startswith("ExecuteProcess(cmd=['ros2', 'bag', 'record', '-s', 'mcap'")


def test_depth_launch_helpers():
    from adu_depth_ros.node_base import INPUT_TOPICS
    from adu_depth_ros.params import SPECS

    h = _helpers(SINGLE)
    assert {src for src, _ in h["_remappings"]("/a", "/b")} == set(INPUT_TOPICS)  # every input the node reads
    assert h["_resolve"]("", "depth") == "/depth"
    assert h["_resolve"]("/front/", "depth/camera_info") == "/front/depth/camera_info"
    assert h["_resolve"]("front", "/cam/image_raw") == "/cam/image_raw"
    assert h["_remappings"]("/cam/image_raw", "/cam/camera_info") == [
        ("image", "/cam/image_raw"),
        ("image/compressed", "/cam/image_raw/compressed"),
        ("camera_info", "/cam/camera_info"),
    ]
    topics = h["_record_topics"]("front", "/front/image_raw", "/front/camera_info", True)
    assert topics[:2] == ["/front/image_raw/compressed", "/front/camera_info"]
    assert "/front/points" in topics and "/front/depth/uncertainty" in topics and topics[-1] == "/diagnostics"
    defaults = {name: default for name, default, _ in h["ARGUMENTS"]}
    assert h["_overrides"](defaults) == {}  # empty arguments keep the params file (use_compressed too)
    assert h["_overrides"]({**defaults, "use_compressed": "false"}) == {"use_compressed": False}
    over = h["_overrides"](
        {**defaults, "model_path": "m.onnx", "backend": "onnxruntime", "use_compressed": "True"}
    )
    assert over == {"model_path": "m.onnx", "backend": "onnxruntime", "use_compressed": True}
    assert set(over) <= set(SPECS)


def test_use_compressed_comes_from_the_params_file_unless_given(tmp_path):
    """Issue 17: the launch file overrode the params file's use_compressed with its own default."""
    h = _helpers(SINGLE)
    defaults = {name: default for name, default, _ in h["ARGUMENTS"]}
    compressed = tmp_path / "compressed.yaml"
    compressed.write_text("/**:\n  ros__parameters:\n    use_compressed: true\n")
    assert "use_compressed" not in h["_overrides"](defaults)
    assert h["_uses_compressed"](defaults, str(compressed)) is True  # what gets recorded follows the file
    assert h["_uses_compressed"](defaults, str(CONFIG)) is False
    assert h["_uses_compressed"]({**defaults, "use_compressed": "false"}, str(compressed)) is False
    assert h["_uses_compressed"]({**defaults, "use_compressed": "true"}, str(CONFIG)) is True
    assert h["_uses_compressed"](defaults, str(tmp_path / "missing.yaml")) is False


def test_multi_camera_launch_passes_only_known_arguments():
    single_args = {a[0] for a in _constants(_tree(SINGLE))["ARGUMENTS"]}
    h = _helpers(MULTI)
    assert (ROOT / "launch" / h["SINGLE"]).is_file()
    assert h["_camera_names"](" front, /left/,,right ") == ["front", "left", "right"]
    with pytest.raises(ValueError, match="duplicates"):
        h["_camera_names"]("front,front")
    values = {name: default for name, default, _ in h["ARGUMENTS"]}
    args = h["_camera_arguments"]("left", values)
    assert set(args) <= single_args
    assert (
        args["namespace"] == "left"
        and args["image_topic"] == "/left/image_raw"
        and args["bag_path"] == "depth_left"
    )


def _node_command(ckpt: Path, namespace: str, image_topic: str, info_topic: str) -> list[str]:
    """depth_node with the arguments, parameters and remappings depth.launch.py would give it."""
    h = _helpers(SINGLE)
    values = {name: default for name, default, _ in h["ARGUMENTS"]}
    values.update(
        model_path=str(ckpt), namespace=namespace, image_topic=image_topic, camera_info_topic=info_topic
    )
    cmd = [
        sys.executable,
        "-c",
        "import sys; from adu_depth_ros.depth_node import main; sys.exit(main(sys.argv))",
    ]
    cmd += h["_node_arguments"](values)  # --shm-segment-mb 32 --ros-args --log-level info
    cmd += ["-r", "__node:=depth_node", "-r", f"__ns:=/{namespace}", "--params-file", str(CONFIG)]
    for src, dst in h["_remappings"](image_topic, info_topic):
        cmd += ["-r", f"{src}:={dst}"]
    for key, value in h["_overrides"](values).items():
        cmd += ["-p", f"{key}:={str(value).lower() if isinstance(value, bool) else value}"]
    return cmd


@pytest.mark.ros
def test_node_started_like_the_launch_file_works(tiny_student_ckpt, tmp_path):
    from adu_depth_ros.testing import (
        Probe,
        free_domain_id,
        gradient_image,
        make_camera_info,
        ros_context,
        spinning,
    )

    domain = free_domain_id(salt=71)
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    env["ADU_DEPTH_CACHE"] = str(tmp_path)  # where the node writes its Fast DDS profile
    for key in ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_BUILTIN_TRANSPORTS", "RMW_IMPLEMENTATION"):
        env.pop(key, None)
    cmd = _node_command(tiny_student_ckpt, "front", "/front/image_raw", "/front/camera_info")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with ros_context(domain) as ctx:
            probe = Probe(
                ctx, namespace="front", image_topic="/front/image_raw", info_topic="/front/camera_info"
            )
            with spinning(ctx, probe):
                info = make_camera_info(64, 48, 50.0, 50.0, 32.0, 24.0)
                got = probe.request(
                    gradient_image(48, 64), info, ["depth", "depth/camera_info", "points"], timeout_s=60
                )
                assert got["depth"].encoding == "32FC1" and got["points"].height == 48
                subs = dict(probe.get_subscriber_names_and_types_by_node("depth_node", "/front"))
                assert {"/front/image_raw", "/front/camera_info"} <= set(subs)
            probe.destroy_node()
    finally:
        proc.send_signal(2)
        out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, out
    assert f"Fast DDS shared-memory segment 32 MB ({tmp_path / 'fastdds_shm_32mb.xml'})" in out
    assert "<segment_size>33554432</segment_size>" in (tmp_path / "fastdds_shm_32mb.xml").read_text()


@pytest.mark.launch
@pytest.mark.ros
def test_full_launch(tiny_student_ckpt, tmp_path):
    """Under real ROS 2 `launch` (a ROS install with this package built): the node comes up and answers."""
    import threading

    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    from adu_depth_ros.testing import (
        Probe,
        free_domain_id,
        gradient_image,
        make_camera_info,
        ros_context,
        spinning,
    )
    from launch import LaunchDescription, LaunchService

    domain = free_domain_id(salt=89)
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"  # the launched node and the probe alike
    args = {
        "namespace": "lt",
        "params_file": str(CONFIG),
        "model_path": str(tiny_student_ckpt),
        "image_topic": "/lt/image_raw",
        "camera_info_topic": "/lt/camera_info",
    }
    include = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(SINGLE)), launch_arguments=args.items()
    )
    service = LaunchService()
    service.include_launch_description(LaunchDescription([include]))
    runner = threading.Thread(target=service.run, daemon=True)
    runner.start()
    try:
        with ros_context(domain) as ctx:
            probe = Probe(ctx, namespace="lt", image_topic="/lt/image_raw", info_topic="/lt/camera_info")
            with spinning(ctx, probe):
                got = probe.request(
                    gradient_image(48, 64),
                    make_camera_info(64, 48, 50.0, 50.0, 32.0, 24.0),
                    ["depth"],
                    timeout_s=60,
                )
                assert got["depth"].encoding == "32FC1"
            probe.destroy_node()
    finally:
        service.shutdown()
        runner.join(timeout=30)


def test_node_arguments_from_launch_values():
    h = _helpers(SINGLE)
    defaults = {name: default for name, default, _ in h["ARGUMENTS"]}
    assert h["_node_arguments"](defaults) == ["--shm-segment-mb", "32", "--ros-args", "--log-level", "info"]
    args = h["_node_arguments"](
        {**defaults, "lifecycle": "true", "shm_segment_mb": "0", "log_level": "debug"}
    )
    assert args == ["--lifecycle", "--ros-args", "--log-level", "debug"]
    from adu_depth_ros.depth_node import _parse

    opts = _parse(["depth_node", *h["_node_arguments"]({**defaults, "lifecycle": "true"}), "-r", "image:=/x"])
    assert opts.lifecycle and opts.shm_segment_mb == 32  # the node accepts exactly what launch passes
