"""What the rasterizer returns per pixel, and perspective-correct attribute interpolation."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Fragments:
    """What each pixel sees.

    Attributes:
        face_idx: (B, H, W) int64 index into ``faces`` of the visible triangle, -1 where
            no triangle covers the pixel centre.
        bary: (B, H, W, 3) float32 perspective-correct barycentric weights of
            ``faces[face_idx]``'s three vertices (sum to 1), 0 on background.
        depth: (B, H, W) float32 camera-space z of the visible surface in metres,
            +inf on background.
    """

    face_idx: Tensor
    bary: Tensor
    depth: Tensor

    @property
    def mask(self) -> Tensor:
        """(B, H, W) bool, True where a triangle is visible."""
        return self.face_idx >= 0


def interpolate(frags: Fragments, faces: Tensor, attrs: Tensor) -> Tensor:
    """Per-vertex attributes (B, V, C) (or (V, C), shared) -> (B, H, W, C) images.

    Perspective-correct (uses `frags.bary`), 0 on background, differentiable with
    respect to `attrs`.
    """
    B, H, W = frags.face_idx.shape
    if attrs.dim() == 2:
        attrs = attrs.unsqueeze(0).expand(B, -1, -1)
    if attrs.dim() != 3 or attrs.shape[0] != B:
        raise ValueError(f"attrs must be (B={B}, V, C) or (V, C); got {tuple(attrs.shape)}")
    if faces.dim() != 2 or faces.shape[1] != 3:
        raise ValueError(f"faces must be (F, 3); got {tuple(faces.shape)}")
    V, C = attrs.shape[1], attrs.shape[2]
    faces = faces.to(device=attrs.device, dtype=torch.int64)
    mask = frags.face_idx >= 0
    vid = faces.index_select(0, frags.face_idx.clamp(min=0).view(-1)).view(B, H * W * 3)
    vid = vid + (torch.arange(B, device=attrs.device) * V).unsqueeze(1)
    vals = attrs.reshape(B * V, C).index_select(0, vid.view(-1)).view(B, H, W, 3, C)
    out = (vals * frags.bary.to(attrs.dtype).unsqueeze(-1)).sum(-2)
    return torch.where(mask.unsqueeze(-1), out, torch.zeros((), dtype=out.dtype, device=out.device))
