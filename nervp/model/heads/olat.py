"""The paper's reflectance head: the network emits the L OLAT images themselves."""

from __future__ import annotations

from torch import Tensor

from nervp.model.heads.base import Params, ReflectanceHead, inv_softplus4, softplus4


class OLATHead(ReflectanceHead):
    """R = L non-negative (softplus) OLAT images; no learned tensors of its own."""

    @property
    def n_images(self) -> int:
        return self.cfg.n_lights

    def output_bias(self, mean: Tensor, params: Params) -> Tensor:
        return inv_softplus4(mean).reshape(-1)

    def decode(self, raw: Tensor, alpha: Tensor) -> Tensor:
        B, _, H, W = raw.shape
        return softplus4(raw).view(B, self.n_images, 3, H, W) * alpha[:, None]

    def lights(self, images: Tensor, params: Params, idx: Tensor | None = None) -> Tensor:
        return images if idx is None else images[:, idx]

    def project(self, olat: Tensor, params: Params) -> Tensor:
        return olat.float()
