"""The performer's materials: one base material per part, then spatial variation (skin
mottle, lips, cheeks, brows, lash lines, an oilier T-zone, hair strands, cloth weave) and
the eyes' iris, limbus and pupil, painted where the gaze points at each instant.

Units: albedo is linear RGB in [0, 1]; roughness is the GGX roughness in (0, 1] (alpha =
roughness²); f0 is the Fresnel reflectance at normal incidence (Schlick) in [0, 1]; sss is
the subsurface-scattering weight in [0, 1]. Lengths are model-space metres; noise
frequencies are lattice cells per metre.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from nervp.face import LandmarkGroups
from nervp.synth.appearance import Appearance
from nervp.synth.performer.fields import (
    NOISE_BROW_STRANDS,
    NOISE_CLOTH,
    NOISE_HAIR_ALBEDO,
    NOISE_SKIN_FINE,
    NOISE_SKIN_MOTTLE,
    inside,
    polyline_distance,
    value_noise,
)

Paint = Literal["skin", "hair", "cloth", "eye"]


@dataclass(frozen=True)
class Material:
    """Base material of one part of the performer.

    Attributes:
        roughness: GGX roughness in (0, 1] (alpha = roughness²).
        f0: Fresnel reflectance at normal incidence in [0, 1].
        sss: subsurface-scattering weight in [0, 1].
        albedo: (3,) linear RGB albedo in [0, 1], used when `paint` is None.
        paint: where the albedo comes from instead: the appearance's skin, hair or cloth
            colour with its texture, or "eye" (painted at each instant by `eye_albedo`;
            0 at rest).
    """

    roughness: float
    f0: float
    sss: float
    albedo: tuple[float, float, float] = (0.0, 0.0, 0.0)
    paint: Paint | None = None


SKIN = Material(roughness=0.5, f0=0.028, sss=1.0, paint="skin")
HAIR = Material(roughness=0.38, f0=0.046, sss=0.0, paint="hair")
EYE = Material(roughness=0.06, f0=0.025, sss=0.0, paint="eye")
MOUTH = Material(roughness=0.35, f0=0.028, sss=0.5, albedo=(0.18, 0.035, 0.03))
TONGUE = Material(roughness=0.3, f0=0.028, sss=1.0, albedo=(0.45, 0.12, 0.1))
TEETH = Material(roughness=0.25, f0=0.04, sss=0.3, albedo=(0.72, 0.68, 0.58))
CLOTH = Material(roughness=0.85, f0=0.03, sss=0.0, paint="cloth")

MATERIALS: dict[str, Material] = {
    "face": SKIN, "skirt": SKIN, "cranium": SKIN, "hair": HAIR, "ear_left": SKIN, "ear_right": SKIN,
    "eye_left": EYE, "eye_right": EYE, "mouth": MOUTH, "teeth_upper": TEETH, "teeth_lower": TEETH,
    "tongue": TONGUE, "neck": SKIN, "torso": CLOTH,
}
"""The base material of every part (keys: `PARTS`)."""

# ---- skin: albedo * (1 + a * noise(f) + b * noise(f'))
MOTTLE_AMP, MOTTLE_FREQ = 0.06, 60.0
MOTTLE_FINE_AMP, MOTTLE_FINE_FREQ = 0.03, 300.0
# ---- face (frontal x-y distances)
LIP_ROUGHNESS = 0.32
CHEEK_BELOW_IRIS_M, CHEEK_RADIUS_M, CHEEK_FLUSH = 0.035, 0.03, 0.06
"""Cheeks a little redder: green and blue lowered by up to CHEEK_FLUSH in a Gaussian of CHEEK_RADIUS_M."""
NOSE_RADIUS_M, NOSE_FLUSH = 0.015, 0.05
FLUSH_CHANNELS = (0.0, 1.0, 1.0)
"""Channels a flush darkens (red kept)."""
BROW_IN_FRONT_M = 0.04
"""Brows are painted only on the face in front of the nose bridge minus this depth."""
BROW_STRETCH, BROW_FREQ = (1, 6, 1), 400
BROW_FLOOR, BROW_VARIATION, BROW_HAIR_GAIN, BROW_SKIN_GAIN = 0.7, 0.3, 1.3, 0.15
"""Brow albedo: hair * gain * (floor + variation * strand noise) + skin * skin gain."""
BROW_ROUGHNESS = 0.6
LASH_LINES = (("upper", 0.8, 0.0016), ("lower", 0.4, 0.001))
"""Lid margin, darkening strength and Gaussian half-width (m)."""
LASH_DEPTH_M = 0.01
"""Lash lines reach this far behind the lid's frontmost landmark."""
TZONE_HALF_WIDTH_M, TZONE_BELOW_EYES_M, TZONE_ROUGHNESS = 0.02, 0.05, 0.4
# ---- hair and cloth
HAIR_STRETCH, HAIR_FREQ, HAIR_FLOOR, HAIR_VARIATION = (30, 3, 30), 40, 0.75, 0.35
CLOTH_FREQ, CLOTH_FLOOR, CLOTH_VARIATION = 150, 0.9, 0.1


@dataclass(frozen=True)
class SurfaceMaterials:
    """Per-vertex materials of the whole performer at rest (float64 numpy, (V,) or (V, 3))."""

    albedo: np.ndarray
    roughness: np.ndarray
    f0: np.ndarray
    sss: np.ndarray


def base_materials(verts: np.ndarray, part: np.ndarray, parts: tuple[str, ...], app: Appearance,
                   mottle: np.ndarray, seed: int) -> SurfaceMaterials:
    """Per-vertex materials from the `MATERIALS` table, with the appearance's textured albedo.

    verts: (V, 3) rest positions (m); part: (V,) index into `parts`; mottle: (V, 1) `skin_mottle`.
    """
    n = len(verts)
    out = SurfaceMaterials(np.zeros((n, 3)), np.zeros(n), np.zeros(n), np.zeros(n))
    for i, name in enumerate(parts):
        m = MATERIALS[name]
        sel = part == i
        out.roughness[sel] = m.roughness
        out.f0[sel] = m.f0
        out.sss[sel] = m.sss
        if m.paint == "skin":
            out.albedo[sel] = np.asarray(app.skin) * mottle[sel]
        elif m.paint == "hair":
            noise = value_noise(verts[sel] * np.array(HAIR_STRETCH), HAIR_FREQ, seed + NOISE_HAIR_ALBEDO)
            out.albedo[sel] = np.asarray(app.hair) * (HAIR_FLOOR + HAIR_VARIATION * noise)[:, None]
        elif m.paint == "cloth":
            noise = value_noise(verts[sel], CLOTH_FREQ, seed + NOISE_CLOTH)
            out.albedo[sel] = np.asarray(app.cloth) * (CLOTH_FLOOR + CLOTH_VARIATION * noise)[:, None]
        else:
            out.albedo[sel] = m.albedo
    return out


def skin_mottle(verts: np.ndarray, seed: int) -> np.ndarray:
    """(V, 1) multiplicative skin-albedo variation at `verts` (V, 3)."""
    return (1 + MOTTLE_AMP * value_noise(verts, MOTTLE_FREQ, seed + NOISE_SKIN_MOTTLE)[:, None]
            + MOTTLE_FINE_AMP * value_noise(verts, MOTTLE_FINE_FREQ, seed + NOISE_SKIN_FINE)[:, None])


def paint_face(mat: SurfaceMaterials, fv: np.ndarray, rest_lm: np.ndarray, g: LandmarkGroups, app: Appearance,
               mottle: np.ndarray, eye_y: float, seed: int) -> None:
    """Paint the face, the first Vf vertices of `mat`, in place: lips, flushed cheeks and nose,
    brows, lash lines, and the roughness of lips and T-zone.

    fv: (Vf, 3) rest face vertices (m); rest_lm: (478, 3) rest landmarks (m); mottle: (Vf, 1);
    eye_y: height of the iris centres (m).
    """
    n = len(fv)
    face_alb, rough = mat.albedo[:n], mat.roughness[:n]
    # lips: between the outer and inner lip contours (in the frontal x-y projection)
    outer = rest_lm[list(g.lips_outer_upper) + list(g.lips_outer_lower[::-1]), :2]
    lips = inside(fv[:, :2], outer)
    face_alb[lips] = np.asarray(app.lips) * mottle[lips]
    # cheeks and nose a little redder, under-eyes a little darker
    for side in ("left", "right"):
        cheek = rest_lm[getattr(g, f"{side}_iris_center")] + np.array([0, -CHEEK_BELOW_IRIS_M, 0])
        w = np.exp(-(np.linalg.norm(fv[:, :2] - cheek[:2], axis=1) / CHEEK_RADIUS_M) ** 2)[:, None]
        face_alb *= 1 - CHEEK_FLUSH * w * np.array(FLUSH_CHANNELS)
    nose_w = np.exp(-(np.linalg.norm(fv[:, :2] - rest_lm[g.nose_tip, :2], axis=1) / NOSE_RADIUS_M) ** 2)[:, None]
    face_alb *= 1 - NOSE_FLUSH * nose_w * np.array(FLUSH_CHANNELS)
    _paint_brows(face_alb, rough, fv, rest_lm, g, app, seed)
    _paint_lash_lines(face_alb, fv, rest_lm, g)
    rough[:] = np.where(lips, LIP_ROUGHNESS, rough)
    # oilier T-zone
    tz = (np.abs(fv[:, 0]) < TZONE_HALF_WIDTH_M) & (fv[:, 1] > eye_y - TZONE_BELOW_EYES_M)
    rough[tz & ~lips] = TZONE_ROUGHNESS


def _paint_brows(face_alb: np.ndarray, rough: np.ndarray, fv: np.ndarray, rest_lm: np.ndarray,
                 g: LandmarkGroups, app: Appearance, seed: int) -> None:
    """Hair-coloured bands between the upper and lower brow landmarks (in place)."""
    for side in ("left", "right"):
        up = rest_lm[list(getattr(g, f"{side}_brow_upper")), :2]
        lo = rest_lm[list(getattr(g, f"{side}_brow_lower")), :2]
        poly = np.concatenate([up, lo[::-1]])
        inb = inside(fv[:, :2], poly) & (fv[:, 2] > rest_lm[g.nose_bridge, 2] - BROW_IN_FRONT_M)
        strands = BROW_FLOOR + BROW_VARIATION * value_noise(fv * np.array(BROW_STRETCH), BROW_FREQ,
                                                            seed + NOISE_BROW_STRANDS)
        face_alb[inb] = (np.asarray(app.hair)[None] * BROW_HAIR_GAIN * strands[inb, None]
                         + np.asarray(app.skin) * BROW_SKIN_GAIN)
        rough[inb] = BROW_ROUGHNESS


def _paint_lash_lines(face_alb: np.ndarray, fv: np.ndarray, rest_lm: np.ndarray, g: LandmarkGroups) -> None:
    """Dark upper lid margins, softer lower ones (in place)."""
    for side in ("left", "right"):
        for lid, strength, width in LASH_LINES:
            idx = list(getattr(g, f"{side}_eye_{lid}"))
            d = polyline_distance(fv[:, :2], rest_lm[idx, :2])
            near_eye = fv[:, 2] > rest_lm[idx, 2].min() - LASH_DEPTH_M
            face_alb *= 1 - strength * (np.exp(-((d / width) ** 2)) * near_eye)[:, None]


# ---- eyes, painted at each instant (angles in degrees from the gaze direction)
SCLERA_ALBEDO = (0.62, 0.56, 0.52)
IRIS_DEG = 29
"""Angular radius of the iris."""
LIMBUS_DEG = (26, 31)
LIMBUS_DARKEN = 0.4
PUPIL_DEG = 11
PUPIL_ALBEDO = (0.01, 0.01, 0.01)
IRIS_STREAK_FLOOR, IRIS_STREAK_AMP = 0.75, 0.25
"""Iris albedo: iris * (floor + amp * cos(rings * angle + spokes * polar angle))..."""
IRIS_STREAK_RINGS_PER_DEG, IRIS_STREAK_SPOKES = 1.7, 40


def eye_albedo(dirs: Tensor, gaze: Tensor, iris: Tensor) -> Tensor:
    """(Ve, 3) float32 linear albedo of one eyeball: sclera, and iris, limbus and pupil centred
    on the unit `gaze` (3,). dirs: (Ve, 3) unit directions of its vertices; iris: (3,) albedo."""
    cosang = (dirs @ gaze).clamp(-1, 1)
    ang = torch.rad2deg(torch.arccos(cosang))
    a = torch.tensor(SCLERA_ALBEDO).expand(len(ang), 3).clone()
    streak = IRIS_STREAK_FLOOR + IRIS_STREAK_AMP * torch.cos(
        ang * IRIS_STREAK_RINGS_PER_DEG + IRIS_STREAK_SPOKES * torch.atan2(dirs[:, 1], dirs[:, 0]))
    in_iris = ang < IRIS_DEG
    a[in_iris] = iris * streak[in_iris].unsqueeze(-1)
    limbus = (ang >= LIMBUS_DEG[0]) & (ang < LIMBUS_DEG[1])
    a[limbus] = a[limbus] * LIMBUS_DARKEN
    a[ang < PUPIL_DEG] = torch.tensor(PUPIL_ALBEDO)
    return a
