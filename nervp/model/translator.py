"""The rendering-to-video translator (paper section 3.3, supplementary section 8, Fig. 15).

A U-Net encoder-decoder reads the 11 most recent conditioning frames (stacked on the channel
axis) and predicts, for the newest frame, the reflectance field plus normal, albedo and alpha.
Two reflectance heads share one interface:

* ``olat``: the paper's head, L x RGB images directly;
* ``lowrank``: K RGB basis images and a learned (K, L) coefficient matrix initialised from a
  PCA of the target's training OLAT images, so OLAT_l = sum_k C[k, l] * basis_k. The network
  carries K x 3 output channels instead of L x 3, which is what caps the paper's resolution.
  With ``basis="nmf"`` basis images and coefficients are non-negative (softplus images,
  coefficients kept >= 0 by the trainer, started from `nmf_coeffs`).

All reflectance outputs are in the run's normalised linear radiance units (dataset radiance
divided by `olat_scale`, stored in the run's config).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class TranslatorConfig:
    """Architecture of the translator."""

    in_frames: int = 11
    """Conditioning frames per input window (the paper: 11)."""
    cond_channels: int = 9
    """Channels of one conditioning frame (diffuse 3 + PNCC 3 + landmark image 3)."""
    base_channels: int = 32
    """Channels of the first encoder level; doubled at each level up to max_channels."""
    max_channels: int = 256
    depth: int = 4
    """Number of 2x downsamplings."""
    head: Literal["olat", "lowrank"] = "olat"
    """Reflectance head: the paper's L images, or K basis images + coefficients."""
    rank: int = 16
    """K, basis images of the low-rank head."""
    basis: Literal["pca", "nmf"] = "pca"
    """Low-rank head only. `pca`: signed basis images and coefficients, started from a PCA of the
    training OLAT images. `nmf`: non-negative basis images (softplus, as the olat head's images)
    and coefficients (kept >= 0 by the trainer), started from a non-negative factorisation, so
    every materialised OLAT image is non-negative too."""
    n_lights: int = 96
    alpha_margin: float = 0.05
    """Coverage is clamp((1 + 2m) sigmoid(x) - m, 0, 1) with this margin m, so it can be exactly
    0 off the performer and 1 on it. A bare sigmoid (m = 0) only approaches 0, and its vanishing
    gradient leaves a 1-2 % coverage haze over the whole backdrop, lit by the premultiplied field
    (m = 0.05: a third less haze, +0.21 dB, docs/TRANSLATOR.md)."""


def coverage(logit: Tensor, margin: float) -> Tensor:
    """Alpha from the network's logit: a sigmoid stretched by `margin` at both ends and clamped,
    so full and zero coverage are reached at finite logits (|x| ~ ln(1/margin))."""
    a = torch.sigmoid(logit)
    return a if margin == 0 else ((1 + 2 * margin) * a - margin).clamp(0.0, 1.0)


@dataclass(frozen=True)
class FieldPrediction:
    """One batch of predicted reflectance fields (float32, normalised linear radiance).

    Attributes:
        refl: (B, R, 3, H, W) what the reflectance head emits, premultiplied by alpha (as the
            datasets' images are): the L OLAT images (olat head,
            R = L) or the K basis images (low-rank head, R = K).
        coeffs: (K, L) the low-rank head's coefficients, or None for the olat head.
        normal: (B, 3, H, W) unit world-space normals.
        albedo: (B, 3, H, W) linear diffuse albedo in [0, 1], premultiplied by alpha.
        alpha: (B, 1, H, W) coverage in [0, 1].

    The low-rank head's L images are only materialised on request (`olat`, `lights`), so a
    loss written against `lights` and `full_lit` costs K, not L, images of memory.
    """

    refl: Tensor
    coeffs: Tensor | None
    normal: Tensor
    albedo: Tensor
    alpha: Tensor

    @property
    def basis(self) -> Tensor | None:
        """(B, K, 3, H, W) basis images of the low-rank head, None for the olat head."""
        return None if self.coeffs is None else self.refl

    @property
    def olat(self) -> Tensor:
        """(B, L, 3, H, W) all L OLAT images."""
        if self.coeffs is None:
            return self.refl
        return torch.einsum("bkchw,kl->blchw", self.refl.float(), self.coeffs.float())

    def lights(self, idx: Tensor) -> Tensor:
        """(B, len(idx), 3, H, W) the OLAT images of the lights `idx`."""
        if self.coeffs is None:
            return self.refl[:, idx]
        return torch.einsum("bkchw,kl->blchw", self.refl.float(), self.coeffs[:, idx].float())

    def full_lit(self) -> Tensor:
        """(B, 3, H, W) the sum of all OLAT images (every light at unit weight): the full-lit image."""
        if self.coeffs is None:
            return self.refl.sum(1)
        return torch.einsum("bkchw,k->bchw", self.refl.float(), self.coeffs.float().sum(1))


def basis_coordinates(olat: Tensor, coeffs: Tensor, ridge: float = 1e-6) -> Tensor:
    """(B, K, 3, H, W) least-squares basis images b with b @ coeffs closest to `olat` (B, L, 3, H, W)."""
    C = coeffs.float()
    gram = C @ C.T
    gram = gram + ridge * gram.diagonal().mean() * torch.eye(C.shape[0], device=C.device)
    z = torch.einsum("blchw,kl->bkchw", olat.float(), C)
    return torch.einsum("bkchw,kj->bjchw", z, torch.linalg.inv(gram))


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    groups = max(1, min(8, cout // 8))
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1),
        nn.GroupNorm(groups, cout),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.GroupNorm(groups, cout),
        nn.LeakyReLU(0.2, inplace=True),
    )


class Translator(nn.Module):
    """U-Net from a window of conditioning maps to a reflectance field.

    Input: (B, in_frames * cond_channels, H, W) with H and W divisible by 2**depth.
    GroupNorm (no batch statistics) keeps single- and multi-process training equivalent.
    """

    def __init__(self, cfg: TranslatorConfig):
        super().__init__()
        self.cfg = cfg
        ch = [min(cfg.base_channels * 2**i, cfg.max_channels) for i in range(cfg.depth + 1)]
        self.stem = _block(cfg.in_frames * cfg.cond_channels, ch[0])
        self.down = nn.ModuleList(_block(ch[i], ch[i + 1], stride=2) for i in range(cfg.depth))
        self.up = nn.ModuleList(_block(ch[i + 1] + ch[i], ch[i]) for i in reversed(range(cfg.depth)))
        out_refl = cfg.n_lights * 3 if cfg.head == "olat" else cfg.rank * 3
        self.refl = nn.Conv2d(ch[0], out_refl, 1)
        self.aux = nn.Conv2d(ch[0], 3 + 3 + 1, 1)  # normal, albedo, alpha
        if cfg.head == "lowrank":
            self.coeffs = nn.Parameter(torch.zeros(cfg.rank, cfg.n_lights))
        else:
            self.register_parameter("coeffs", None)

    def init_coeffs(self, coeffs: Tensor) -> None:
        """Set the low-rank coefficient matrix (K, L), e.g. from a PCA of training OLAT images."""
        if self.coeffs is None:
            raise ValueError("init_coeffs only applies to the low-rank head")
        if coeffs.shape != self.coeffs.shape:
            raise ValueError(f"coefficients must be {tuple(self.coeffs.shape)}, got {tuple(coeffs.shape)}")
        with torch.no_grad():
            self.coeffs.copy_(coeffs)

    def init_output(self, mean_olat: Tensor, mean_alpha: float, weight_scale: float = 0.1) -> None:
        """Start the reflectance head at the training data's mean: each output channel's bias
        gives that light's mean value on the performer (`mean_olat`, (L, 3) network units, the
        mean over all pixels, divided by the mean coverage `mean_alpha`) and the 1x1 weights
        are scaled down, so the first steps refine a sensible field instead of unlearning an
        arbitrary offset (Adam moves each weight only about `lr` per step). Same for alpha."""
        cfg = self.cfg
        if mean_olat.shape != (cfg.n_lights, 3):
            raise ValueError(f"mean_olat must be ({cfg.n_lights}, 3), got {tuple(mean_olat.shape)}")
        m = mean_olat.double() / min(max(mean_alpha, 1e-3), 1.0)  # values on the performer
        with torch.no_grad():
            self.refl.weight.mul_(weight_scale)
            if cfg.head == "olat":
                bias = _inv_softplus4(m)
            else:  # least-squares basis values of the mean field
                C = self.coeffs.detach().double().cpu()
                bias = torch.linalg.solve(C @ C.T, C @ m)
                if cfg.basis == "nmf":
                    bias = _inv_softplus4(bias)
            self.refl.bias.copy_(bias.reshape(-1).to(self.refl.bias))
            a = (min(max(mean_alpha, 1e-3), 1 - 1e-3) + cfg.alpha_margin) / (1 + 2 * cfg.alpha_margin)
            self.aux.bias[6] = float(torch.logit(torch.tensor(a)))

    def forward(self, x: Tensor) -> FieldPrediction:
        cfg = self.cfg
        m = 2**cfg.depth
        if x.dim() != 4 or x.shape[1] != cfg.in_frames * cfg.cond_channels:
            raise ValueError(f"translator input must be (B, {cfg.in_frames * cfg.cond_channels}, H, W), "
                             f"got {tuple(x.shape)}")
        if x.shape[-1] % m or x.shape[-2] % m:
            raise ValueError(f"image size {tuple(x.shape[-2:])} must be divisible by {m}")
        skips = [self.stem(x)]
        for d in self.down:
            skips.append(d(skips[-1]))
        h = skips.pop()
        for u in self.up:
            s = skips.pop()
            h = u(torch.cat([F.interpolate(h, size=s.shape[-2:], mode="bilinear", align_corners=False), s], 1))
        B, _, H, W = h.shape
        refl = self.refl(h)
        aux = self.aux(h)
        normal = F.normalize(aux[:, 0:3], dim=1, eps=1e-6)
        alpha = coverage(aux[:, 6:7], cfg.alpha_margin)
        albedo = torch.sigmoid(aux[:, 3:6]) * alpha  # premultiplied, as in the datasets
        if cfg.head == "olat":
            olat = F.softplus(refl, beta=4.0).view(B, cfg.n_lights, 3, H, W) * alpha[:, None]
            return FieldPrediction(olat, None, normal, albedo, alpha)
        basis = refl.view(B, cfg.rank, 3, H, W)
        if cfg.basis == "nmf":
            basis = F.softplus(basis, beta=4.0)
        return FieldPrediction(basis * alpha[:, None], self.coeffs, normal, albedo, alpha)


def _inv_softplus4(y: Tensor) -> Tensor:
    """x with softplus(x, beta=4) = y (y clamped at 1e-4: the output layer's biases)."""
    return torch.log(torch.expm1(4 * y.clamp_min(1e-4))) / 4


def pca_coeffs(olat: Tensor, rank: int, scaled: bool = False) -> Tensor:
    """(K, L) light-space basis from OLAT samples (N, L, 3, H, W) (or (N, L, ...)).

    Rows are the top-K right singular vectors of the (pixels x lights) matrix, so projecting
    an OLAT set onto them and back is the best rank-K reconstruction in least squares. With
    `scaled`, row k is multiplied by s_k / s_1 (singular values): the same span, but the basis
    images that reproduce the samples then all have about the magnitude of the first, so the
    network's output channels and Adam's equal step sizes suit every one of them (held-out
    relit PSNR +0.5 dB at 64², see docs/TRANSLATOR.md).
    """
    L = olat.shape[1]
    X = olat.transpose(0, 1).reshape(L, -1).T.double()  # (pixels, L)
    _, S, Vh = torch.linalg.svd(X, full_matrices=False)
    if rank > Vh.shape[0]:
        raise ValueError(f"rank {rank} exceeds the number of lights {L}")
    V = Vh[:rank]
    if scaled:
        V = V * (S[:rank] / S[0]).clamp_min(1e-6)[:, None]
    return V.float()


def nmf_coeffs(olat: Tensor, rank: int, iters: int = 300, max_rows: int = 50_000) -> Tensor:
    """(K, L) non-negative light-space factors of OLAT samples (N, L, 3, H, W) (or (N, L, ...)).

    Factorises the (pixels x lights) matrix X ~ W H with W, H >= 0 (Lee and Seung's multiplicative
    updates for least squares, deterministic: started from the magnitudes of the top singular
    vectors, and on at most `max_rows` evenly strided pixels). Each row of H is scaled so its
    basis image (column of W) has the mean of X: the network's K output channels then all carry
    values of one magnitude, as the olat head's do.
    """
    L = olat.shape[1]
    if rank > L:
        raise ValueError(f"rank {rank} exceeds the number of lights {L}")
    X = olat.transpose(0, 1).reshape(L, -1).T
    X = X[:: max(1, X.shape[0] // max_rows)].double().clamp_min(0)
    U, S, Vh = torch.linalg.svd(X, full_matrices=False)
    W = (U[:, :rank] * S[:rank].sqrt()).abs() + 1e-9
    H = (Vh[:rank] * S[:rank, None].sqrt()).abs() + 1e-9
    eps = 1e-12
    for _ in range(iters):
        H = H * (W.T @ X) / (W.T @ W @ H + eps)
        W = W * (X @ H.T) / (W @ (H @ H.T) + eps)
    s = W.mean(0) / X.mean().clamp_min(eps)  # basis image k then has the mean of X
    return (H * s.clamp_min(eps)[:, None]).float()


class PatchDiscriminator(nn.Module):
    """Conditional PatchGAN: sees the newest conditioning frame and a reflectance field."""

    def __init__(self, cond_channels: int, field_channels: int, base: int = 32, layers: int = 3):
        super().__init__()
        mods: list[nn.Module] = [nn.Conv2d(cond_channels + field_channels, base, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = base
        for _ in range(layers - 1):
            mods += [nn.Conv2d(c, c * 2, 4, 2, 1), nn.GroupNorm(8, c * 2), nn.LeakyReLU(0.2)]
            c *= 2
        mods += [nn.Conv2d(c, 1, 3, 1, 1)]
        self.net = nn.Sequential(*mods)

    def forward(self, cond: Tensor, field: Tensor) -> Tensor:
        """cond (B, C, H, W), field (B, F, H, W) -> (B, 1, h, w) patch logits."""
        return self.net(torch.cat([cond, field], 1))
