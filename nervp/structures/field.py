"""Reflectance fields: how each pixel of T frames responds to each LED, full (L OLAT images
per frame) or low-rank (K basis images per frame and one (K, L) coefficient matrix).

Fitted by `nervp.relight.fit_low_rank`, stored by `nervp.store.field`, consumed by `relight`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class ReflectanceField:
    """How each pixel of T frames responds to each LED.

    Attributes:
        images: (T, N, H, W, 3) float16 or float32 tensor, linear Rec. 709 radiance,
            premultiplied by alpha over black, on any device. Full field: N = L, image l is
            the frame lit by LED l alone. Low-rank field: N = K basis images.
        coeffs: None for a full field; for a low-rank field (K, L) float32 tensor on the
            same device: OLAT image l = sum_k coeffs[k, l] * images[:, k].
        alpha: optional (T, H, W) float32 coverage in [0, 1].
    """

    images: Tensor
    coeffs: Tensor | None = None
    alpha: Tensor | None = None

    def __post_init__(self) -> None:
        im = self.images
        if im.dim() != 5 or im.shape[-1] != 3:
            raise ValueError(f"ReflectanceField.images must be (T, N, H, W, 3), got {tuple(im.shape)}")
        if im.dtype not in (torch.float16, torch.float32):
            raise ValueError(f"ReflectanceField.images must be float16 or float32, got {im.dtype}")
        if self.coeffs is not None and (self.coeffs.dim() != 2 or self.coeffs.shape[0] != im.shape[1]):
            raise ValueError(f"coeffs must be (K, L) with K = {im.shape[1]} basis images, got {tuple(self.coeffs.shape)}")
        if self.alpha is not None and tuple(self.alpha.shape) != (im.shape[0], *im.shape[2:4]):
            raise ValueError(f"alpha must be (T, H, W) = {(im.shape[0], *im.shape[2:4])}, got {tuple(self.alpha.shape)}")

    @property
    def n_frames(self) -> int:
        return int(self.images.shape[0])

    @property
    def n_lights(self) -> int:
        return int(self.images.shape[1] if self.coeffs is None else self.coeffs.shape[1])

    @property
    def rank(self) -> int | None:
        """K for a low-rank field, None for a full one."""
        return None if self.coeffs is None else int(self.images.shape[1])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.images.shape[2]), int(self.images.shape[3])

    def to(self, device: torch.device | str) -> ReflectanceField:
        def mv(x: Tensor | None) -> Tensor | None:
            return None if x is None else x.to(device)

        return ReflectanceField(self.images.to(device), mv(self.coeffs), mv(self.alpha))

    def olat(self) -> Tensor:
        """(T, L, H, W, 3) float32 OLAT images (expanded from the basis for a low-rank field)."""
        if self.coeffs is None:
            return self.images.float()
        return torch.einsum("kl,tkhwc->tlhwc", self.coeffs.float(), self.images.float())

    @classmethod
    def project(cls, olat: Tensor, coeffs: Tensor) -> ReflectanceField:
        """The low-rank field of OLAT images (T, L, H, W, 3) in the light-space basis `coeffs`
        (K, L) float32 (rows orthonormal): basis[t] = coeffs @ olat[t], stored as float16 like
        OLAT images. The inverse, up to the discarded components, of `olat()`."""
        T, L = olat.shape[:2]
        K = coeffs.shape[0]
        basis = torch.stack([(coeffs @ olat[t].reshape(L, -1).float()).reshape(K, *olat.shape[2:])
                             for t in range(T)])
        return cls(basis.half(), coeffs)
