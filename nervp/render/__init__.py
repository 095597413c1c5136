"""Rendering: cameras, the one rasterizer, attribute interpolation and shadow maps."""

from nervp.render.camera import Camera, intrinsics, look_at, make_camera, project, to_camera
from nervp.render.fragments import Fragments, interpolate
from nervp.render.rasterize import rasterize, rasterize_depth
from nervp.render.reference import rasterize_reference
from nervp.render.shadow import light_cameras, shadow_depth, visibility

__all__ = [
    "Camera",
    "Fragments",
    "interpolate",
    "intrinsics",
    "light_cameras",
    "look_at",
    "make_camera",
    "project",
    "rasterize",
    "rasterize_depth",
    "rasterize_reference",
    "shadow_depth",
    "to_camera",
    "visibility",
]
