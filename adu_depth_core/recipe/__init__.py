"""The frame recipe: image + camera in, output arrays out, shared by the depth node, bag-run and the demo."""

from adu_depth_core.recipe.frame import FrameArrays, FrameRecipe, check_camera, message_plan, resized_camera
from adu_depth_core.recipe.outputs import OUTPUTS, OutputSpec, RecipeConfig, output_topic

__all__ = [
    "OUTPUTS",
    "FrameArrays",
    "FrameRecipe",
    "OutputSpec",
    "RecipeConfig",
    "check_camera",
    "message_plan",
    "output_topic",
    "resized_camera",
]
