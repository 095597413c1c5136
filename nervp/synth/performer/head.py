"""The performer's head: the face surface with its fine detail, the skirt that folds the
face outline into the skull, the cranium, the ears and the hair.

Model space throughout: metres, +y up, +z out of the face, origin at the head's rotation
centre. Arrays are float64 numpy; angles in radians unless a name says degrees.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from nervp.face import HeadModel, LandmarkGroups
from nervp.face.mesh_ops import Subdivision, boundary_loops, subdivide, vertex_normals
from nervp.synth.appearance import Appearance
from nervp.synth.meshes import Mesh, uv_sphere
from nervp.synth.performer.fields import (
    NOISE_BUMPS,
    NOISE_HAIR_CLUMPS,
    NOISE_HAIR_STRANDS,
    NOISE_PORES,
    NOISE_WRINKLES,
    inside,
    value_noise,
)

FACE_SMOOTH_STEPS = 2
"""Smoothing passes of the interpolating face subdivision."""

# ---- fine displacement of the face along its rest normals (depths in metres; noise
# frequencies in lattice cells per metre)
PORE_DEPTH_M, PORE_FREQ = 0.00012, 900.0
BUMP_DEPTH_M, BUMP_FREQ = 0.0002, 260.0
FOREHEAD_FROM_BROW_M = 0.012
"""The forehead wrinkles start this far above the mean brow line..."""
FOREHEAD_TO_BROW_M = 0.07
"""...and end this far above it..."""
FOREHEAD_RAMP_M = 0.02
"""...fading in and out over this height."""
WRINKLE_DEPTH_M = 0.00025
WRINKLE_PERIOD_M = 0.006
"""Vertical spacing of the forehead wrinkles."""
WRINKLE_FLOOR, WRINKLE_VARIATION, WRINKLE_FREQ = 0.6, 0.4, 40
"""Wrinkle depth along the brow: floor + variation * noise (noise at WRINKLE_FREQ)."""
CROW_DEPTH_M = 0.0002
CROW_RADIUS_M = 0.012
"""Gaussian radius of the crow's feet around each outer eye corner."""
CROW_LINES = 14
"""Crow's-feet lines per radian of direction around the eye corner."""

# ---- skirt
SKIRT_AIM_OFFSET_M = (0.0, -0.02, 0.0)
"""The skirt folds toward the cranium centre moved by this much."""
SKIRT_DEPTH_M = 0.03
SKIRT_BACK_M = (0, 0, -0.01)
"""Extra offset of the skirt's inner rim (backward)."""

# ---- cranium: an ellipsoid through the upper face outline
CRANIUM_CENTRE_M = (0.0, 0.015, -0.012)
CRANIUM_FIT_ABOVE = 0.35
"""Fit only outline points above this fraction of the outline's height."""
CRANIUM_AXES_MIN_M = (0.068, 0.095, 0.09)
CRANIUM_AXES_MAX_M = (0.085, 0.125, 0.115)
CRANIUM_RINGS, CRANIUM_SEGMENTS = 30, 44
CRANIUM_BLEND_RAD = 0.3
"""Angular (Gaussian) radius over which the outline's radius bends the ellipsoid."""
CRANIUM_BLEND_PRIOR = 0.05
"""Weight of the plain ellipsoid (radius ratio 1) in that blend."""
CRANIUM_INSET = 0.2
"""Inside the face's footprint the cranium is pulled in by up to this fraction..."""
CRANIUM_INSET_RAMP_RAD = 0.25
"""...reached this far (angle) inside the outline."""

# ---- ears: flattened ellipsoids on the sides of the cranium
EAR_RINGS, EAR_SEGMENTS = 10, 14
EAR_SEMI_AXES_M = (0.010, 0.030, 0.018)
EAR_TILT_DEG = 15
EAR_OUT = 0.97
"""Ear centre x as a fraction of the cranium's half-width."""
EAR_BELOW_EYES_M = 0.025
EAR_BACK_M = 0.005

# ---- hair: a shell over the cranium above the hairline
HAIR_RINGS, HAIR_SEGMENTS = 40, 60
HAIRLINE_ABOVE_FOREHEAD = 0.1
"""Front hairline height above the forehead top (unit-sphere y)..."""
HAIRLINE_RECESSION = 0.12
"""...raised by this much for a fully receding hairline (appearance.hairline = 1)."""
HAIR_BACK_LEVEL, HAIR_BACK_LENGTH = -0.55, 0.35
"""Hair at the back ends at unit-sphere y = level - length * appearance.hair_length."""
HAIR_SIDE_SIN = 0.5
"""Directions with |sin(azimuth)| above this are the sides..."""
HAIR_SIDE_FRONT, HAIR_SIDE_BACK, HAIR_SIDE_SHORTEN = 0.05, 0.95, 0.6
"""...whose hair ends at front * front level + back * (shorten * back level)."""
HAIR_STRAND_DEPTH_M, HAIR_STRAND_FREQ = 0.004, 6.0
HAIR_STRAND_STRETCH = (8, 1, 8)
"""Noise coordinates are scaled so the strands run vertically."""
HAIR_CLUMP_DEPTH_M, HAIR_CLUMP_FREQ = 0.002, 20.0
HAIR_RELIEF_RADIUS_M = 0.1
"""Relief is applied relative to this nominal head radius."""
HAIR_HIDDEN = 0.9
"""Hair vertices below the hairline shrink inside the cranium to this fraction."""


@functools.lru_cache(maxsize=8)
def face_subdivision(model: HeadModel, levels: int) -> Subdivision:
    """Interpolating subdivision of the face (cached): the surface passes through every landmark."""
    return subdivide(model.faces, model.mean.shape[0], levels=levels, scheme="midpoint",
                     smooth_steps=FACE_SMOOTH_STEPS)


def eye_level(rest_lm: np.ndarray, g: LandmarkGroups) -> float:
    """Height (m) of the iris centres at rest."""
    return rest_lm[[g.left_iris_center, g.right_iris_center], 1].mean()


def face_detail(face_v: np.ndarray, face_f: torch.Tensor, rest_lm: np.ndarray, g: LandmarkGroups,
                seed: int, detail: float) -> np.ndarray:
    """(Vf, 3) displacement (m) of the rest face `face_v` (Vf, 3): pores, forehead wrinkles and
    crow's feet along the rest normals, scaled by `detail`; 0 on vertices no triangle uses."""
    used = np.unique(face_f.numpy())
    nrm = vertex_normals(torch.as_tensor(face_v)[None].float(), face_f)[0].numpy()
    brow_y = rest_lm[list(g.left_brow_upper) + list(g.right_brow_upper), 1].mean()
    pores = (PORE_DEPTH_M * value_noise(face_v, PORE_FREQ, seed + NOISE_PORES)
             + BUMP_DEPTH_M * value_noise(face_v, BUMP_FREQ, seed + NOISE_BUMPS))
    forehead = (np.clip((face_v[:, 1] - brow_y - FOREHEAD_FROM_BROW_M) / FOREHEAD_RAMP_M, 0, 1)
                * np.clip((brow_y + FOREHEAD_TO_BROW_M - face_v[:, 1]) / FOREHEAD_RAMP_M, 0, 1))
    wrinkles = (WRINKLE_DEPTH_M * forehead * np.sin(face_v[:, 1] * 2 * np.pi / WRINKLE_PERIOD_M)
                * (WRINKLE_FLOOR + WRINKLE_VARIATION * value_noise(face_v, WRINKLE_FREQ, seed + NOISE_WRINKLES)))
    crow = np.zeros(len(face_v))
    for side, sign in (("left", 1), ("right", -1)):
        corner = rest_lm[getattr(g, f"{side}_eye_upper")[0]]
        d = face_v - corner
        r = np.hypot(d[:, 0], d[:, 1])
        near = np.exp(-(r / CROW_RADIUS_M) ** 2) * (sign * d[:, 0] > 0)
        crow += CROW_DEPTH_M * near * np.sin(np.arctan2(d[:, 1], sign * d[:, 0]) * CROW_LINES)
    disp = detail * (pores + wrinkles + crow)
    out = np.zeros_like(face_v)
    out[used] = (disp[:, None] * nrm)[used]
    return out


@dataclass(frozen=True)
class Skirt:
    """The band folding the face outline back into the skull.

    Attributes:
        outline: (S,) face-vertex indices of the face's outer boundary loop, in order.
        offset: (S, 3) float64 metres from each outline vertex to its skirt vertex.
        verts: (S, 3) float64 metres, skirt vertices at rest.
        faces: (2S, 3) int64 triangles over the face vertices followed by the skirt's.
    """

    outline: list[int]
    offset: np.ndarray
    verts: np.ndarray
    faces: np.ndarray


def build_skirt(face_v: np.ndarray, face_f: torch.Tensor, centre: np.ndarray) -> Skirt:
    """The skirt of the rest face `face_v` (Vf, 3), aimed at the cranium `centre` (3,)."""
    outline = boundary_loops(face_f)[0]
    n_out = len(outline)
    ov = face_v[outline]
    inward = centre + np.array(SKIRT_AIM_OFFSET_M) - ov
    inward /= np.linalg.norm(inward, axis=1, keepdims=True)
    offset = SKIRT_DEPTH_M * inward + np.array(SKIRT_BACK_M)
    tris = []
    vf = len(face_v)
    for k in range(n_out):
        a, b = outline[k], outline[(k + 1) % n_out]
        sa, sb = vf + k, vf + (k + 1) % n_out
        # the outline runs with the boundary edge direction (clockwise from outside),
        # so (b, a, sa) continues the face's outward orientation
        tris += [(b, a, sa), (b, sa, sb)]
    return Skirt(outline, offset, ov + offset, np.asarray(tris))


def fit_cranium(mean_lm: np.ndarray, oval: list[int], scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre (3,) and semi-axes (3,) of an ellipsoid through the upper face outline."""
    pts = mean_lm[oval]
    centre = np.array(CRANIUM_CENTRE_M)
    upper = pts[pts[:, 1] > mean_lm[oval, 1].min() + CRANIUM_FIT_ABOVE * np.ptp(mean_lm[oval, 1])]
    d = upper - centre
    A = d * d
    inv, *_ = np.linalg.lstsq(A, np.ones(len(d)), rcond=None)
    axes = 1 / np.sqrt(np.clip(inv, 1e-6, None))
    axes = np.clip(axes, CRANIUM_AXES_MIN_M, CRANIUM_AXES_MAX_M) * scale
    return centre, axes


def _sphere_coords(d: np.ndarray) -> np.ndarray:
    """(N, 2) (azimuth from +z toward +x, elevation) of unit directions (N, 3)."""
    return np.stack([np.arctan2(d[:, 0], d[:, 2]), np.arcsin(np.clip(d[:, 1], -1, 1))], 1)


def build_cranium(centre: np.ndarray, axes: np.ndarray, outline_v: np.ndarray) -> Mesh:
    """The ellipsoid (centre, semi-axes) bent radially so it meets the face outline
    `outline_v` (S, 3) all round; its front, inside the face's footprint, is pulled in
    behind the face."""
    sph, _ = uv_sphere(CRANIUM_RINGS, CRANIUM_SEGMENTS)
    dirs = sph.verts
    ell_r = 1 / np.sqrt(((dirs / axes) ** 2).sum(1))  # ellipsoid radius along each direction
    od = outline_v - centre
    o_r = np.linalg.norm(od, axis=1)
    o_dir = od / o_r[:, None]
    o_ell = 1 / np.sqrt(((o_dir / axes) ** 2).sum(1))
    ang = np.arccos(np.clip(dirs @ o_dir.T, -1, 1))  # (V, S)
    w = np.exp(-((ang / CRANIUM_BLEND_RAD) ** 2))
    ratio = (w * (o_r / o_ell)[None]).sum(1) + CRANIUM_BLEND_PRIOR
    ratio = ratio / (w.sum(1) + CRANIUM_BLEND_PRIOR)
    in_face = inside(_sphere_coords(dirs), _sphere_coords(o_dir)) & (dirs[:, 2] > 0)
    depth_in = np.clip(ang.min(1) / CRANIUM_INSET_RAMP_RAD, 0, 1)
    ratio = np.where(in_face, ratio * (1 - CRANIUM_INSET * depth_in * depth_in * (3 - 2 * depth_in)), ratio)
    return Mesh(centre + dirs * (ell_r * ratio)[:, None], sph.faces)


def build_ears(centre: np.ndarray, axes: np.ndarray, eye_y: float) -> list[Mesh]:
    """Two ear shells (left, right) on the cranium (centre, semi-axes), below eye height `eye_y`."""
    ears = []
    for sign in (1, -1):
        e, _ = uv_sphere(EAR_RINGS, EAR_SEGMENTS)
        ev = e.verts * np.array(EAR_SEMI_AXES_M)
        tilt = np.radians(EAR_TILT_DEG)
        rot = np.array([[1, 0, 0], [0, np.cos(tilt), -np.sin(tilt)], [0, np.sin(tilt), np.cos(tilt)]])
        ev = ev @ rot.T + np.array([sign * (axes[0] * EAR_OUT), eye_y - EAR_BELOW_EYES_M, centre[2] - EAR_BACK_M])
        ears.append(Mesh(ev, e.faces))
    return ears


def build_hair(centre: np.ndarray, axes: np.ndarray, forehead_top: np.ndarray, app: Appearance,
               seed: int) -> Mesh:
    """Hair shell over the cranium (centre, semi-axes) above a hairline set by the appearance
    and the rest forehead-top landmark `forehead_top` (3,), with strand-like relief."""
    hs, _ = uv_sphere(HAIR_RINGS, HAIR_SEGMENTS)
    hd = hs.verts
    az = np.arctan2(hd[:, 0], hd[:, 2])
    front = 0.5 * (1 + np.cos(az))  # 1 at the face, 0 at the back
    top = (forehead_top - centre) / axes
    front_level = top[1] / np.linalg.norm(top) + HAIRLINE_ABOVE_FOREHEAD + HAIRLINE_RECESSION * app.hairline
    back_level = HAIR_BACK_LEVEL - HAIR_BACK_LENGTH * app.hair_length
    side_level = HAIR_SIDE_FRONT * front_level + HAIR_SIDE_BACK * (back_level * HAIR_SIDE_SHORTEN)
    level = front * front_level + (1 - front) * np.where(np.abs(np.sin(az)) > HAIR_SIDE_SIN, side_level, back_level)
    keep = hd[:, 1] > level
    relief = (HAIR_STRAND_DEPTH_M * value_noise(hd * np.array(HAIR_STRAND_STRETCH), HAIR_STRAND_FREQ,
                                                seed + NOISE_HAIR_STRANDS)
              + HAIR_CLUMP_DEPTH_M * value_noise(hd, HAIR_CLUMP_FREQ, seed + NOISE_HAIR_CLUMPS))
    hv = centre + hd * (axes + app.hair_volume)[None] * (1 + relief[:, None] / HAIR_RELIEF_RADIUS_M)
    hv[~keep] = centre + hd[~keep] * axes * HAIR_HIDDEN  # hidden inside the cranium
    return Mesh(hv, hs.faces[keep[hs.faces].all(1)])
