"""Random scene layouts for the synthetic generator, by name: "street" (car scale), "room" (indoor)
and "workshop" (close-range indoor clutter).

A layout takes a numpy Generator and the camera-height range to draw from (metres above the road or
floor; None = the layout's own range) and returns a SceneBuilder plus the light/sky/rig keywords of
SceneBuilder.build. Register new layouts in LAYOUTS.
"""

from __future__ import annotations

from adu_depth_core.data.layouts_room import room
from adu_depth_core.data.layouts_street import street
from adu_depth_core.data.layouts_workshop import workshop
from adu_depth_core.registry import Registry

LAYOUTS: Registry = Registry("scene layout")
# horizontal field of view (degrees) that each layout's training caches, selection scenes and the GPU
# recipe draw a random camera from (rooms start wider: a narrow lens indoors sees one wall)
TRAINING_HFOV_DEG = {"street": (40.0, 100.0), "room": (50.0, 100.0), "workshop": (40.0, 100.0)}
LAYOUTS.register("street")(street)
LAYOUTS.register("room")(room)
LAYOUTS.register("workshop")(workshop)
