"""The classical baseline (`--method sh`): order-2 spherical-harmonic lighting by least squares
from the photo's shading on the fitted head model.

The tracker's landmarks fit the head model G(β, θ, φ) (`nervp.parse.fit`) under the assumed
video camera; the one rasterizer draws its normals into the photo. A Lambertian surface of
albedo ρ shows ``I(p) = ρ / π * sum_lm A_l L_lm Y_lm(n(p))`` (`nervp.estimate.sh`), linear in
the nine radiance coefficients L_lm per channel, solved by least squares over the face's pixels
(clipped pixels left out; two rounds that drop residuals beyond 2.5 robust deviations:
eyes, brows, lips, specular highlights). The head model has no albedo map: ρ is one skin
colour, the mean of the virtual stage's skin table, so a darker or lighter skin reads as dimmer
or brighter light.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from nervp.estimate.sh import IRRADIANCE_A, sh_basis

SKIN_ALBEDO = np.array([0.4533, 0.2892, 0.2117])
"""Linear RGB albedo assumed for every face: the mean of the virtual stage's six skin tones."""
MAX_SIDE = 256
"""The fit runs on the photo shrunk to at most this many pixels a side."""


def head_normals(landmarks: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """((H, W, 3) world-frame unit normals, (H, W) bool coverage) of the head model fitted to
    landmarks (478, 2) pixels of a width x height photo (camera: `fit.video_camera`)."""
    from nervp.face.headmodel import G, load_head_model
    from nervp.face.mesh_ops import vertex_normals
    from nervp.parse.conditioning import map_mesh
    from nervp.parse.fit import FitConfig, fit_landmarks, video_camera
    from nervp.render.camera import project
    from nervp.render.fragments import interpolate
    from nervp.render.rasterize import rasterize

    cfg = FitConfig()
    cam = video_camera(width, height, cfg.fov_y_deg, cfg.camera_distance_m)
    model = load_head_model()
    theta, phi, beta = fit_landmarks(landmarks[None], cam, cfg, model)
    mm = map_mesh(1, model)
    with torch.no_grad():
        v = G(model, beta.float(), theta.float(), phi.float())
        fine = mm.sub.apply(v[:, :468])
        frags = rasterize(project(fine, cam), mm.faces, height, width, cull_backfaces=True)
        n = interpolate(frags, mm.faces, vertex_normals(fine, mm.faces))[0]
    n = torch.nn.functional.normalize(n, dim=-1)
    return n.numpy().astype(np.float64), frags.mask[0].numpy()


def fit_shading(image: np.ndarray, normals: np.ndarray, mask: np.ndarray, clip: float = 0.95,
                albedo: np.ndarray = SKIN_ALBEDO) -> np.ndarray:
    """(9, 3) radiance SH coefficients from a linear photo (H, W, 3) and its normals/coverage."""
    sel = mask & (image.max(-1) < clip) & (image.min(-1) > 0)
    if sel.sum() < 50:
        sel = mask
    n = normals[sel]
    A = sh_basis(n, 2) * np.repeat(IRRADIANCE_A, [1, 3, 5])[None] / math.pi
    out = np.zeros((9, 3))
    for c in range(3):
        y = image[sel][:, c] / albedo[c]
        keep = np.ones(len(y), bool)
        for _ in range(3):
            coef, *_ = np.linalg.lstsq(A[keep], y[keep], rcond=None)
            r = y - A @ coef
            mad = np.median(np.abs(r[keep] - np.median(r[keep]))) * 1.4826 + 1e-12
            keep = np.abs(r) < 2.5 * mad
            if keep.sum() < 20:
                break
        out[:, c] = coef
    return out


def estimate_sh(image: np.ndarray, landmarks: np.ndarray, clip: float = 0.95) -> np.ndarray:
    """(9, 3) radiance SH coefficients of a linear photo (H, W, 3) with landmarks (478, 2)."""
    import cv2

    H, W = image.shape[:2]
    f = min(1.0, MAX_SIDE / max(H, W))
    if f < 1.0:
        image = cv2.resize(image, (max(1, round(W * f)), max(1, round(H * f))), interpolation=cv2.INTER_AREA)
        landmarks = landmarks * f
    normals, mask = head_normals(np.asarray(landmarks, np.float64), image.shape[1], image.shape[0])
    return fit_shading(image.astype(np.float64), normals, mask, clip)
