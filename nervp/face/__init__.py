"""Face stage: the head model G(β, θ, φ) on MediaPipe's 478-landmark topology and mesh tools."""

from nervp.face.headmodel import G, HeadModel, LandmarkGroups, load_head_model, pose_matrix, shape
from nervp.face.mesh_ops import (
    Subdivision,
    boundary_loops,
    face_normals,
    mesh_edges,
    subdivide,
    vertex_normals,
)

__all__ = [
    "G",
    "HeadModel",
    "LandmarkGroups",
    "Subdivision",
    "boundary_loops",
    "face_normals",
    "load_head_model",
    "mesh_edges",
    "pose_matrix",
    "shape",
    "subdivide",
    "vertex_normals",
]
