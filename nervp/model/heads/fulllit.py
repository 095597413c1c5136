"""The DVP baseline's head (Kim et al. 2018, the paper's "DVP"): the network emits one image, the
full-lit frame, and no reflectance field.

So that it sits behind the same interface as the other heads, the one image it emits is the
full-lit frame divided by L (the mean OLAT image), and every one of the L "OLAT images" is
that mean image: their sum is the full-lit frame, and any relighting of it is the full-lit
frame times a gain (what a method without a reflectance field can do). The default `mse`
(all L images against the truth's) is then the full-lit image's MSE up to a factor and a
constant -- sum_l (m - y_l)^2 = L (m - mean_l y_l)^2 + sum_l (y_l - mean_l y_l)^2 -- so
training with it fits the full-lit frame alone. The per-light MS-SSIM, normal and albedo terms
mean nothing for it: the benchmark trains it with them off.
"""

from __future__ import annotations

from torch import Tensor

from nervp.model.heads.base import Params, ReflectanceHead, inv_softplus4, softplus4


class FullLitHead(ReflectanceHead):
    """R = 1 non-negative image (the full-lit frame / L); every OLAT image is that image."""

    @property
    def n_images(self) -> int:
        return 1

    def output_bias(self, mean: Tensor, params: Params) -> Tensor:
        return inv_softplus4(mean.mean(0)).reshape(-1)

    def decode(self, raw: Tensor, alpha: Tensor) -> Tensor:
        B, _, H, W = raw.shape
        return softplus4(raw).view(B, 1, 3, H, W) * alpha[:, None]

    def lights(self, images: Tensor, params: Params, idx: Tensor | None = None) -> Tensor:
        n = self.cfg.n_lights if idx is None else len(idx)
        return images[:, :1].expand(-1, n, -1, -1, -1)

    def full_lit(self, images: Tensor, params: Params) -> Tensor:
        return images[:, 0] * self.cfg.n_lights

    def project(self, olat: Tensor, params: Params) -> Tensor:
        # the mean in float64: exact for L equal float32 images (their sum needs at most 24 +
        # log2 L < 53 bits), so an in-space field projects back to itself bit for bit
        return olat.double().mean(1, keepdim=True).float()
