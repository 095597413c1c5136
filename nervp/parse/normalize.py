"""Semantic-aware normalisation of a source performer's parameters (supplementary eq. 6).

Per dimension of θ and, separately, of φ, the source's distribution N(μ_s, σ_s²) is mapped
onto the target's N(μ_t, σ_t²):

    X̂_s = (σ_t / σ_s) (X_s − μ_s) + μ_t

Means and population standard deviations (ddof 0) come from the valid frames only, and
the arithmetic runs in float64, so after the mapping the source's per-dimension mean and
deviation equal the target's to float precision.

Guard: a source dimension whose deviation is below `min_std` (it barely moves -- e.g. a
performer who never turns their head in roll) would be blown up by σ_t / σ_s; such a
dimension is only shifted (scale 1) and reported. A source with fewer than two valid frames
has no deviation at all and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from nervp.errors import NervpError
from nervp.structures.face import FaceParams, NormStats

THETA_NAMES = ("rot_x", "rot_y", "rot_z", "trans_x", "trans_y", "trans_z")
# Smallest deviation that is scaled: rad for rotation, m for translation, units of φ.
MIN_STD_THETA = np.array([1e-3, 1e-3, 1e-3, 1e-4, 1e-4, 1e-4])
MIN_STD_PHI = 1e-3


@dataclass(frozen=True)
class NormReport:
    """What `normalize` did. scale_theta (6,), scale_phi (E,): σ_t / σ_s per dimension (1 where
    guarded); guarded: names of the dimensions only shifted; clipped: fraction of φ values
    `retarget` clipped to the model's range afterwards (0 when not clipped)."""

    scale_theta: np.ndarray
    scale_phi: np.ndarray
    guarded: tuple[str, ...]
    clipped: float = 0.0

    def to_json(self) -> dict:
        return {"scale_theta": self.scale_theta.tolist(), "scale_phi": self.scale_phi.tolist(),
                "guarded": list(self.guarded), "clipped_fraction": self.clipped}


def param_stats(params: FaceParams) -> NormStats:
    """Per-dimension mean and deviation of θ and φ over the valid frames."""
    valid = params.valid.numpy().astype(bool)
    th = params.theta.double().numpy()[valid]
    ph = params.phi.double().numpy()[valid]
    if th.shape[0] == 0:
        raise NervpError("no valid frames to compute parameter statistics from")
    return NormStats(th.mean(0), th.std(0), ph.mean(0), ph.std(0), int(th.shape[0]), params.expr_names)


def check_compatible(source: FaceParams | NormStats, target: FaceParams | NormStats) -> None:
    """Refuse parameter sets from different head models (expression names must agree)."""
    if tuple(source.expr_names) != tuple(target.expr_names):
        raise NervpError(f"source and target parameters use different expression dimensions "
                         f"({len(source.expr_names)} vs {len(target.expr_names)}: "
                         f"{list(source.expr_names)[:4]}... vs {list(target.expr_names)[:4]}...): "
                         "track both with the same nervp head model")


def _map(x: np.ndarray, mu_s, sd_s, mu_t, sd_t, min_std, names) -> tuple[np.ndarray, np.ndarray, list[str]]:
    small = sd_s < min_std
    scale = np.where(small, 1.0, sd_t / np.where(small, 1.0, sd_s))
    return scale * (x - mu_s) + mu_t, scale, [n for n, s in zip(names, small, strict=True) if s]


def normalize(source: FaceParams, target: NormStats, source_stats: NormStats | None = None,
              theta: bool = True, phi: bool = True) -> tuple[FaceParams, NormReport]:
    """Map the source's θ and φ onto the target's statistics (eq. 6).

    Args:
        source: the source performer's fitted parameters (all frames are mapped; the statistics
            use the valid ones).
        target: the target's statistics (saved with its parameters).
        source_stats: the source's statistics (default: computed from `source`).
        theta, phi: which parameter groups to normalise (False leaves that group as is).

    Returns the normalised parameters (identity, colour and camera unchanged) and a report.
    """
    check_compatible(source, target)
    n_valid = int(source.valid.sum())
    if n_valid < 2:
        raise NervpError(f"the source has {n_valid} valid frame(s): normalisation (eq. 6) needs the "
                         "deviation of at least 2 frames; give a longer source clip or pass --no-normalize")
    if target.n_frames < 2:
        raise NervpError(f"the target statistics come from {target.n_frames} frame(s): eq. 6 needs a "
                         "target with at least 2 frames")
    s = source_stats or param_stats(source)
    th = source.theta.double().numpy()
    ph = source.phi.double().numpy()
    sc_th, sc_ph, guarded = np.ones(6), np.ones(len(s.phi_mean)), []
    if theta:
        th, sc_th, g = _map(th, s.theta_mean, s.theta_std, target.theta_mean, target.theta_std,
                            MIN_STD_THETA, THETA_NAMES)
        guarded += g
    if phi:
        ph, sc_ph, g = _map(ph, s.phi_mean, s.phi_std, target.phi_mean, target.phi_std,
                            MIN_STD_PHI, s.expr_names)
        guarded += g
    out = source.replace(theta=torch.from_numpy(th).float(), phi=torch.from_numpy(ph).float())
    return out, NormReport(sc_th, sc_ph, tuple(guarded))


def clip_phi(params: FaceParams) -> tuple[FaceParams, float]:
    """φ clipped to the fitter's bounds (`nervp.parse.fit.PHI_BOUNDS`): eq. 6 can carry a rare
    source frame beyond anything the model represents (e.g. a smile of -1, lips through each
    other). Returns the clipped parameters and the fraction of values that were changed."""
    from nervp.face import load_head_model
    from nervp.parse.fit import phi_bounds

    model = load_head_model()
    if tuple(model.expr_names) != tuple(params.expr_names):
        return params, 0.0
    lo, hi = (b.float() for b in phi_bounds(model))
    out = torch.minimum(torch.maximum(params.phi, lo), hi)
    return params.replace(phi=out), float((out != params.phi).float().mean())


def retarget(source: FaceParams, target: FaceParams, target_stats: NormStats, enabled: bool = True,
             theta: bool = True, phi: bool = True, clip: bool = True) -> tuple[FaceParams, NormReport | None]:
    """The source's motion on the target's face: θ and φ normalised to the target (eq. 6;
    `enabled=False` for the ablation), then (`clip`) φ clipped to the model's range, with the
    target's identity β̄, diffuse colour and camera, ready for `conditioning_maps`. The
    report's `clipped` is the fraction of φ values the clipping changed."""
    check_compatible(source, target)
    if tuple(source.id_names) != tuple(target.id_names):
        raise NervpError("source and target parameters use different identity dimensions: track both "
                         "with the same nervp head model")
    out, report = normalize(source, target_stats, theta=theta, phi=phi) if enabled else (source, None)
    if clip:
        out, frac = clip_phi(out)
        if report is not None:
            report = NormReport(report.scale_theta, report.scale_phi, report.guarded, frac)
    return out.replace(beta=target.beta, colour=target.colour, colour_levels=target.colour_levels,
                       camera=target.camera, beta_frames=None), report


class CausalNormalizer:
    """Eq. 6 online, one frame at a time (`nervp live` and `reenact --causal`).

    The source's statistics are not known ahead of a live stream, so μ_s and σ_s are the
    running mean and population deviation (Welford, float64) of the source's θ and φ over the
    frames given so far, the current one included. For the first `warmup` frames a dimension
    is only shifted (scale 1: X̂ = X − μ_s + μ_t, so the very first frame maps onto the
    target's mean), because a deviation from a handful of frames would scale noise by σ_t / σ_s;
    after that the full map applies, with the guard of `normalize` (deviation below `min_std`:
    shifted only). Then, as `retarget`, φ is clipped to the model's range (`clip`).
    """

    def __init__(self, target_stats: NormStats, enabled: bool = True, clip: bool = True, warmup: int = 25,
                 theta: bool = True, phi: bool = True) -> None:
        if warmup < 2:
            raise NervpError(f"the eq. 6 warm-up must be at least 2 frames, got {warmup}")
        if target_stats.n_frames < 2:
            raise NervpError(f"the target statistics come from {target_stats.n_frames} frame(s): eq. 6 needs a "
                             "target with at least 2 frames")
        self.t = target_stats
        self.enabled, self.warmup, self.theta, self.phi = enabled, warmup, theta, phi
        E = len(target_stats.phi_mean)
        self.n = 0
        self.mean = np.zeros(6 + E)
        self.m2 = np.zeros(6 + E)
        self.bounds = None
        if clip:
            from nervp.face import load_head_model
            from nervp.parse.fit import phi_bounds

            model = load_head_model()
            if tuple(model.expr_names) == tuple(target_stats.expr_names):
                self.bounds = tuple(b.float() for b in phi_bounds(model))

    def __call__(self, theta: np.ndarray | torch.Tensor, phi: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(θ (6,), φ (E,)) float32 of the next source frame on the target's statistics."""
        th = torch.as_tensor(theta).double().numpy().reshape(6)
        ph = torch.as_tensor(phi).double().numpy().reshape(-1)
        if ph.shape[0] != len(self.t.phi_mean):
            raise NervpError(f"the source has {ph.shape[0]} expression dimensions, the target "
                             f"{len(self.t.phi_mean)}: track both with the same nervp head model")
        x = np.concatenate([th, ph])
        self.n += 1
        d = x - self.mean
        self.mean += d / self.n
        self.m2 += d * (x - self.mean)
        if self.enabled:
            sd = np.sqrt(self.m2 / self.n) if self.n >= self.warmup else np.zeros_like(self.m2)
            if self.theta:
                th = _map(th, self.mean[:6], sd[:6], self.t.theta_mean, self.t.theta_std, MIN_STD_THETA,
                          THETA_NAMES)[0]
            if self.phi:
                ph = _map(ph, self.mean[6:], sd[6:], self.t.phi_mean, self.t.phi_std, MIN_STD_PHI,
                          self.t.expr_names)[0]
        th_t, ph_t = torch.from_numpy(th).float(), torch.from_numpy(ph).float()
        if self.bounds is not None:
            ph_t = torch.minimum(torch.maximum(ph_t, self.bounds[0]), self.bounds[1])
        return th_t, ph_t
