"""Build a performer from a seed: the head model's face plus every part it lacks, merged
into one mesh with per-vertex materials."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from nervp.face import HeadModel, LandmarkGroups, load_head_model, shape
from nervp.synth.appearance import Appearance, sample_appearance
from nervp.synth.meshes import Mesh, merge
from nervp.synth.performer.body import build_neck, build_torso, neck_head_weight
from nervp.synth.performer.built import PARTS, Performer, PerformerConfig
from nervp.synth.performer.features import Eyes, build_eyes, build_mouth
from nervp.synth.performer.head import (
    Skirt,
    build_cranium,
    build_ears,
    build_hair,
    build_skirt,
    eye_level,
    face_detail,
    face_subdivision,
    fit_cranium,
)
from nervp.synth.performer.materials import base_materials, paint_face, skin_mottle

SHADOWLESS_PARTS = ("eye_left", "eye_right", "mouth", "teeth_upper", "teeth_lower", "tongue")
"""Parts inside the head that cast no shadows worth their cost."""


@dataclass(frozen=True)
class Assembly:
    """All parts merged (face first, then the skirt, then `PARTS[2:]`).

    Attributes:
        verts: (V, 3) float64 rest positions (m). part: (V,) int64 index into PARTS.
        faces: (F, 3) int64 triangles. shadow_faces: (F', 3) int64 triangles that cast shadows.
    """

    verts: np.ndarray
    part: np.ndarray
    faces: np.ndarray
    shadow_faces: np.ndarray


def _assemble(face: Mesh, skirt: Skirt, others: dict[str, Mesh], coarse_faces: np.ndarray) -> Assembly:
    """Merge the face, the skirt and the other parts; `coarse_faces` (F'', 3) casts the face's shadows."""
    meshes = [face, Mesh(skirt.verts, np.zeros((0, 3), np.int64))] + [others[p] for p in PARTS[2:]]
    combined, part = merge(meshes)
    n_face = len(face.faces)
    # the skirt's triangles reference face and skirt vertices, which lie consecutively at the start
    faces = np.concatenate([combined.faces[:n_face], skirt.faces, combined.faces[n_face:]])
    body = combined.faces[n_face:]
    inner = np.isin(part[body[:, 0]], [PARTS.index(p) for p in SHADOWLESS_PARTS])
    shadow = np.concatenate([coarse_faces, skirt.faces, body[~inner]])
    return Assembly(combined.verts, part, faces, shadow)


def _coarse_face(model: HeadModel, levels: int, face_f: np.ndarray) -> np.ndarray:
    """Shadows are cast by a coarser face: one subdivision level less, over the same vertices
    (subdivision keeps each level's vertices first, so coarse indices stay valid)."""
    return face_subdivision(model, levels - 1).faces.numpy() if levels > 0 else face_f


def _other_parts(g: LandmarkGroups, app: Appearance, rest_lm: np.ndarray, cranium: tuple[np.ndarray, np.ndarray],
                 outline_v: np.ndarray, eyes: Eyes, seed: int) -> dict[str, Mesh]:
    """Every part after the face and skirt, by name. cranium: the fitted (centre, semi-axes);
    outline_v: (S, 3) the face outline at rest."""
    centre, axes = cranium
    ears = build_ears(centre, axes, eye_level(rest_lm, g))
    mouth = build_mouth(rest_lm, g)
    chin_y = rest_lm[g.chin, 1]
    return {
        "cranium": build_cranium(centre, axes, outline_v),
        "hair": build_hair(centre, axes, rest_lm[g.forehead_top], app, seed),
        "ear_left": ears[0], "ear_right": ears[1], "eye_left": eyes.meshes[0], "eye_right": eyes.meshes[1],
        "mouth": mouth.cavity, "teeth_upper": mouth.teeth_upper, "teeth_lower": mouth.teeth_lower,
        "tongue": mouth.tongue, "neck": build_neck(chin_y, centre[2]),
        "torso": build_torso(app.shoulder_width, centre[2]),
    }


def _head_weight(asm: Assembly, chin_y: float) -> np.ndarray:
    """(V,) how much each vertex follows the head pose: 1 on the head, 0 on the torso, blended on the neck."""
    hw = np.ones(len(asm.verts))
    hw[asm.part == PARTS.index("torso")] = 0.0
    neck = asm.part == PARTS.index("neck")
    hw[neck] = neck_head_weight(asm.verts[neck, 1], chin_y)
    return hw


def _t32(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float32)


def _jaw_anchor(g: LandmarkGroups) -> int:
    """The landmark the lower teeth and tongue follow: the middle of the lower inner lip."""
    return int(g.lips_inner_lower[len(g.lips_inner_lower) // 2])


def build_performer(cfg: PerformerConfig = PerformerConfig(), model: HeadModel | None = None,
                    appearance: Appearance | None = None) -> Performer:
    """Build the performer of `cfg.seed` (deterministic)."""
    model = load_head_model() if model is None else model
    app = sample_appearance(cfg.seed, model.n_id) if appearance is None else appearance
    beta = torch.as_tensor(app.beta, dtype=torch.float32)
    rest_lm_t = shape(model, beta[None], torch.zeros(1, model.n_expr))[0]
    rest_lm = rest_lm_t.numpy().astype(np.float64)
    g = model.groups
    sub = face_subdivision(model, cfg.face_subdivisions)
    face = Mesh(sub.apply(rest_lm_t).numpy().astype(np.float64), sub.faces.numpy())
    detail = face_detail(face.verts, sub.faces, rest_lm, g, cfg.seed, cfg.detail)
    cranium = fit_cranium(model.mean.numpy(), list(g.face_oval), app.head_scale)
    skirt = build_skirt(face.verts, sub.faces, cranium[0])
    eyes = build_eyes(model, rest_lm)
    others = _other_parts(g, app, rest_lm, cranium, face.verts[skirt.outline], eyes, cfg.seed)
    asm = _assemble(face, skirt, others, _coarse_face(model, cfg.face_subdivisions, face.faces))
    mottle = skin_mottle(asm.verts, cfg.seed)
    mat = base_materials(asm.verts, asm.part, PARTS, app, mottle, cfg.seed)
    n_face = len(face.verts)
    paint_face(mat, face.verts, rest_lm, g, app, mottle[:n_face], eye_level(rest_lm, g), cfg.seed)
    return Performer(
        appearance=app, model=model, beta=beta, sub=sub, face_detail=_t32(detail), rest=_t32(asm.verts),
        faces=torch.as_tensor(asm.faces, dtype=torch.int64),
        shadow_faces=torch.as_tensor(asm.shadow_faces, dtype=torch.int64),
        part=torch.as_tensor(asm.part, dtype=torch.int64), head_weight=_t32(_head_weight(asm, rest_lm[g.chin, 1])),
        albedo=_t32(mat.albedo.clip(0, 1)), roughness=_t32(mat.roughness), f0=_t32(mat.f0), sss=_t32(mat.sss),
        skirt_src=torch.as_tensor(np.asarray(skirt.outline), dtype=torch.int64), skirt_off=_t32(skirt.offset),
        eye_dir=_t32(np.concatenate(eyes.dirs)), eye_centers=_t32(np.stack(eyes.centres)),
        jaw_anchor=_jaw_anchor(g), rest_landmarks=rest_lm_t,
    )
