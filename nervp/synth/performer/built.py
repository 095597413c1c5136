"""The built performer: its rest geometry and materials, and how it is posed at an instant."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nervp.face import HeadModel, pose_matrix, shape
from nervp.face.mesh_ops import Subdivision, vertex_normals
from nervp.synth.appearance import Appearance
from nervp.synth.performer.materials import eye_albedo
from nervp.synth.render_olat import PosedMesh

PARTS = ("face", "skirt", "cranium", "hair", "ear_left", "ear_right", "eye_left", "eye_right",
         "mouth", "teeth_upper", "teeth_lower", "tongue", "neck", "torso")
"""The parts of a performer, in the order of their vertices."""

SHADOW_BOUND_OFFSET_M = (0.0, -0.08, 0.02)
"""Centre of the shadow casters' bounding sphere relative to the cranium's mean vertex..."""
SHADOW_BOUND_RADIUS_M = 0.36
"""...and its radius."""


@dataclass(frozen=True)
class PerformerConfig:
    """How a performer is built (the seed picks who it is)."""

    seed: int = 0
    """Identity seed: skin tone, face shape, hair, eyes and clothing."""
    face_subdivisions: int = 2
    """Loop subdivision levels of the 468-point face (each level ~4x the triangles)."""
    detail: float = 1.0
    """Scale of the fine displacement (pores, wrinkles); 0 = smooth."""


@dataclass(frozen=True)
class Performer:
    """A built performer; `posed(theta, phi)` gives its mesh at an instant.

    Attributes:
        appearance: who it is. model: the head model. beta: (n_id,) identity.
        sub: subdivision of the face. face_detail: (Vf, 3) fine displacement of the face (m).
        rest: (V, 3) rest positions of every vertex (face rows recomputed each instant).
        faces: (F, 3) int64. part: (V,) int64 index into PARTS. head_weight: (V,) how much a
        vertex follows the head pose. albedo (V, 3), roughness, f0, sss (V,): base materials.
        skirt_src: (S,) face-vertex index each skirt vertex follows; skirt_off: (S, 3) its offset.
        eye_dir: (Ve, 3) unit rest directions of eyeball vertices from their centre.
        eye_centers: (2, 3) eyeball centres (left, right) of this identity.
        jaw_anchor: landmark index the lower teeth and tongue follow.
    """

    appearance: Appearance
    model: HeadModel
    beta: Tensor
    sub: Subdivision
    face_detail: Tensor
    rest: Tensor
    faces: Tensor
    shadow_faces: Tensor
    part: Tensor
    head_weight: Tensor
    albedo: Tensor
    roughness: Tensor
    f0: Tensor
    sss: Tensor
    skirt_src: Tensor
    skirt_off: Tensor
    eye_dir: Tensor
    eye_centers: Tensor
    jaw_anchor: int
    rest_landmarks: Tensor

    def part_slice(self, name: str) -> Tensor:
        return torch.nonzero(self.part == PARTS.index(name)).squeeze(1)

    def landmarks(self, theta: Tensor, phi: Tensor) -> Tensor:
        """(478, 3) world landmarks G(β, θ, φ)."""
        R, t = pose_matrix(theta[None])
        return shape(self.model, self.beta[None], phi[None])[0] @ R[0].T + t[0]

    def posed(self, theta: Tensor, phi: Tensor) -> PosedMesh:
        """The mesh at head pose θ (6,) and expression φ (n_expr,)."""
        lm = shape(self.model, self.beta[None], phi[None])[0]  # (478, 3) model space
        v = self.rest.clone()
        face_idx = self.part_slice("face")
        fine = self.sub.apply(lm) + self.face_detail
        v[face_idx] = fine
        sk = self.part_slice("skirt")
        v[sk] = fine[self.skirt_src] + self.skirt_off
        jaw = lm[self.jaw_anchor] - self.rest_landmarks[self.jaw_anchor]
        for name in ("teeth_lower", "tongue"):
            idx = self.part_slice(name)
            v[idx] = v[idx] + jaw
        R, t = pose_matrix(theta[None])
        w = self.head_weight.unsqueeze(-1)
        v = w * (v @ R[0].T + t[0]) + (1 - w) * v
        faces = self.faces
        normals = vertex_normals(v[None], faces)[0]
        albedo = self.albedo.clone()
        eyes = torch.cat([self.part_slice("eye_left"), self.part_slice("eye_right")])
        albedo[eyes] = self._eye_albedo(lm)
        head = self.part == PARTS.index("cranium")
        centre = v[head].mean(0) + torch.tensor(SHADOW_BOUND_OFFSET_M)
        return PosedMesh(v, faces, normals, albedo, self.roughness, self.f0, self.sss, self.shadow_faces,
                         centre, SHADOW_BOUND_RADIUS_M)

    def _eye_albedo(self, lm: Tensor) -> Tensor:
        """Albedo of both eyeballs with iris and pupil facing the model's iris landmarks."""
        g = self.model.groups
        out = []
        n_left = int((self.part == PARTS.index("eye_left")).sum())
        dirs = (self.eye_dir[:n_left], self.eye_dir[n_left:])
        for k, side in enumerate(("left", "right")):
            c = self.eye_centers[k]
            gaze = torch.nn.functional.normalize(lm[getattr(g, f"{side}_iris_center")] - c, dim=0)
            iris = torch.as_tensor(self.appearance.iris, dtype=torch.float32)
            out.append(eye_albedo(dirs[k], gaze, iris))
        return torch.cat(out)
