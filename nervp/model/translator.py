"""The rendering-to-video translator (paper section 3.3, supplementary section 8, Fig. 15).

A U-Net encoder-decoder reads the 11 most recent conditioning frames (stacked on the channel
axis) and predicts, for the newest frame, the reflectance field plus normal, albedo and alpha.
What the reflectance output is comes from the configured head (`nervp.model.heads.HEADS`):
the paper's L OLAT images (``olat``), or K basis images mixed by a learned (K, L) coefficient
matrix (``lowrank``). Every head sits behind one interface, `ReflectanceHead`.

All reflectance outputs are in the run's normalised linear radiance units (dataset radiance
divided by `olat_scale`, stored in the run's config).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nervp.model.config import TranslatorConfig
from nervp.model.heads import Params, ReflectanceHead, make_head
from nervp.model.heads.lowrank import basis_coordinates, nmf_coeffs, pca_coeffs
from nervp.structures.field import ReflectanceField


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
            datasets' images are): the L OLAT images (olat head, R = L) or the K basis images
            (low-rank head, R = K).
        params: the head's learned tensors (the translator's parameters, in
            `head.param_shapes` order): () for the olat head, ((K, L) coefficients,) for the
            low-rank head.
        normal: (B, 3, H, W) unit world-space normals.
        albedo: (B, 3, H, W) linear diffuse albedo in [0, 1], premultiplied by alpha.
        alpha: (B, 1, H, W) coverage in [0, 1].
        head: the reflectance head that made `refl` and reads it.

    A head may materialise the L images only on request (`olat`, `lights`): the low-rank head's
    loss written against `lights` and `full_lit` costs K, not L, images of memory.
    """

    refl: Tensor
    params: Params
    normal: Tensor
    albedo: Tensor
    alpha: Tensor
    head: ReflectanceHead

    @property
    def olat(self) -> Tensor:
        """(B, L, 3, H, W) all L OLAT images."""
        return self.head.lights(self.refl, self.params)

    def lights(self, idx: Tensor) -> Tensor:
        """(B, len(idx), 3, H, W) the OLAT images of the lights `idx`."""
        return self.head.lights(self.refl, self.params, idx)

    def full_lit(self) -> Tensor:
        """(B, 3, H, W) the sum of all OLAT images (every light at unit weight): the full-lit image."""
        return self.head.full_lit(self.refl, self.params)

    def mse(self, target: Tensor) -> Tensor:
        """Mean squared error of all L OLAT images against `target` (B, L, 3, H, W)."""
        return self.head.mse(self.refl, self.params, target)

    def project(self, olat: Tensor) -> Tensor:
        """(B, R, 3, H, W) what the head would emit for the OLAT images `olat` (B, L, 3, H, W),
        in least squares under the current (detached) head tensors."""
        return self.head.project(olat, self.params)

    def field(self, scale: float = 1.0) -> ReflectanceField:
        """The batch as a detached `ReflectanceField` (T = B) in linear radiance: network units
        times `scale` (the run's `olat_scale`)."""
        return self.head.field(self.refl, self.params, self.alpha, scale)


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
        self.head = make_head(cfg)
        self.refl = nn.Conv2d(ch[0], self.head.out_channels, 1)
        self.aux = nn.Conv2d(ch[0], 3 + 3 + 1, 1)  # normal, albedo, alpha
        for name, shape in self.head.param_shapes().items():  # state_dict keys: the head's names
            self.register_parameter(name, nn.Parameter(torch.zeros(shape)))

    def head_params(self) -> Params:
        """The head's learned tensors (this module's parameters), in `head.param_shapes` order."""
        return tuple(self.get_parameter(name) for name in self.head.param_shapes())

    def set_head_params(self, values: Sequence[Tensor]) -> None:
        """Set the head's learned tensors, e.g. the low-rank head's (K, L) coefficients."""
        own = self.head_params()
        if len(values) != len(own):
            raise ValueError(f"the {self.cfg.head} head has {len(own)} learned tensors, got {len(values)}")
        for p, v in zip(own, values, strict=True):
            if v.shape != p.shape:
                raise ValueError(f"head tensor must be {tuple(p.shape)}, got {tuple(v.shape)}")
            with torch.no_grad():
                p.copy_(v)

    def init_head(self, olat: Tensor) -> None:
        """Start the head's learned tensors from training OLAT samples (N, L, 3, H, W), e.g. the
        low-rank head's coefficients from their PCA."""
        self.set_head_params(self.head.init_params(olat))

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
            self.refl.bias.copy_(self.head.output_bias(m, self.head_params()).to(self.refl.bias))
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
        raw = self.refl(h)
        aux = self.aux(h)
        normal = F.normalize(aux[:, 0:3], dim=1, eps=1e-6)
        alpha = coverage(aux[:, 6:7], cfg.alpha_margin)
        albedo = torch.sigmoid(aux[:, 3:6]) * alpha  # premultiplied, as in the datasets
        refl = self.head.decode(raw, alpha)
        return FieldPrediction(refl, self.head_params(), normal, albedo, alpha, self.head)


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


__all__ = ["FieldPrediction", "PatchDiscriminator", "Translator", "TranslatorConfig", "basis_coordinates",
           "coverage", "nmf_coeffs", "pca_coeffs"]
