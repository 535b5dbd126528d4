"""One depth node per camera, each in the camera's namespace, all sharing one parameter file.

    ros2 launch adu_depth_ros multi_camera.launch.py cameras:=front,left,right

Camera ``c`` is read from ``/<c>/<image_suffix>`` and ``/<c>/<camera_info_suffix>``
and its outputs appear as ``/<c>/depth``, ``/<c>/points``, ... The parameter file
uses ``/**`` so it applies to every instance; give per-camera values with a
second file or by launching depth.launch.py once per camera.
"""

# ruff: noqa: I001  (ruff takes the repo's launch/ folder for the `launch` package)
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

PACKAGE = "adu_depth_ros"
SINGLE = "depth.launch.py"
PASS_THROUGH = ("params_file", "model_path", "backend", "device", "precision", "use_compressed", "record")

ARGUMENTS = (
    ("cameras", "front,left,right", "Comma-separated camera names; each becomes a namespace"),
    ("image_suffix", "image_raw", "Image topic inside each camera's namespace"),
    ("camera_info_suffix", "camera_info", "camera_info topic inside each camera's namespace"),
    ("params_file", "", "YAML parameter file for every node; empty = the package's config/depth.yaml"),
    ("model_path", "", "Model file or 'default'; empty = keep the params_file value"),
    ("backend", "", "auto, tensorrt, onnxruntime or torch; empty = keep the params_file value"),
    ("device", "", "auto, cpu, cuda or cuda:N; empty = keep the params_file value"),
    ("precision", "", "fp32, fp16 or int8; empty = keep the params_file value"),
    ("use_compressed", "", "true: subscribe to '<image topic>/compressed'; empty = keep the params_file value"),
    ("record", "false", "true: one MCAP recording per camera, in '<bag_prefix>_<camera>'"),
    ("bag_prefix", "depth", "Prefix of the per-camera recording folders"),
)  # fmt: skip


def _camera_names(text: str) -> list:
    """'front, left,,right' -> ['front', 'left', 'right'] (order kept, duplicates refused)."""
    names = [c.strip().strip("/") for c in text.split(",") if c.strip().strip("/")]
    if len(set(names)) != len(names):
        raise ValueError(f"cameras contains duplicates: {text}")
    return names


def _camera_arguments(camera: str, values: dict) -> dict:
    """depth.launch.py arguments for one camera."""
    args = {k: values[k] for k in PASS_THROUGH}
    args.update(
        namespace=camera,
        image_topic=f"/{camera}/{values['image_suffix']}",
        camera_info_topic=f"/{camera}/{values['camera_info_suffix']}",
        bag_path=f"{values['bag_prefix']}_{camera}",
    )
    return args


def _launch_setup(context, *args, **kwargs):
    values = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    single = PathJoinSubstitution([FindPackageShare(PACKAGE), "launch", SINGLE])
    return [  # a scoped group per camera, so one camera's arguments never leak into the next
        GroupAction(
            [
                IncludeLaunchDescription(
                    PythonLaunchDescriptionSource(single),
                    launch_arguments=list(_camera_arguments(camera, values).items()),
                )
            ],
            scoped=True,
        )
        for camera in _camera_names(values["cameras"])
    ]


def generate_launch_description() -> LaunchDescription:
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=desc)
        for name, default, desc in ARGUMENTS
    ]
    return LaunchDescription([*declared, OpaqueFunction(function=_launch_setup)])
