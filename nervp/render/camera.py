"""Pinhole cameras and the one projection every stage uses.

Conventions (the whole project uses them):

* World space: metres, right-handed, +y up, the performer's head near the origin
  looking toward +z, where the camera stands.
* Camera space: OpenCV convention, +x right, +y down, +z forward (into the scene).
* Screen space: pixels, (0, 0) is the top-left corner of the top-left pixel, so the
  centre of pixel (row i, column j) is at (x, y) = (j + 0.5, i + 0.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Camera:
    """A batch of pinhole cameras that share one image size.

    Attributes:
        R: (B, 3, 3) float32 world-to-camera rotation.
        t: (B, 3) float32 world-to-camera translation in metres: x_cam = R @ x_world + t.
        K: (B, 3, 3) float32 intrinsics in pixels (fx, fy, cx, cy; no skew).
        width: image width in pixels.
        height: image height in pixels.
    """

    R: Tensor
    t: Tensor
    K: Tensor
    width: int
    height: int

    def __post_init__(self) -> None:
        b = self.R.shape[0]
        if self.R.shape != (b, 3, 3) or self.t.shape != (b, 3) or self.K.shape != (b, 3, 3):
            raise ValueError(
                f"Camera expects R (B,3,3), t (B,3), K (B,3,3); got {tuple(self.R.shape)}, "
                f"{tuple(self.t.shape)}, {tuple(self.K.shape)}"
            )
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"Camera image size must be positive, got {self.width}x{self.height}")

    @property
    def batch(self) -> int:
        return self.R.shape[0]

    @property
    def center(self) -> Tensor:
        """(B, 3) camera centres in world space (metres)."""
        return -(self.R.transpose(1, 2) @ self.t.unsqueeze(-1)).squeeze(-1)

    def to(self, device: torch.device | str) -> Camera:
        return Camera(self.R.to(device), self.t.to(device), self.K.to(device), self.width, self.height)

    def __getitem__(self, idx: slice | Tensor) -> Camera:
        return Camera(self.R[idx], self.t[idx], self.K[idx], self.width, self.height)


def intrinsics(fov_y_deg: float, width: int, height: int) -> Tensor:
    """(3, 3) intrinsics of a centred pinhole with vertical field of view `fov_y_deg`."""
    f = 0.5 * height / math.tan(math.radians(fov_y_deg) / 2)
    return torch.tensor([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]])


def look_at(eye: Tensor, target: Tensor, up: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """World-to-camera (R, t) for cameras at `eye` (B, 3) looking at `target` (B, 3).

    `up` (B, 3) is the world direction that appears upward in the image (default +y);
    where it is parallel to the viewing direction another axis is used.
    """
    eye = eye.float()
    target = target.float()
    fwd = torch.nn.functional.normalize(target - eye, dim=-1)
    if up is None:
        up = torch.tensor([0.0, 1.0, 0.0], device=eye.device).expand_as(eye)
    parallel = (torch.cross(fwd, up, dim=-1).norm(dim=-1) < 1e-6).unsqueeze(-1)
    alt = torch.tensor([0.0, 0.0, 1.0], device=eye.device).expand_as(eye)
    up = torch.where(parallel, alt, up)
    right = torch.nn.functional.normalize(torch.cross(fwd, up, dim=-1), dim=-1)
    down = torch.cross(fwd, right, dim=-1)
    R = torch.stack([right, down, fwd], dim=1)  # rows are the camera axes in world space
    t = -(R @ eye.unsqueeze(-1)).squeeze(-1)
    return R, t


def make_camera(
    eye: Tensor, target: Tensor, fov_y_deg: float, width: int, height: int, up: Tensor | None = None
) -> Camera:
    """A batch of cameras at `eye` (B, 3) looking at `target` (B, 3)."""
    R, t = look_at(eye, target, up)
    K = intrinsics(fov_y_deg, width, height).to(eye.device).expand(eye.shape[0], 3, 3).clone()
    return Camera(R, t, K, width, height)


def to_camera(points: Tensor, cam: Camera) -> Tensor:
    """World points (B, N, 3) -> camera-space points (B, N, 3), metres."""
    return points @ cam.R.transpose(1, 2) + cam.t.unsqueeze(1)


def project(points: Tensor, cam: Camera) -> Tensor:
    """World points (B, N, 3) -> screen points (B, N, 3): pixel x, pixel y, camera depth z (m).

    Points at or behind the camera get z <= 0; the rasterizer culls triangles that touch them.
    """
    pc = to_camera(points, cam)
    z = pc[..., 2]
    zs = torch.where(z.abs() < 1e-9, torch.full_like(z, 1e-9), z)
    fx, fy = cam.K[:, 0, 0].unsqueeze(1), cam.K[:, 1, 1].unsqueeze(1)
    cx, cy = cam.K[:, 0, 2].unsqueeze(1), cam.K[:, 1, 2].unsqueeze(1)
    x = fx * pc[..., 0] / zs + cx
    y = fy * pc[..., 1] / zs + cy
    return torch.stack([x, y, z], dim=-1)
