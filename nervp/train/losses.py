"""The translator's objective (paper eq. 1-5).

    L = λ1 L_GAN + L_color + L_normal + L_albedo + λ2 L_context,   λ1 = λ2 = 0.1 (paper)

L_color: MSE + (1 - MS-SSIM) on the reflectance field. L_normal: 1 - cosine on the performer.
L_albedo: (1 - MS-SSIM) (+ VGG-19 features when a weights file is given). L_GAN: a conditional
PatchGAN (non-saturating form). L_context: a frozen shape regressor reads the full-lit image
re-rendered from the predicted field and its β is pulled toward the target's β̄ (L1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from pytorch_msssim import ms_ssim, ssim
from torch import Tensor

from nervp.model.translator import FieldPrediction


@dataclass(frozen=True)
class LossConfig:
    """Loss weights; 0 turns a term off (for ablations)."""

    mse: float = 1.0
    msssim: float = 1.0
    normal: float = 1.0
    albedo: float = 1.0
    alpha: float = 1.0
    """Our addition: MSE on the predicted coverage (the paper has no alpha output)."""
    gan: float = 0.1
    """λ1 of the paper."""
    gan_start: float = 0.0
    """Fraction of the run trained without the adversarial term (and without updating the
    discriminator) before it starts; 0: from the first step, as in the paper."""
    context: float = 0.1
    """λ2 of the paper."""
    temporal: float = 0.0
    """Our addition (docs/HFR.md): L1 between the predicted full-lit change from the previous
    frame's prediction (no gradient through it) and the true change, so the output moves as much
    as the truth; one more forward pass per step when on. 0: off."""
    msssim_lights: int = 8
    """MS-SSIM is evaluated on this many randomly chosen OLAT images per sample (all when 0)."""
    vgg_weights: str | None = None
    """Path to VGG-19 weights (safetensors) for the albedo's feature term; off when None."""


def _window(side: int) -> int | None:
    """Largest odd Gaussian window <= 11 that MS-SSIM's four downsamplings allow (None: too small)."""
    for w in (11, 9, 7, 5, 3):
        if side > (w - 1) * 16:
            return w
    return None


def msssim_loss(x: Tensor, y: Tensor, data_range: float = 1.0) -> Tensor:
    """1 - MS-SSIM of (N, C, H, W) images (plain SSIM when the image is too small for 5 scales)."""
    x, y = x.float().clamp_min(0), y.float().clamp_min(0)
    w = _window(min(x.shape[-2:]))
    if w is None:
        return 1 - ssim(x, y, data_range=data_range, win_size=3, size_average=True)
    return 1 - ms_ssim(x, y, data_range=data_range, win_size=w, size_average=True)


def field_mse(pred: FieldPrediction, target: Tensor) -> Tensor:
    """Mean squared error of all L predicted OLAT images against `target` (B, L, 3, H, W), as the
    prediction's head evaluates it (the low-rank head: exactly, in basis space, never holding
    the L predicted images or their gradients in memory)."""
    return pred.mse(target)


def disc_fields(pred: FieldPrediction, target: Tensor) -> tuple[Tensor, Tensor]:
    """(fake, real) reflectance fields as the discriminator sees them, (B, R * 3, H, W): what the
    head emits, and the real field projected into the head's space (the L OLAT images for the
    olat head; for the low-rank head the real field's least-squares basis coordinates under the
    current, detached, coefficients)."""
    return pred.refl.float().flatten(1, 2), pred.project(target).flatten(1, 2)


def normal_loss(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """1 - cos(angle), averaged over each sample's pixels where mask (B, 1, H, W) > 0, then over
    samples (so splitting a batch across processes gives the same mean)."""
    cos = (F.normalize(pred, dim=1) * F.normalize(target, dim=1, eps=1e-6)).sum(1, keepdim=True)
    w = (mask > 0).float()
    return (((1 - cos) * w).sum((1, 2, 3)) / w.sum((1, 2, 3)).clamp_min(1)).mean()


def gan_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def gan_g_loss(fake_logits: Tensor) -> Tensor:
    return F.softplus(-fake_logits).mean()


def light_subset(n_lights: int, k: int, generator: torch.Generator) -> Tensor:
    """k distinct light indices (all lights when k <= 0 or k >= n_lights)."""
    if k <= 0 or k >= n_lights:
        return torch.arange(n_lights)
    return torch.randperm(n_lights, generator=generator)[:k]


def temporal_loss(model, pred: FieldPrediction, x_prev: Tensor, change: Tensor, autocast) -> Tensor:
    """Mean |(F_t - sg(F_{t-1})) - (G_t - G_{t-1})| of full-lit images (B, 3, H, W), F the
    prediction (F_{t-1} from `x_prev` without gradient), G the truth's `change` = G_t - G_{t-1}:
    the frame-to-frame change the network makes against the one the truth makes."""
    with torch.no_grad(), autocast():
        prev = model(x_prev).full_lit().float()
    return ((pred.full_lit().float() - prev) - change).abs().mean()
