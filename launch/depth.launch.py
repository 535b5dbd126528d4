"""Launch the adu-depth depth node for one camera (optionally recording input and outputs to MCAP).

    ros2 launch adu_depth_ros depth.launch.py
    ros2 launch adu_depth_ros depth.launch.py namespace:=front image_topic:=/front/image_raw \\
        camera_info_topic:=/front/camera_info model_path:=/models/student.onnx backend:=onnxruntime
    ros2 launch adu_depth_ros depth.launch.py record:=true bag_path:=/tmp/run1

Parameters come from ``params_file`` (default: the installed config/depth.yaml,
written with ``/**`` so it applies under any namespace); ``model_path``,
``backend``, ``device``, ``precision`` and ``use_compressed`` override it only when given. The node
publishes relative topics (``depth``, ``depth/uncertainty``,
``depth/camera_info``, ``depth/color``, ``points``) inside ``namespace``; one
camera = one namespace (see multi_camera.launch.py).
"""

# ruff: noqa: I001  (ruff takes the repo's launch/ folder for the `launch` package)
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PACKAGE = "adu_depth_ros"
EXECUTABLE = "depth_node"
OUTPUT_TOPICS = ("depth", "depth/uncertainty", "depth/camera_info", "depth/color", "points")
MODEL_OVERRIDES = ("model_path", "backend", "device", "precision")

ARGUMENTS = (
    ("namespace", "", "Namespace of the node and its output topics (one per camera, e.g. 'front')"),
    ("node_name", "depth_node", "Name of the node"),
    ("params_file", "", "YAML parameter file; empty = the package's config/depth.yaml"),
    ("model_path", "", "Model file (.pt, .onnx, .engine) or 'default'; empty = keep the params_file value"),
    ("backend", "", "auto, tensorrt, onnxruntime or torch; empty = keep the params_file value"),
    ("device", "", "auto, cpu, cuda or cuda:N; empty = keep the params_file value"),
    ("precision", "", "fp32, fp16 or int8; empty = keep the params_file value"),
    ("image_topic", "/camera/image_raw", "Camera image topic (sensor_msgs/Image); with use_compressed, '<image_topic>/compressed' is used"),
    ("camera_info_topic", "/camera/camera_info", "Camera calibration topic (sensor_msgs/CameraInfo)"),
    ("use_compressed", "", "true: subscribe to '<image_topic>/compressed' (CompressedImage, jpeg/png); false: to '<image_topic>'; empty = keep the params_file value"),
    ("lifecycle", "false", "true: run the managed (lifecycle) node; configure and activate it with 'ros2 lifecycle set'"),
    ("log_level", "info", "Logging level of the node (debug, info, warn, error)"),
    ("shm_segment_mb", "32", "Fast DDS shared-memory segment of the node in MB, so 0.5-2 MB depth images and clouds skip UDP fragments (0 = middleware default; ignored with another RMW or your own Fast DDS profile)"),
    ("record", "false", "true: record input and output topics with 'ros2 bag record -s mcap'"),
    ("bag_path", "", "Output folder of the recording; empty = ros2 bag's timestamped default"),
)  # fmt: skip


def _is_true(text: str) -> bool:
    return text.strip().lower() in ("true", "1", "yes", "on")


def _resolve(namespace: str, topic: str) -> str:
    """A topic name as the node in ``namespace`` sees it (absolute names stay as they are)."""
    if topic.startswith("/"):
        return topic
    ns = "/" + namespace.strip("/") if namespace.strip("/") else ""
    return f"{ns}/{topic}"


def _remappings(image_topic: str, camera_info_topic: str) -> list:
    """The node's relative input names -> the camera's topics."""
    return [
        ("image", image_topic),
        ("image/compressed", image_topic.rstrip("/") + "/compressed"),
        ("camera_info", camera_info_topic),
    ]


def _record_topics(namespace: str, image_topic: str, camera_info_topic: str, use_compressed: bool) -> list:
    """Every topic the node reads or writes, as absolute names, plus /diagnostics."""
    image = image_topic.rstrip("/") + "/compressed" if use_compressed else image_topic
    inputs = [_resolve(namespace, image), _resolve(namespace, camera_info_topic)]
    return inputs + [_resolve(namespace, t) for t in OUTPUT_TOPICS] + ["/diagnostics"]


def _node_arguments(values: dict) -> list:
    """Command-line arguments of depth_node (its own flags, then the log level)."""
    args = ["--lifecycle"] if _is_true(values["lifecycle"]) else []
    if int(values["shm_segment_mb"] or 0) > 0:
        args += ["--shm-segment-mb", str(int(values["shm_segment_mb"]))]
    return args + ["--ros-args", "--log-level", values["log_level"]]


def _overrides(values: dict) -> dict:
    """Parameters given on the command line; empty strings leave the params_file value alone."""
    out = {k: values[k] for k in MODEL_OVERRIDES if values.get(k)}
    if values.get("use_compressed", "").strip():
        out["use_compressed"] = _is_true(values["use_compressed"])
    return out


def _file_uses_compressed(params_file: str) -> bool:
    """``use_compressed`` as the parameter file sets it for any node (False when absent or unreadable)."""
    import yaml

    try:
        with open(params_file) as f:
            doc = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError):
        return False
    sections = doc.values() if isinstance(doc, dict) else ()
    params = [s.get("ros__parameters", {}) for s in sections if isinstance(s, dict)]
    return any(isinstance(p, dict) and p.get("use_compressed") is True for p in params)


def _uses_compressed(values: dict, params_file: str) -> bool:
    """Whether the node will read '<image_topic>/compressed': the argument if given, else the params file."""
    given = values.get("use_compressed", "").strip()
    return _is_true(given) if given else _file_uses_compressed(params_file)


def _launch_setup(context, *args, **kwargs):
    values = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    params_file = values["params_file"] or PathJoinSubstitution(
        [FindPackageShare(PACKAGE), "config", "depth.yaml"]
    ).perform(context)
    node = Node(
        package=PACKAGE,
        executable=EXECUTABLE,
        name=values["node_name"],
        namespace=values["namespace"],
        parameters=[params_file, _overrides(values)],
        remappings=_remappings(values["image_topic"], values["camera_info_topic"]),
        arguments=_node_arguments(values),
        output="screen",
        emulate_tty=True,
    )
    actions = [node]
    if _is_true(values["record"]):
        topics = _record_topics(
            values["namespace"],
            values["image_topic"],
            values["camera_info_topic"],
            _uses_compressed(values, params_file),
        )
        out = ["-o", values["bag_path"]] if values["bag_path"] else []
        actions.append(
            ExecuteProcess(cmd=["ros2", "bag", "record", "-s", "mcap", *out, *topics], output="screen")
        )
    return actions


def generate_launch_description() -> LaunchDescription:
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=desc)
        for name, default, desc in ARGUMENTS
    ]
    return LaunchDescription([*declared, OpaqueFunction(function=_launch_setup)])
