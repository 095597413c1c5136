"""Mattes: alpha for compositing, and the performer's colour without the old background.

Sources of alpha, best first: the dataset's (or the network's) alpha when present; else a
coarse matte from MediaPipe SelfieSegmentation, refined by an edge-aware guided filter
(He, Sun and Tang's guided filter, colour-guide form) whose guide is a *rim-lit* rendering
of the performer made from the reflectance field itself (the paper's Fig. 11). Light from
behind grazes the silhouette, so hair and shoulders, dark under ordinary lighting against
the light stage's black backdrop, become bright edges the filter can lock on to.

Foreground colour: an observed pixel is ``I = alpha F + (1 - alpha) B_old`` with B_old the
capture backdrop (black on a light stage). `estimate_foreground` recovers F smoothly near
edges (multi-level "blur fusion" after Germer et al. and Forte and Pitie), so hair edges do
not carry the old backdrop into the new composite.

Images here are (H, W, 3) float32 linear radiance; alpha (H, W) float32 in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from nervp.colour import luminance, srgb_encode, tonemap
from nervp.errors import NervpError
from nervp.lightstage.dome import Dome

MatteMode = Literal["auto", "dataset", "selfie", "guided", "rim"]


@dataclass(frozen=True)
class MatteConfig:
    """How alpha is obtained (`mode`) and the refinement's settings."""

    mode: MatteMode = "auto"
    """auto: the dataset's alpha if it has one, else rim; dataset: require the dataset's alpha;
    selfie: SelfieSegmentation alone; guided: SelfieSegmentation refined with the frame itself
    as guide; rim: SelfieSegmentation refined with a rim-lit rendering as guide."""
    radius: int = 0
    """Guided-filter window radius in pixels (0: image height / 48, at least 2)."""
    eps: float = 1e-3
    """Guided-filter regularisation (guide values are display-encoded, 0..1)."""
    band: int = 0
    """Half-width in pixels of the band around the coarse edge that is refined (0: 2 x radius)."""
    tau: float = 0.05
    """In the band, pixels darker than this (display-encoded luminance) are backdrop."""


def _box_sum_1d(x: Tensor, r: int, dim: int) -> Tensor:
    """Sum over [i - r, i + r] along `dim` (clipped at the ends), by a running sum."""
    n = x.shape[dim]
    c = torch.cat([torch.zeros_like(x.narrow(dim, 0, 1)), x.cumsum(dim)], dim)
    hi = torch.clamp(torch.arange(n, device=x.device) + r + 1, max=n)
    lo = torch.clamp(torch.arange(n, device=x.device) - r, min=0)
    return c.index_select(dim, hi) - c.index_select(dim, lo)


def box(x: Tensor, r: int) -> Tensor:
    """Mean over a (2r+1)^2 window, shrinking at the borders; x is (C, H, W). O(1) per pixel."""
    H, W = x.shape[-2:]
    ones = torch.ones(1, H, W, dtype=x.dtype, device=x.device)
    num = _box_sum_1d(_box_sum_1d(x, r, -1), r, -2)
    den = _box_sum_1d(_box_sum_1d(ones, r, -1), r, -2)
    return num / den


def guided_filter(guide: Tensor, src: Tensor, radius: int, eps: float) -> Tensor:
    """Edge-aware smoothing of `src` (H, W) steered by `guide` (H, W, C) (C = 1 or 3).

    Within each window src is modelled as an affine function of the guide's channels
    (least squares with ridge `eps`); the per-window models are averaged per pixel.
    """
    g = guide.permute(2, 0, 1).double()  # (C, H, W)
    p = src.double()[None]
    C, H, W = g.shape
    mg, mp = box(g, radius), box(p, radius)
    cov_gp = box(g * p, radius) - mg * mp  # (C, H, W)
    gg = (g[:, None] * g[None]).reshape(C * C, H, W)
    var = (box(gg, radius).reshape(C, C, H, W) - mg[:, None] * mg[None])
    var = var.permute(2, 3, 0, 1) + eps * torch.eye(C, dtype=var.dtype)  # (H, W, C, C)
    a = torch.linalg.solve(var, cov_gp.permute(1, 2, 0)[..., None])[..., 0]  # (H, W, C)
    a = a.permute(2, 0, 1)
    b = mp - (a * mg).sum(0, keepdim=True)
    q = (box(a, radius) * g).sum(0) + box(b, radius)[0]
    return q.float()


def guide_image(linear: Tensor, exposure: float) -> Tensor:
    """Display-encoded guide (H, W, 3) in [0, 1] from a linear rendering (filmic, sRGB)."""
    return srgb_encode(tonemap(linear.float() * exposure, "filmic"))


def _dilate(mask: Tensor, r: int) -> Tensor:
    return F.max_pool2d(mask[None, None].float(), 2 * r + 1, stride=1, padding=r)[0, 0] > 0.5


def refine_matte(coarse: Tensor, guide: Tensor, lit: Tensor | None = None,
                 cfg: MatteConfig = MatteConfig()) -> Tensor:
    """Refine a coarse alpha (H, W) in a band around its 0.5 contour.

    guide: (H, W, C) display-encoded picture whose edges the guided filter follows.
    lit: (H, W, 3) display-encoded picture used for the backdrop rule (default `guide`):
        in the band, a pixel this picture shows as black (luminance below `cfg.tau`) is the
        light stage's black backdrop, so alpha fades to 0 there. With a rim-lit picture the
        performer's silhouette is lit all round, so only true backdrop is black.
    Outside the band alpha is the coarse matte rounded to 0 or 1. (Applying the backdrop
    rule outside the band as well, to black regions connected to the frame border, was
    measured worse: a silhouette part the rim light misses gets cut away.)
    """
    H = coarse.shape[0]
    r = cfg.radius or max(2, round(H / 48))
    band = cfg.band or 2 * r
    hard = coarse > 0.5
    unknown = _dilate(hard, band) & _dilate(~hard, band)
    q = guided_filter(guide, coarse, r, cfg.eps).clamp(0.0, 1.0)
    y = luminance(guide if lit is None else lit)
    q = q * (y / cfg.tau).clamp(0.0, 1.0)
    return torch.where(unknown, q, hard.float())


def rim_balance(frame: Tensor, rim: Tensor, q: float = 0.99) -> Tensor:
    """`frame + k * rim` (linear, (H, W, 3)), k matching the rim's bright pixels to the frame's."""
    def level(x: Tensor) -> float:
        y = luminance(x)
        v = y[y > 1e-6]
        return float(torch.quantile(v.float()[:1_000_000], q)) if v.numel() else 0.0

    lf, lr = level(frame), level(rim)
    k = lf / lr if lr > 0 and lf > 0 else 1.0
    return frame + k * rim


class SelfieMatter:
    """MediaPipe SelfieSegmentation (the legacy solution, general 256 x 256 model) as a
    coarse matte. Use as a context manager; call with uint8 sRGB (H, W, 3) pictures."""

    def __init__(self) -> None:
        try:
            import mediapipe as mp

            self._seg = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
        except (ImportError, AttributeError, RuntimeError) as e:
            raise NervpError(f"MediaPipe SelfieSegmentation is unavailable ({e}); install mediapipe==0.10.14 "
                             "or use a dataset with alpha (--matte dataset)") from e

    def __enter__(self) -> SelfieMatter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._seg.close()

    def __call__(self, picture: np.ndarray) -> Tensor:
        """Alpha (H, W) float32 in [0, 1] for a uint8 sRGB picture (H, W, 3)."""
        if picture.dtype != np.uint8 or picture.ndim != 3 or picture.shape[2] != 3:
            raise ValueError(f"SelfieMatter expects a uint8 (H, W, 3) picture, got {picture.dtype} {picture.shape}")
        res = self._seg.process(np.ascontiguousarray(picture))
        m = res.segmentation_mask
        if m is None:
            return torch.zeros(picture.shape[:2])
        return torch.from_numpy(np.clip(m, 0.0, 1.0).astype(np.float32))


def estimate_foreground(image: Tensor, alpha: Tensor, backdrop: Tensor | None = None,
                        radii: tuple[int, ...] = (45, 15, 5, 2)) -> Tensor:
    """Foreground colour F (H, W, 3) such that ``image ~ alpha F + (1 - alpha) backdrop``.

    image: (H, W, 3) linear observation; alpha: (H, W) the matte in use; backdrop: the
    capture's background radiance (H, W, 3) or None for black. F is alpha-weighted local
    foreground colour, corrected at each scale by the residual of the compositing equation.
    """
    a = alpha.clamp(0, 1)[None].double()  # (1, H, W)
    img = image.permute(2, 0, 1).double()
    bg = torch.zeros_like(img) if backdrop is None else backdrop.permute(2, 0, 1).double()
    fg = img.clone()
    for r in radii:
        wf = box(a, r)
        fb = box(fg * a, r) / wf.clamp_min(1e-6)
        wb = box(1 - a, r)
        bb = box(bg * (1 - a), r) / wb.clamp_min(1e-6)
        fg = fb + a * (img - a * fb - (1 - a) * bb)
        fg = torch.where(wf > 1e-6, fg, img)
    fg = fg.clamp_min(0.0)
    return fg.permute(1, 2, 0).float()


def composite(image: Tensor, alpha: Tensor, background: Tensor, premultiplied: bool,
              backdrop: Tensor | None = None) -> Tensor:
    """Linear composite (H, W, 3) of the performer `image` over `background` (H, W, 3).

    premultiplied: True when `image` is premultiplied by exactly this `alpha` (the
    dataset's or network's alpha, light-stage images over black): the exact over
    ``image + (1 - alpha) background``. False for an estimated matte: the foreground colour
    is estimated first (`estimate_foreground`) and ``alpha F + (1 - alpha) background`` used.
    """
    a = alpha.clamp(0, 1)[..., None]
    if premultiplied:
        return image + (1 - a) * background
    fg = estimate_foreground(image, alpha, backdrop)
    return a * fg + (1 - a) * background


def matte_errors(alpha: Tensor, truth: Tensor, region: Tensor | None = None) -> dict[str, float]:
    """SAD (sum of absolute differences / 1000, the matting benchmarks' unit) and MSE of an
    alpha against the truth, over `region` (bool (H, W)) or the whole frame."""
    d = (alpha.float() - truth.float())
    if region is not None:
        d = d[region]
    return {"sad": float(d.abs().sum()) / 1000.0, "mse": float((d * d).mean()) if d.numel() else 0.0}


def edge_region(truth: Tensor, width: int) -> Tensor:
    """Pixels within `width` of the true alpha edge (bool (H, W))."""
    fg = truth > 0.5
    return _dilate(fg, width) & _dilate(~fg, width)


def estimate_matte(frame: Tensor, mode: MatteMode, matter: SelfieMatter, rim: Tensor | None = None,
                   cfg: MatteConfig = MatteConfig()) -> Tensor:
    """Alpha (H, W) for one linear frame (H, W, 3) shot against the black backdrop.

    mode "selfie": SelfieSegmentation on the frame's picture. "guided": that, refined with
    the frame as guide and backdrop test. "rim": SelfieSegmentation on the rim-lit picture
    (frame plus `rim`, the same performer lit from behind, balanced), refined with a
    six-channel guide (frame and rim-lit picture) and the rim-lit picture's backdrop test.
    """
    from nervp.colour import metered_exposure, to_display

    frame = frame.float().cpu()
    if mode == "rim":
        if rim is None:
            raise ValueError("mode 'rim' needs the rim-lit rendering")
        lit_lin = rim_balance(frame, rim.float().cpu())
    else:
        lit_lin = frame
    ex = metered_exposure(frame if float(frame.max()) > 0 else lit_lin)
    coarse = matter(to_display(lit_lin, ex).numpy())
    if mode == "selfie":
        return coarse
    guide = guide_image(frame, ex)
    if mode == "guided":
        return refine_matte(coarse, guide, guide, cfg)
    lit = guide_image(lit_lin, ex)
    return refine_matte(coarse, torch.cat([guide, lit], -1), lit, cfg)


def rim_weights(dome: Dome, calibration: np.ndarray | None = None,
                camera_direction: np.ndarray | tuple[float, float, float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    """LED weights (L, 3) of the rim light used for matting: every LED behind the performer
    (on the far side of the plane facing the camera) at its solid angle, i.e. a uniform
    back hemisphere. Each silhouette point faces some of them at grazing angle, so the
    whole outline lights up. (Measured better than two or three rim spots: every part of
    the outline gets light, see docs/RELIGHT.md.)

    dome: the `Dome`; calibration: (L, 3) LED irradiance (`led_calibration`), default ones;
    camera_direction: from the head toward the camera, world frame.
    """
    c = np.asarray(camera_direction, dtype=np.float64)
    c = c / np.linalg.norm(c)
    behind = (np.asarray(dome.direction) @ c) < 0
    irr = np.repeat((dome.solid_angle * behind)[:, None], 3, 1)
    return (irr if calibration is None else irr / np.asarray(calibration)).astype(np.float32)
