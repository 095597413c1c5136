"""The performer's eyes and mouth: eyeballs behind the lid openings, and a mouth cavity with
teeth and tongue seen through the lips.

Model space: metres, +y up, +z out of the face. Arrays are float64 numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nervp.face import HeadModel, LandmarkGroups
from nervp.synth.meshes import Mesh, tube, uv_sphere

EYE_RINGS, EYE_SEGMENTS = 18, 28

# ---- mouth cavity: an ellipsoid behind the lips (half-width as a fraction of the inner lip width)
CAVITY_RINGS, CAVITY_SEGMENTS = 12, 20
CAVITY_HALF_WIDTH = 0.55
CAVITY_SEMI_AXES_YZ_M = (0.022, 0.03)
CAVITY_OFFSET_M = (0, -0.008, -0.034)
"""Cavity centre relative to the centre of the inner lip contour."""

# ---- teeth: the front half of an elliptic tube per jaw
TEETH_SEGMENTS = 24
TEETH_HALF_WIDTH = 0.47
"""Arch half-width as a fraction of the inner lip width."""
TEETH_DEPTH_M = 0.028
"""Arch semi-axis front to back."""
TEETH_BACK_M = 0.026
"""Arch centre behind the inner lip centre (before each jaw's own setback)."""
UPPER_TEETH_M = (0.004, -0.006, 0.004)
"""Upper teeth: top and bottom relative to the upper inner lip's mean height, and setback."""
LOWER_TEETH_M = (0.006, -0.004, 0.006)
"""Lower teeth: the same relative to the lower inner lip."""

# ---- tongue: a flat ellipsoid on the floor of the mouth
TONGUE_RINGS, TONGUE_SEGMENTS = 10, 16
TONGUE_HALF_WIDTH = 0.38
TONGUE_SEMI_AXES_YZ_M = (0.008, 0.022)
TONGUE_OFFSET_M = (0, -0.012, -0.03)


@dataclass(frozen=True)
class Eyes:
    """Both eyeballs (left, right) of one identity.

    Attributes:
        meshes: the two eyeball meshes (metres).
        dirs: two (Ve, 3) float64 unit rest directions of the eyeball vertices from their centre.
        centres: two (3,) float64 eyeball centres (metres).
    """

    meshes: list[Mesh]
    dirs: list[np.ndarray]
    centres: list[np.ndarray]


def build_eyes(model: HeadModel, rest_lm: np.ndarray) -> Eyes:
    """Eyeballs at the head model's eye centres, moved with this identity's iris landmarks."""
    g = model.groups
    meshes, dirs, centres = [], [], []
    for k, side in enumerate(("left", "right")):
        iris = getattr(g, f"{side}_iris_center")
        c = model.eye_centers[k].numpy().astype(np.float64) + (rest_lm[iris] - model.mean[iris].numpy())
        e, _ = uv_sphere(EYE_RINGS, EYE_SEGMENTS)
        meshes.append(Mesh(e.verts * model.eye_radius + c, e.faces))
        dirs.append(e.verts)
        centres.append(c)
    return Eyes(meshes, dirs, centres)


@dataclass(frozen=True)
class Mouth:
    """Mouth interior meshes (metres): the dark cavity, upper teeth (fixed to the skull),
    lower teeth and tongue (they follow the jaw)."""

    cavity: Mesh
    teeth_upper: Mesh
    teeth_lower: Mesh
    tongue: Mesh


def _ellipsoid(rings: int, segments: int, semi_axes: np.ndarray, centre: np.ndarray,
               offset: tuple[float, float, float]) -> Mesh:
    """A UV ellipsoid with `semi_axes` (3,) at `centre` (3,) + `offset` (metres)."""
    s, _ = uv_sphere(rings, segments)
    return Mesh(s.verts * semi_axes + centre + np.array(offset), s.faces)


def _arch(y_top: float, y_bot: float, setback: float, mouth_w: float, mouth_z: float) -> Mesh:
    """Front half of an elliptic tube from `y_top` down to `y_bot` (metres)."""
    prof = np.array([[y_top, mouth_w * TEETH_HALF_WIDTH, TEETH_DEPTH_M],
                     [y_bot, mouth_w * TEETH_HALF_WIDTH, TEETH_DEPTH_M]])
    m = tube(prof, TEETH_SEGMENTS, cap_top=True, cap_bottom=True)
    v = m.verts.copy()
    v[:, 2] = v[:, 2] * np.where(v[:, 2] > 0, 1.0, 0.0)  # keep the front half of the arch
    return Mesh(v + np.array([0, 0, mouth_z - TEETH_BACK_M - setback]), m.faces)


def build_mouth(rest_lm: np.ndarray, g: LandmarkGroups) -> Mouth:
    """Mouth interior placed by the rest inner-lip landmarks."""
    lip_in = rest_lm[list(g.lips_inner_upper) + list(g.lips_inner_lower)]
    mouth_c = lip_in.mean(0)
    mouth_w = np.ptp(lip_in[:, 0])
    cavity = _ellipsoid(CAVITY_RINGS, CAVITY_SEGMENTS, np.array([mouth_w * CAVITY_HALF_WIDTH, *CAVITY_SEMI_AXES_YZ_M]),
                        mouth_c, CAVITY_OFFSET_M)
    upper_y = rest_lm[g.lips_inner_upper, 1].mean()
    top, bot, back = UPPER_TEETH_M
    teeth_u = _arch(upper_y + top, upper_y + bot, back, mouth_w, mouth_c[2])
    lower_y = rest_lm[g.lips_inner_lower, 1].mean()
    top, bot, back = LOWER_TEETH_M
    teeth_l = _arch(lower_y + top, lower_y + bot, back, mouth_w, mouth_c[2])
    tongue = _ellipsoid(TONGUE_RINGS, TONGUE_SEGMENTS, np.array([mouth_w * TONGUE_HALF_WIDTH, *TONGUE_SEMI_AXES_YZ_M]),
                        mouth_c, TONGUE_OFFSET_M)
    return Mouth(cavity, teeth_u, teeth_l, tongue)
