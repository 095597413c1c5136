"""The head model G(β, θ, φ) on MediaPipe FaceMesh's 478-landmark topology.

Vertex i of the model is MediaPipe landmark i (468 mesh points, then 10 iris points: right
iris centre 468 and ring 469-472, left iris centre 473 and ring 474-477), so fitted
parameters reproduce tracked landmarks point for point. The data file is built by
`scripts/build_head_model.py`; its provenance is in `nervp/face/data/head_model.json`.

Model space (metres, right-handed): +x toward the subject's left, +y up, +z out of the
face toward a camera in front. The origin is the head's rotation centre (0.09 m behind the
nose bridge, 0.02 m below the eyes). "Left"/"right" in names always mean the subject's own
side, which is MediaPipe's LEFT_*/RIGHT_* convention.

    v_model = mean + Σ_k β_k id_basis[k] + Σ_k φ_k expr_basis[k]       (non-gaze φ)
    iris points then rotate about their eyeball centre by (gaze_yaw, gaze_pitch) × 25°
    v_world = R(θ[:3]) v_model + θ[3:]                                   (axis-angle, metres)
"""

from __future__ import annotations

import functools
import io
import json
import math
from dataclasses import dataclass, fields
from importlib import resources

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "G",
    "HeadModel",
    "LandmarkGroups",
    "load_head_model",
    "pose_matrix",
    "shape",
]

N_VERTICES = 478
N_MESH_VERTICES = 468


@dataclass(frozen=True)
class LandmarkGroups:
    """Landmark index groups (MediaPipe indices), left/right = the subject's own side.

    Lid chains run from the outer (lateral) eye corner to the inner one and include both
    corners, so `*_eye_upper[k]` and `*_eye_lower[k]` face each other across the opening.
    Lip chains run from the subject's right mouth corner to the left one, corners included.
    Brow chains run medial to lateral. `face_oval` is an ordered closed loop starting at the
    forehead top (10) toward the subject's left. `mirror[i]` is the landmark mirroring i.
    """

    left_eye_upper: tuple[int, ...]
    left_eye_lower: tuple[int, ...]
    right_eye_upper: tuple[int, ...]
    right_eye_lower: tuple[int, ...]
    left_brow_upper: tuple[int, ...]
    left_brow_lower: tuple[int, ...]
    right_brow_upper: tuple[int, ...]
    right_brow_lower: tuple[int, ...]
    left_iris_center: int
    right_iris_center: int
    left_iris_ring: tuple[int, ...]
    right_iris_ring: tuple[int, ...]
    lips_outer_upper: tuple[int, ...]
    lips_outer_lower: tuple[int, ...]
    lips_inner_upper: tuple[int, ...]
    lips_inner_lower: tuple[int, ...]
    face_oval: tuple[int, ...]
    nose: tuple[int, ...]
    nose_tip: int
    nose_bridge: int
    chin: int
    forehead_top: int
    mirror: tuple[int, ...]

    def eye_contour(self, side: str) -> tuple[int, ...]:
        """Closed lid contour of `side` ('left'/'right'): upper chain then lower chain backward."""
        up, lo = getattr(self, f"{side}_eye_upper"), getattr(self, f"{side}_eye_lower")
        return up + lo[-2:0:-1]

    def iris(self, side: str) -> tuple[int, ...]:
        """Centre then ring of the iris of `side`."""
        return (getattr(self, f"{side}_iris_center"), *getattr(self, f"{side}_iris_ring"))

    def brow(self, side: str) -> tuple[int, ...]:
        return getattr(self, f"{side}_brow_upper") + getattr(self, f"{side}_brow_lower")

    @property
    def lips_outer(self) -> tuple[int, ...]:
        """Closed outer lip loop: upper chain then lower chain backward."""
        return self.lips_outer_upper + self.lips_outer_lower[-2:0:-1]

    @property
    def lips_inner(self) -> tuple[int, ...]:
        """Closed inner lip loop (the mouth opening)."""
        return self.lips_inner_upper + self.lips_inner_lower[-2:0:-1]

    @classmethod
    def from_dict(cls, d: dict) -> LandmarkGroups:
        kw = {}
        for f in fields(cls):
            v = d[f.name]
            kw[f.name] = int(v) if isinstance(v, int) else tuple(int(i) for i in v)
        return cls(**kw)


@dataclass(frozen=True)
class HeadModel:
    """A linear head model with exact gaze rotation (see the module docstring).

    Attributes:
        mean: (478, 3) float32 neutral mean shape, metres, model space.
        faces: (F, 3) int64 outward-oriented (counter-clockwise from outside) triangles over
            the 468 mesh points; the eye and mouth openings are holes.
        id_basis: (n_id, 478, 3) float32 metres per unit β (unit ≈ one adult std. dev.).
        expr_basis: (n_expr, 478, 3) float32 metres per unit φ (φ = 1: full expression). The
            gaze rows hold the linearised (tangent) iris motion; `shape` rotates exactly.
        id_names, expr_names: names of the β and φ dimensions.
        groups: landmark index groups.
        eye_centers: (2, 3) float32 eyeball centres (subject's left, right), model space.
        eye_radius: eyeball radius in metres.
        gaze_max_deg: rotation of the iris points at gaze_yaw / gaze_pitch = ±1.
    """

    mean: Tensor
    faces: Tensor
    id_basis: Tensor
    expr_basis: Tensor
    id_names: tuple[str, ...]
    expr_names: tuple[str, ...]
    groups: LandmarkGroups
    eye_centers: Tensor
    eye_radius: float = 0.012
    gaze_max_deg: float = 25.0

    @property
    def n_id(self) -> int:
        return len(self.id_names)

    @property
    def n_expr(self) -> int:
        return len(self.expr_names)

    @property
    def device(self) -> torch.device:
        return self.mean.device

    def id_index(self, name: str) -> int:
        try:
            return self.id_names.index(name)
        except ValueError:
            raise KeyError(f"no identity dimension {name!r}; have {self.id_names}") from None

    def expr_index(self, name: str) -> int:
        try:
            return self.expr_names.index(name)
        except ValueError:
            raise KeyError(f"no expression dimension {name!r}; have {self.expr_names}") from None

    def zeros(self, batch: int = 1) -> tuple[Tensor, Tensor, Tensor]:
        """Zero (β (B, n_id), θ (B, 6), φ (B, n_expr)) on the model's device."""
        z = functools.partial(torch.zeros, dtype=torch.float32, device=self.device)
        return z(batch, self.n_id), z(batch, 6), z(batch, self.n_expr)

    def to(self, device: torch.device | str) -> HeadModel:
        return HeadModel(
            self.mean.to(device),
            self.faces.to(device),
            self.id_basis.to(device),
            self.expr_basis.to(device),
            self.id_names,
            self.expr_names,
            self.groups,
            self.eye_centers.to(device),
            self.eye_radius,
            self.gaze_max_deg,
        )


@functools.lru_cache(maxsize=1)
def _load_cpu() -> HeadModel:
    data = resources.files("nervp.face").joinpath("data")
    npz = np.load(io.BytesIO(data.joinpath("head_model.npz").read_bytes()), allow_pickle=False)
    meta = json.loads(data.joinpath("head_model.json").read_text())
    return HeadModel(
        mean=torch.from_numpy(npz["mean"]).float(),
        faces=torch.from_numpy(npz["faces"]).long(),
        id_basis=torch.from_numpy(npz["id_basis"]).float(),
        expr_basis=torch.from_numpy(npz["expr_basis"]).float(),
        id_names=tuple(str(s) for s in npz["id_names"]),
        expr_names=tuple(str(s) for s in npz["expr_names"]),
        groups=LandmarkGroups.from_dict(meta["groups"]),
        eye_centers=torch.from_numpy(npz["eye_centers"]).float(),
        eye_radius=float(npz["eye_radius"]),
        gaze_max_deg=float(npz["gaze_max_deg"]),
    )


def load_head_model(device: torch.device | str | None = None) -> HeadModel:
    """The packaged head model (cached; loaded once per process, then moved to `device`)."""
    model = _load_cpu()
    if device is None or torch.device(device) == model.device:
        return model
    return model.to(device)


def _check_batch(name: str, x: Tensor, width: int) -> None:
    if x.ndim != 2 or x.shape[1] != width:
        raise ValueError(f"{name} must be (B, {width}), got shape {tuple(x.shape)}")


def _axis_rotation(axis: int, angle: Tensor) -> Tensor:
    """(B, 3, 3) rotations by `angle` (B,) radians about coordinate axis 0, 1 or 2."""
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    if axis == 0:
        rows = [one, zero, zero, zero, c, -s, zero, s, c]
    elif axis == 1:
        rows = [c, zero, s, zero, one, zero, -s, zero, c]
    else:
        rows = [c, -s, zero, s, c, zero, zero, zero, one]
    return torch.stack(rows, dim=-1).reshape(*angle.shape, 3, 3)


def shape(model: HeadModel, beta: Tensor, phi: Tensor) -> Tensor:
    """(B, 478, 3) model-space vertices for identity β (B, n_id) and expression φ (B, n_expr).

    Linear blend of the identity and expression bases; the gaze dimensions instead rotate
    the iris points exactly about their eyeball centres (which follow the identity), so the
    iris stays on the eyeball. Differentiable in β and φ.
    """
    _check_batch("beta", beta, model.n_id)
    _check_batch("phi", phi, model.n_expr)
    if beta.shape[0] != phi.shape[0]:
        raise ValueError(f"beta and phi batch sizes differ: {beta.shape[0]} vs {phi.shape[0]}")
    dt = beta.dtype
    gaze = [model.expr_names.index(n) for n in ("gaze_yaw", "gaze_pitch") if n in model.expr_names]
    mask = torch.ones(model.n_expr, dtype=dt, device=phi.device)
    mask[gaze] = 0.0
    mean = model.mean.to(dt)
    v = (
        mean
        + torch.einsum("bk,kvc->bvc", beta, model.id_basis.to(dt))
        + torch.einsum("bk,kvc->bvc", phi.to(dt) * mask, model.expr_basis.to(dt))
    )
    if len(gaze) != 2:
        return v
    max_rad = math.radians(model.gaze_max_deg)
    yaw, pitch = phi[:, gaze[0]].to(dt) * max_rad, phi[:, gaze[1]].to(dt) * max_rad
    # Look toward +x for yaw > 0 (rotation about +y) and up for pitch > 0 (about -x).
    rot = _axis_rotation(1, yaw) @ _axis_rotation(0, -pitch)  # (B, 3, 3)
    g = model.groups
    for k, side in enumerate(("left", "right")):
        idx = torch.tensor(g.iris(side), device=v.device)
        c_id = getattr(g, f"{side}_iris_center")
        # The eyeball centre keeps its offset to the iris centre as the identity changes.
        centre = model.eye_centers[k].to(dt) + (v[:, c_id] - mean[c_id])  # (B, 3)
        rel = v[:, idx] - centre[:, None]
        v = v.index_copy(1, idx, rel @ rot.transpose(1, 2) + centre[:, None])
    return v


def pose_matrix(theta: Tensor) -> tuple[Tensor, Tensor]:
    """Rotation R (B, 3, 3) and translation t (B, 3) of pose θ (B, 6) = (axis-angle rad, metres).

    Rodrigues' formula, with a Taylor expansion near zero so gradients stay finite there.
    """
    _check_batch("theta", theta, 6)
    r, t = theta[:, :3], theta[:, 3:]
    angle2 = (r * r).sum(-1, keepdim=True)  # (B, 1)
    small = angle2 < 1e-8
    safe2 = torch.where(small, torch.ones_like(angle2), angle2)
    angle = safe2.sqrt()
    a = torch.where(small, 1.0 - angle2 / 6.0, torch.sin(angle) / angle)
    b = torch.where(small, 0.5 - angle2 / 24.0, (1.0 - torch.cos(angle)) / safe2)
    zero = torch.zeros_like(r[:, 0])
    k = torch.stack(
        [zero, -r[:, 2], r[:, 1], r[:, 2], zero, -r[:, 0], -r[:, 1], r[:, 0], zero], dim=-1
    ).reshape(-1, 3, 3)
    eye = torch.eye(3, dtype=theta.dtype, device=theta.device).expand_as(k)
    rot = eye + a[..., None] * k + b[..., None] * (k @ k)
    return rot, t


def G(model: HeadModel, beta: Tensor, theta: Tensor, phi: Tensor) -> Tensor:
    """(B, 478, 3) world-space vertices: world = R(θ) · shape(β, φ) + t(θ)."""
    v = shape(model, beta, phi)
    rot, t = pose_matrix(theta)
    return v @ rot.transpose(1, 2) + t[:, None]
