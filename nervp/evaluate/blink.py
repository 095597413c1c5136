"""Cross-identity blink test: what the eq. 6 normalisation buys when another face drives the target.

A trained target is driven by the source performer's fitted parameters, either normalised to
the target's statistics (eq. 6) or not (`nervp reenact --no-normalize`). The translator only
sees the conditioning maps, and those are G(β̄_target, θ_driven, φ_driven): so whether the
reenacted eyes close and the mouth opens is decided by the driven parameters, and no trained
translator is needed to measure it. `driven_params` (shared with `nervp.reenact`) makes them.

Quantities, in model space (pose-free, metres cancel):

* eye aperture, per eye: the mean *signed* vertical gap (+y, model up) between the facing
  upper and lower lid landmarks (corners excluded) over the eye width (corner to corner).
  0 = closed, negative = lids pushed through each other (φ_blink beyond its range).
* mouth aperture: the same on the inner lip contour over the inner mouth width.

The ground truth is the target's *true* identity posed with the source's *true* expression
(the virtual light stage stores both). The report gives, for the driven target with and
without eq. 6: mean absolute aperture error (both eyes; mouth), the correlation with the truth,
and at the source's blink frames (truth aperture below `blink_fraction` of its open value, the
median over the clip) the driven aperture as a fraction of that open value (the mouth's open
value is the truth's 90th percentile). Two references
bound what any retargeting can reach with this tracker: `identity_only` (the target's fitted
β̄ with the source's true φ: the error of β̄ alone) and `target_self` (the target's own fitted
parameters against its own truth: how fully the tracker recovers a blink at all; its own
training maps are made from these).

Eye openness is measured this one way everywhere (it replaced the parsing stage's unsigned
"largest lid gap in mm"): signed, so lids pushed through each other read as closed rather
than open again, and relative to the eye's width, so faces of different sizes compare.

`synthetic_blink_test` is the paper's Fig. 10 on synthetic landmarks: the same performance
by a target with average eyes and by a source with small eyes (eye_size = -2.5 sd), tracked
as noisy landmarks and fitted (no rendering, no MediaPipe), then `blink_test`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from nervp.errors import NervpError
from nervp.face import HeadModel, load_head_model, shape
from nervp.parse.evaluation import synthetic_track
from nervp.parse.fit import FitConfig, fit_track, video_camera
from nervp.parse.normalize import param_stats
from nervp.reenact import driven_params
from nervp.structures.face import FaceParams, NormStats
from nervp.synth.motion import MotionConfig, sample_motion


def _pairs(up: tuple[int, ...], lo: tuple[int, ...]) -> tuple[list[int], list[int], int, int]:
    if len(up) != len(lo) or up[0] != lo[0] or up[-1] != lo[-1]:
        raise NervpError("lid/lip chains must share their corners and face each other point for point")
    return list(up[1:-1]), list(lo[1:-1]), up[0], up[-1]


def _aperture(v: Tensor, up: tuple[int, ...], lo: tuple[int, ...]) -> Tensor:
    u, lw, a, b = _pairs(up, lo)
    width = (v[:, a] - v[:, b]).norm(dim=-1)
    return (v[:, u, 1] - v[:, lw, 1]).mean(1) / width


def _vertices(model: HeadModel, beta: Tensor, phi: Tensor) -> Tensor:
    phi = torch.as_tensor(phi).double()
    beta = torch.as_tensor(beta).double()
    if beta.ndim == 1:
        beta = beta[None].expand(phi.shape[0], -1)
    return shape(model, beta, phi)


def eye_aperture(beta: Tensor, phi: Tensor, model: HeadModel | None = None) -> Tensor:
    """(T, 2) float64 signed eye aperture (subject's left, right eye) of G(β, φ); β (n_id,) or
    (T, n_id), φ (T, n_expr). See the module docstring."""
    model = model or load_head_model()
    v = _vertices(model, beta, phi)
    g = model.groups
    return torch.stack([_aperture(v, g.left_eye_upper, g.left_eye_lower),
                        _aperture(v, g.right_eye_upper, g.right_eye_lower)], dim=1)


def mouth_aperture(beta: Tensor, phi: Tensor, model: HeadModel | None = None) -> Tensor:
    """(T,) float64 signed inner-lip aperture of G(β, φ) over the inner mouth width."""
    model = model or load_head_model()
    g = model.groups
    return _aperture(_vertices(model, beta, phi), g.lips_inner_upper, g.lips_inner_lower)


@dataclass(frozen=True)
class BlinkTest:
    """Per-frame apertures (numpy, float64) and their summary (`to_json`).

    eyes: name -> (T, 2) eye apertures; mouth: name -> (T,). Names: "truth", "normalized"
    (eq. 6, then φ clipped to the model's range, as `nervp reenact` renders it), "not_normalized"
    (`--no-normalize`: clipped only), "identity_only",
    "tracked_reference" (all on the source's frames) and "target_truth", "target_self" (on the
    target's own frames). blink: (T,) bool, the source's blink frames;
    open_eye, open_mouth: the truth's open apertures (median; 90th percentile for the mouth)."""

    eyes: dict[str, np.ndarray]
    mouth: dict[str, np.ndarray]
    blink: np.ndarray
    open_eye: float
    open_mouth: float
    blink_fraction: float
    normalization: dict

    def to_json(self) -> dict:
        """Summary: per series its mean/min/max and, on the source's frames, its eye aperture at the
        blink frames as a fraction of the reference's open value; per driven series its error
        against the truth (and against the tracked reference where there is one)."""
        source_frames = ("truth", "normalized", "not_normalized", "identity_only",
                         "tracked_reference")

        def open_value(kind: str, x: np.ndarray) -> float:
            return float(np.median(x.mean(1))) if kind == "eyes" else float(np.percentile(x, 90))

        def summary(kind: str, name: str, ref_name: str) -> dict:
            d = self.eyes if kind == "eyes" else self.mouth
            a, ref = d[name], open_value(kind, d[ref_name])
            out = {"mean": float(a.mean()), "min": float(a.min()), "max": float(a.max())}
            if name != ref_name:
                t = d[ref_name]
                err = np.abs(a - t).mean()
                ok = a.std() > 0 and t.std() > 0
                out.update({"mean_abs_error": float(err), "mean_abs_error_of_open": float(err / ref) if ref > 0 else None,
                            "mean_error": float((a - t).mean()),
                            "correlation": float(np.corrcoef(a.ravel(), t.ravel())[0, 1]) if ok else None})
            if kind == "eyes" and name in source_frames and self.blink.any() and ref > 0:
                f = a.mean(1)[self.blink] / ref
                out["at_blinks_of_open"] = {"mean": float(f.mean()), "min": float(f.min())}
                out["closes"] = bool(f.min() < self.blink_fraction)
            return out

        res: dict = {"open_eye_aperture": self.open_eye, "open_mouth_aperture": self.open_mouth,
                     "blink_fraction": self.blink_fraction, "blink_frames": np.flatnonzero(self.blink).tolist(),
                     "normalization": self.normalization}
        for kind in ("eyes", "mouth"):
            d = self.eyes if kind == "eyes" else self.mouth
            res[kind] = {name: summary(kind, name, "truth") for name in source_frames if name in d}
            if "tracked_reference" in d:
                res[kind]["vs_tracked_reference"] = {
                    name: summary(kind, name, "tracked_reference") for name in ("tracked_reference", "normalized",
                                                                                "not_normalized")}
            if "target_self" in d:
                res[kind]["target_self"] = summary(kind, "target_self", "target_truth")
        return res


def blink_test(target: FaceParams, target_stats: NormStats, source: FaceParams, source_truth_phi: Tensor,
               target_truth_beta: Tensor, target_truth_phi: Tensor | None = None,
               reference: FaceParams | None = None, blink_fraction: float = 0.5,
               model: HeadModel | None = None) -> BlinkTest:
    """Drive `target` (its fitted β̄ and statistics, as saved with a run) by `source` (fitted
    parameters) with and without eq. 6 and compare the apertures with the truth.

    Args:
        target: the target's fitted parameters (β̄ is used; θ, φ only for `target_self`).
        target_stats: the target's normalisation statistics (`param_stats` of its fit).
        source: the source performer's fitted parameters (T frames).
        source_truth_phi: (T, n_expr) the source's true expression.
        target_truth_beta: (n_id,) the target's true identity.
        target_truth_phi: (T_t, n_expr) the target's own true expression, for the `target_self`
            reference (optional).
        reference: the tracker's fit of the target's identity performing the source's
            performance (optional; a third simulation): the apertures the target's own
            conditioning maps would show for it, the distribution eq. 6 aims at.
        blink_fraction: a source frame is a blink where the truth's eye aperture (mean of both
            eyes) is below this fraction of its open value (the median over the clip).
    """
    model = model or load_head_model()
    truth_phi = torch.as_tensor(source_truth_phi)
    if truth_phi.shape[0] != source.n_frames:
        raise NervpError(f"the source has {source.n_frames} fitted frames but {truth_phi.shape[0]} true ones")
    on, report = driven_params(target, target_stats, source, normalize=True)
    off, _ = driven_params(target, target_stats, source, normalize=False)
    beta_fit, beta_true = target.beta, torch.as_tensor(target_truth_beta)
    phis = {"truth": (beta_true, truth_phi), "normalized": (beta_fit, on.phi),
            "not_normalized": (beta_fit, off.phi), "identity_only": (beta_fit, truth_phi)}
    if reference is not None:
        if reference.n_frames != source.n_frames:
            raise NervpError(f"the reference has {reference.n_frames} frames, the source {source.n_frames}")
        phis["tracked_reference"] = (reference.beta, reference.phi)
    if target_truth_phi is not None:
        phis["target_truth"] = (beta_true, torch.as_tensor(target_truth_phi))
        phis["target_self"] = (beta_fit, target.phi)
    eyes = {k: eye_aperture(b, p, model).numpy() for k, (b, p) in phis.items()}
    mouth = {k: mouth_aperture(b, p, model).numpy() for k, (b, p) in phis.items()}
    truth_eye = eyes["truth"].mean(1)
    open_eye = float(np.median(truth_eye))
    open_mouth = float(np.percentile(mouth["truth"], 90))
    if open_eye <= 0:
        raise NervpError("the source's eyes are closed in most frames: no open aperture to compare with")
    blink = truth_eye < blink_fraction * open_eye
    return BlinkTest(eyes, mouth, blink, open_eye, open_mouth, blink_fraction, report)


def synthetic_blink_test(frames: int = 100, fps: float = 25.0, eye_size: float = -2.5, seed: int = 1,
                         source_seed: int | None = None, noise_px: float = 0.3,
                         fit_cfg: FitConfig = FitConfig()) -> BlinkTest:
    """Fig. 10 (module docstring): a target (average identity) and a small-eyed source perform
    `frames` frames of blinks, speech and head motion (`seed`; the source performs its own with
    `source_seed`, else the same), seen as landmarks with `noise_px` Gaussian noise and fitted
    with `fit_cfg`; then `blink_test` with both truths (so `target_self` is included)."""
    model = load_head_model()
    cam = video_camera(256, 256, fit_cfg.fov_y_deg, fit_cfg.camera_distance_m)
    times = np.arange(frames) / fps

    def perform(s: int) -> tuple[Tensor, Tensor]:
        th, ph = sample_motion(model.expr_names, frames / fps, s, MotionConfig(blink_rate_hz=0.8)).at(times)
        return torch.from_numpy(th), torch.from_numpy(ph)

    b_t = torch.zeros(model.n_id)
    b_s = torch.zeros(model.n_id)
    b_s[model.id_index("eye_size")] = eye_size
    th_t, ph_t = perform(seed)
    th_s, ph_s = perform(seed if source_seed is None else source_seed)
    cfg = replace(fit_cfg, identity_frames=min(fit_cfg.identity_frames, frames))
    target = fit_track(synthetic_track(model, cam, b_t, th_t, ph_t, fps, noise_px, seed), cam, cfg, model)
    source = fit_track(synthetic_track(model, cam, b_s, th_s, ph_s, fps, noise_px, seed + 1), cam, cfg, model)
    return blink_test(target, param_stats(target), source, ph_s, b_t, ph_t, model=model)


__all__ = ["BlinkTest", "blink_test", "eye_aperture", "mouth_aperture", "synthetic_blink_test"]
