"""Conditioning feature maps F_t = {I^d, I^c, I^l} (paper section 3.2, supplementary eq. 7).

All three are rasterized from G(β̄, θ_t, φ_t) with the project's one rasterizer
(`nervp.render.rasterize`), batched over frames:

* I^d, diffuse colour: the target's per-vertex colour (sampled from its own frames by
  `sample_vertex_colours`) on the head-model mesh subdivided `colour_levels` times
  (interpolating midpoint subdivision, so landmarks stay exact), interpolated
  perspective-correctly; sRGB-encoded in [0, 1].
* I^c, PNCC: each surface point's canonical coordinates -- its position on the *mean* head
  shape in model space -- mapped to [0, 1]^3 by the mean shape's bounding box. It tells the
  network which part of the face a pixel shows, independently of pose, identity and lighting.
* I^l, landmark image: three binary channels. 0: face oval, brows and nose lines; 1: eye-lid
  and lip contours; 2: the irises (gaze). Lines are screen-space quads `line_width` pixels
  wide along the projected model landmarks, drawn by the same rasterizer and hidden where
  the face surface is in front of them (except the face oval, the mesh's own border, which
  the cheeks cover at the sides); each iris is a 16-sided disc clipped to its eye opening
  (so a closed eye shows no iris).

`pose="fixed"` replaces every θ_t by a frontal pose at the parameters' mean translation:
the head stays still and faces the camera while the expression plays (virtual conference).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from nervp.colour import srgb_decode, srgb_encode
from nervp.device import resolve_device
from nervp.errors import NervpError
from nervp.face import G, HeadModel, load_head_model, mesh_edges, subdivide, vertex_normals
from nervp.render.camera import Camera, project
from nervp.render.rasterize import rasterize
from nervp.structures.face import ConditioningMaps, FaceParams

PoseMode = Literal["tracked", "fixed"]

NOSE_BRIDGE_CHAIN = (168, 6, 197, 195, 5, 4, 1)
NOSE_BASE_CHAIN = (64, 98, 97, 2, 326, 327, 294)
LINE_DEPTH_BIAS_M = 0.004  # a line this far behind the surface still shows (it lies on it)
IRIS_SIDES = 16
DEFAULT_GREY = 0.6


@dataclass(frozen=True)
class MapMesh:
    """Fixed geometry of the maps for one head model and subdivision level.

    Attributes:
        faces: (F', 3) int64 triangles of the colour mesh.
        sub: the subdivision (fine vertices = sub.apply(mesh vertices (468)))
        pncc: (V', 3) float32 canonical code of each fine vertex in [0, 1].
        pncc_box: (2, 3) float32 min and max of the mean shape's mesh vertices, metres.
        segments: (S, 2) int64 landmark index pairs of the feature lines.
        segment_channel: (S,) int64 channel of I^l each segment draws into (0 or 1).
        occludable: (S,) bool, the segment is hidden where the surface is in front of it.
        eyes: two (K,) int64 closed eye contours (subject's left, right).
        irises: two (centre, ring...) landmark tuples (subject's left, right).
    """

    faces: Tensor
    sub: object
    pncc: Tensor
    pncc_box: Tensor
    segments: Tensor
    segment_channel: Tensor
    occludable: Tensor
    eyes: tuple[Tensor, Tensor]
    irises: tuple[Tensor, Tensor]

    def to(self, device: torch.device | str) -> MapMesh:
        return MapMesh(self.faces.to(device), self.sub.to(device), self.pncc.to(device),
                       self.pncc_box.to(device), self.segments.to(device), self.segment_channel.to(device),
                       self.occludable.to(device), tuple(e.to(device) for e in self.eyes),
                       tuple(i.to(device) for i in self.irises))


def _chain(idx, closed: bool = False) -> list[tuple[int, int]]:
    idx = list(idx)
    pairs = list(zip(idx[:-1], idx[1:], strict=True))
    return pairs + [(idx[-1], idx[0])] if closed else pairs


@functools.lru_cache(maxsize=4)
def map_mesh(levels: int = 1, model: HeadModel | None = None) -> MapMesh:
    """The fixed geometry of the maps (cached per subdivision level)."""
    model = model or load_head_model()
    sub = subdivide(model.faces, 468, levels, scheme="midpoint", smooth_steps=2)
    mean = sub.apply(model.mean[:468])
    lo, hi = mean.min(0).values, mean.max(0).values
    pncc = ((mean - lo) / (hi - lo)).clamp(0, 1)
    g = model.groups
    seg0 = (_chain(g.face_oval, closed=True) + _chain(g.left_brow_upper) + _chain(g.left_brow_lower)
            + _chain(g.right_brow_upper) + _chain(g.right_brow_lower) + _chain(NOSE_BRIDGE_CHAIN)
            + _chain(NOSE_BASE_CHAIN))
    seg1 = (_chain(g.eye_contour("left"), closed=True) + _chain(g.eye_contour("right"), closed=True)
            + _chain(g.lips_outer, closed=True) + _chain(g.lips_inner, closed=True))
    segments = torch.tensor(seg0 + seg1, dtype=torch.int64)
    channel = torch.tensor([0] * len(seg0) + [1] * len(seg1), dtype=torch.int64)
    # the oval is the mesh's outer boundary: at the sides the cheeks stand in front of it, so
    # it is drawn where it projects, without the depth test the other lines get
    occludable = torch.ones(len(segments), dtype=torch.bool)
    occludable[: len(g.face_oval)] = False
    eyes = (torch.tensor(g.eye_contour("left")), torch.tensor(g.eye_contour("right")))
    irises = (torch.tensor(g.iris("left")), torch.tensor(g.iris("right")))
    return MapMesh(sub.faces, sub, pncc.float(), torch.stack([lo, hi]).float(), segments, channel,
                   occludable, eyes, irises)


def fixed_pose(theta: Tensor, valid: Tensor | None = None) -> Tensor:
    """(T, 6) frontal poses (zero rotation) at the mean translation of `theta` (valid frames)."""
    sel = theta if valid is None or not bool(valid.any()) else theta[valid.bool()]
    out = torch.zeros_like(theta)
    out[:, 3:] = sel[:, 3:].mean(0)
    return out


def _batch_camera(camera: Camera, n: int) -> Camera:
    return Camera(camera.R[:1].expand(n, 3, 3), camera.t[:1].expand(n, 3), camera.K[:1].expand(n, 3, 3),
                  camera.width, camera.height)


def _line_quads(p0: Tensor, p1: Tensor, width: float) -> tuple[Tensor, Tensor]:
    """Screen-space quads for segments p0 -> p1 (B, S, 3) (x, y, depth): vertices (B, 4S, 3)
    and front-facing triangles (2S, 3). Each quad is extended by half a width at both ends so
    consecutive segments join without gaps."""
    d = p1[..., :2] - p0[..., :2]
    d = d / d.norm(dim=-1, keepdim=True).clamp(min=1e-6)
    n = torch.stack([-d[..., 1], d[..., 0]], dim=-1) * (width / 2)
    a = p0[..., :2] - d * (width / 2)
    b = p1[..., :2] + d * (width / 2)
    za, zb = p0[..., 2:] - LINE_DEPTH_BIAS_M, p1[..., 2:] - LINE_DEPTH_BIAS_M
    verts = torch.stack([torch.cat([a + n, za], -1), torch.cat([b + n, zb], -1),
                         torch.cat([b - n, zb], -1), torch.cat([a - n, za], -1)], dim=2)
    S = p0.shape[1]
    dev = p0.device
    base = torch.arange(S, dtype=torch.int64, device=dev)[:, None] * 4
    faces = torch.cat([base + torch.tensor([0, 1, 2], device=dev), base + torch.tensor([0, 2, 3], device=dev)])
    return verts.reshape(p0.shape[0], 4 * S, 3), faces


def _fan(centre: Tensor, ring: Tensor) -> tuple[Tensor, Tensor]:
    """Polygon fans: centres (B, 2), rings (B, K, 2) -> vertices (B, K + 1, 2), faces (K, 3)."""
    K = ring.shape[1]
    verts = torch.cat([centre[:, None], ring], dim=1)
    k = torch.arange(K, device=ring.device)
    faces = torch.stack([torch.zeros_like(k), 1 + k, 1 + (k + 1) % K], dim=1)
    return verts, faces


def _iris_layer(lm: Tensor, mm: MapMesh, H: int, W: int) -> Tensor:
    """(B, H, W) float32: iris discs clipped to the eye openings, from screen landmarks (B, 478, 3).

    One rasterizer call: images 0..B-1 hold both eye-opening fans, images B..2B-1 both iris
    discs, with the same triangle list (each part is a 16-triangle fan of 17 vertices), so
    face index // 16 tells the eye; a pixel is iris where the same eye's fan and disc cover it."""
    B = lm.shape[0]
    angles = torch.arange(IRIS_SIDES, device=lm.device) * (2 * math.pi / IRIS_SIDES)
    circle = torch.stack([torch.cos(angles), torch.sin(angles)], -1)
    eyes, discs, faces = [], [], []
    for k, (eye, iris) in enumerate(zip(mm.eyes, mm.irises, strict=True)):
        contour = lm[:, eye, :2]
        ev, ef = _fan(contour.mean(1), contour)
        c = lm[:, iris[0], :2]
        r = (lm[:, iris[1:], :2] - c[:, None]).norm(dim=-1).mean(1)
        iv, if_ = _fan(c, c[:, None] + r[:, None, None] * circle)
        if ev.shape[1] != iv.shape[1]:  # contours of another length: one call per layer
            return _iris_layer_separate(lm, mm, H, W)
        eyes.append(ev)
        discs.append(iv)
        faces.append(ef + k * ev.shape[1])
    verts = torch.cat([torch.cat(eyes, 1), torch.cat(discs, 1)], 0)  # (2B, 2K + 2, 2)
    screen = torch.cat([verts, torch.ones_like(verts[..., :1])], -1)
    fi = rasterize(screen, torch.cat(faces), H, W).face_idx
    n_part = faces[0].shape[0]
    side_eye = torch.where(fi[:B] >= 0, fi[:B] // n_part, -1)
    side_iris = torch.where(fi[B:] >= 0, fi[B:] // n_part, -2)
    return (side_eye == side_iris).float()


def _iris_layer_separate(lm: Tensor, mm: MapMesh, H: int, W: int) -> Tensor:
    """`_iris_layer` with one rasterizer call per eye and layer (any contour length)."""
    B = lm.shape[0]
    out = torch.zeros(B, H, W, device=lm.device)
    angles = torch.arange(IRIS_SIDES, device=lm.device) * (2 * math.pi / IRIS_SIDES)
    circle = torch.stack([torch.cos(angles), torch.sin(angles)], -1)
    for eye, iris in zip(mm.eyes, mm.irises, strict=True):
        contour = lm[:, eye, :2]
        ev, ef = _fan(contour.mean(1), contour)
        c = lm[:, iris[0], :2]
        r = (lm[:, iris[1:], :2] - c[:, None]).norm(dim=-1).mean(1)
        iv, if_ = _fan(c, c[:, None] + r[:, None, None] * circle)
        e = rasterize(torch.cat([ev, torch.ones_like(ev[..., :1])], -1), ef, H, W).mask
        i = rasterize(torch.cat([iv, torch.ones_like(iv[..., :1])], -1), if_, H, W).mask
        out = torch.maximum(out, (e & i).float())
    return out


def _shade(frags, faces: Tensor, attrs: Tensor) -> Tensor:
    """(B, H, W, C) perspective-correct interpolation of attributes (V, C) shared by every
    image, computed on covered pixels only (what `interpolate` does for per-image attributes)."""
    B, H, W = frags.face_idx.shape
    out = torch.zeros(B * H * W, attrs.shape[1], dtype=attrs.dtype, device=attrs.device)
    pix = torch.nonzero(frags.face_idx.reshape(-1) >= 0).squeeze(1)
    tri = faces.index_select(0, frags.face_idx.reshape(-1).index_select(0, pix))  # (n, 3)
    vals = attrs.index_select(0, tri.reshape(-1)).view(-1, 3, attrs.shape[1])
    out[pix] = (vals * frags.bary.reshape(-1, 3).index_select(0, pix).unsqueeze(-1)).sum(1)
    return out.view(B, H, W, -1)


def _render_chunk(model: HeadModel, mm: MapMesh, beta: Tensor, theta: Tensor, phi: Tensor,
                  camera: Camera, attrs: Tensor, lw: float) -> ConditioningMaps:
    """Maps of a chunk of frames (internal; see `render_maps`)."""
    B, H, W = theta.shape[0], camera.height, camera.width
    cam = _batch_camera(camera, B)
    v = G(model, beta.float().expand(B, -1), theta.float(), phi.float())  # (B, 478, 3)
    fine = mm.sub.apply(v[:, :468])
    frags = rasterize(project(fine, cam), mm.faces, H, W, cull_backfaces=True)
    img = _shade(frags, mm.faces, attrs)
    lm = project(v, cam)
    quads, qf = _line_quads(lm[:, mm.segments[:, 0]], lm[:, mm.segments[:, 1]], lw)
    lf = rasterize(quads, qf, H, W, cull_backfaces=True)
    seg = lf.face_idx.clamp(min=0) % mm.segments.shape[0]
    shown = lf.mask & ((lf.depth <= frags.depth) | ~mm.occludable[seg])
    ch = mm.segment_channel[seg]
    land = torch.stack([(shown & (ch == 0)).float(), (shown & (ch == 1)).float(),
                        _iris_layer(lm, mm, H, W)], dim=-1)
    return ConditioningMaps(img[..., :3].contiguous(), img[..., 3:].contiguous(), land, frags.mask,
                            theta.float(), phi.float(), mm.pncc_box)


@dataclass(frozen=True)
class MapSettings:
    """How conditioning maps are drawn (the same for training, reenactment and `nervp condition`)."""

    size: int | tuple[int, int] | None = None
    """Output size: H in pixels (W keeps the camera's aspect) or (H, W); None keeps the
    camera's. Intrinsics are scaled to it."""
    pose: PoseMode = "tracked"
    """tracked: θ_t of every frame; fixed: a frontal head at the mean translation (module docstring)."""
    chunk: int = 16
    """Frames rasterized at once (memory grows with chunk x H x W)."""
    line_width: float | None = None
    """Landmark line width in pixels (None: max(1, H / 160))."""
    device: str | None = None
    """Where to render ("cuda" on a GPU; None: the parameters' device); the maps stay there."""

    def validate(self) -> None:
        if self.pose not in ("tracked", "fixed"):
            raise NervpError(f"pose must be 'tracked' or 'fixed', got {self.pose!r}")
        if self.chunk < 1:
            raise NervpError(f"the map chunk must be at least 1 frame, got {self.chunk}")
        if self.line_width is not None and not (math.isfinite(self.line_width) and self.line_width > 0):
            raise NervpError(f"--maps.line-width must be a finite number > 0, got {self.line_width}")
        if self.device is not None:
            resolve_device(self.device)


def _iter_maps(beta: Tensor, theta: Tensor, phi: Tensor, camera: Camera, colour: Tensor | None,
               levels: int, s: MapSettings, model: HeadModel | None) -> Iterator[tuple[int, ConditioningMaps]]:
    """Yield (first frame, maps of up to `s.chunk` frames) for θ (T, 6), φ (T, E) with identity
    β (n_id,) seen by `camera` (batch 1; its image size is the maps' size). `colour`: (V', 3)
    sRGB [0, 1] per fine vertex of the level-`levels` mesh, or None for a uniform grey."""
    model = model or load_head_model()
    mm = map_mesh(levels, model)
    device = theta.device if s.device is None else torch.device(s.device)
    if device != mm.faces.device:
        model, mm = model.to(device), mm.to(device)
    camera = camera.to(device)
    beta, theta, phi = beta.to(device), theta.to(device), phi.to(device)
    lw = s.line_width if s.line_width is not None else max(1.0, camera.height / 160)
    if colour is None:
        colour = torch.full((mm.pncc.shape[0], 3), DEFAULT_GREY)
    colour = colour.to(device)
    if tuple(colour.shape) != tuple(mm.pncc.shape):
        raise NervpError(f"the colour has {colour.shape[0]} vertices but the level-{levels} mesh has "
                         f"{mm.pncc.shape[0]}: sample the colour at the same --colour-levels")
    if theta.ndim != 2 or theta.shape[1] != 6 or phi.shape[0] != theta.shape[0]:
        raise ValueError(f"theta must be (T, 6) and phi (T, E); got {tuple(theta.shape)}, {tuple(phi.shape)}")
    attrs = torch.cat([colour.float(), mm.pncc], dim=1)  # (V', 6)
    with torch.no_grad():
        for a in range(0, theta.shape[0], s.chunk):
            yield a, _render_chunk(model, mm, beta, theta[a:a + s.chunk], phi[a:a + s.chunk], camera, attrs, lw)


def map_camera(camera: Camera, size: int | tuple[int, int] | None) -> Camera:
    """`camera` with its image resampled to `size`: H (W keeps the aspect) or (H, W); None keeps it."""
    from nervp.parse.fit import scale_camera

    if size is None:
        return camera
    if isinstance(size, int):
        h, w = size, max(1, round(size * camera.width / camera.height))
    else:
        h, w = size
    if h < 8 or w < 8:
        raise NervpError(f"map size must be at least 8 pixels, got {w}x{h}")
    return scale_camera(camera, w, h)


def _pose(params: FaceParams, frames: slice | None, pose: PoseMode) -> tuple[FaceParams, Tensor]:
    p = params if frames is None else params.select(frames)
    if p.n_frames == 0:
        raise NervpError(f"no frames selected (the parameters have {params.n_frames})")
    return p, (fixed_pose(params.theta, params.valid)[: p.n_frames] if pose == "fixed" else p.theta)


def iter_conditioning_maps(params: FaceParams, settings: MapSettings = MapSettings(), *,
                           frames: slice | None = None, camera: Camera | None = None,
                           model: HeadModel | None = None) -> Iterator[tuple[int, ConditioningMaps]]:
    """The conditioning maps of `params` as a stream of (first frame, maps of a chunk of frames).

    Args:
        params: fitted (target) or normalised-and-retargeted (source, see `retarget`)
            parameters; their β, colour and colour_levels are used.
        settings: size, pose, chunk, line width and device (`MapSettings`).
        frames: a slice of frames to render (default all).
        camera: the camera to render with (default `params.camera`), scaled to `settings.size`.
        model: the head model (default: the packaged one).

    Yields:
        (first frame of the chunk, `ConditioningMaps` of the chunk: float32, on the settings' device).
    """
    settings.validate()
    cam = map_camera(camera or params.camera, settings.size)
    p, theta = _pose(params, frames, settings.pose)
    return _iter_maps(params.beta, theta, p.phi, cam, params.colour, params.colour_levels, settings, model)


def conditioning_maps(params: FaceParams, settings: MapSettings = MapSettings(), *,
                      frames: slice | None = None, camera: Camera | None = None,
                      model: HeadModel | None = None,
                      on_chunk: Callable[[int], None] | None = None) -> ConditioningMaps:
    """All the conditioning maps of `params` at once (the translator's entry point); arguments
    as `iter_conditioning_maps`; `on_chunk(frames done)` reports progress."""
    parts = []
    for a, m in iter_conditioning_maps(params, settings, frames=frames, camera=camera, model=model):
        parts.append(m)
        if on_chunk is not None:
            on_chunk(a + m.n_frames)
    cat = lambda name: torch.cat([getattr(m, name) for m in parts])  # noqa: E731
    return ConditioningMaps(cat("diffuse"), cat("pncc"), cat("landmark"), cat("mask"), cat("theta"),
                            cat("phi"), parts[0].pncc_box)


# --------------------------------------------------------------------------- diffuse colour


def _fill_unseen(colour: Tensor, seen: Tensor, faces: Tensor, steps: int = 200) -> Tensor:
    """Give vertices never seen the average of their seen neighbours, growing inward."""
    edges, _ = mesh_edges(faces)
    i, j = edges[:, 0], edges[:, 1]
    colour, seen = colour.clone(), seen.clone()
    for _ in range(steps):
        if bool(seen.all()):
            break
        acc = torch.zeros_like(colour)
        cnt = torch.zeros(colour.shape[0])
        s = seen.float()
        acc.index_add_(0, i, colour[j] * s[j, None])
        acc.index_add_(0, j, colour[i] * s[i, None])
        cnt.index_add_(0, i, s[j])
        cnt.index_add_(0, j, s[i])
        new = (~seen) & (cnt > 0)
        colour[new] = acc[new] / cnt[new, None]
        seen = seen | new
    colour[~seen] = DEFAULT_GREY
    return colour


def sample_vertex_colours(images: np.ndarray, params: FaceParams, levels: int = 1, max_frames: int = 32,
                          model: HeadModel | None = None) -> Tensor:
    """(V', 3) float32 sRGB [0, 1] diffuse colour per vertex of the level-`levels` mesh.

    Each vertex is projected into up to `max_frames` valid frames (lowest fitting residual
    first, spread over the clip); where it is visible (not behind the surface: its depth
    within 5 mm of the rasterized depth) its bilinearly sampled colour is averaged in linear
    light with weight cos² of its view angle. Vertices never seen take their neighbours'.

    images: (T, H, W, 3) uint8 sRGB frames the parameters were fitted to.
    """
    model = model or load_head_model()
    mm = map_mesh(levels, model)
    T, H, W = images.shape[:3]
    if params.n_frames != T or (params.camera.width, params.camera.height) != (W, H):
        raise NervpError(f"frames ({T} of {W}x{H}) do not match the parameters ({params.n_frames} frames, "
                         f"camera {params.camera.width}x{params.camera.height})")
    valid = np.flatnonzero(params.valid.numpy())
    res = params.residual.numpy()[valid]
    order = valid[np.argsort(res, kind="stable")]
    keep = order[: max(1, len(order) // 2)]  # the better half of the fits...
    keep = np.sort(keep)  # ...spread over the clip
    pick = keep[np.unique(np.linspace(0, len(keep) - 1, min(max_frames, len(keep))).round().astype(int))]
    V = mm.pncc.shape[0]
    acc = torch.zeros(V, 3, dtype=torch.float64)
    wsum = torch.zeros(V, dtype=torch.float64)
    with torch.no_grad():
        for a in range(0, len(pick), 8):
            idx = torch.as_tensor(pick[a:a + 8])
            B = len(idx)
            cam = _batch_camera(params.camera, B)
            v = G(model, params.beta.float().expand(B, -1), params.theta[idx], params.phi[idx])
            fine = mm.sub.apply(v[:, :468])
            scr = project(fine, cam)
            frags = rasterize(scr, mm.faces, H, W, cull_backfaces=True)
            n_cam = vertex_normals(fine, mm.faces) @ cam.R.transpose(1, 2)
            p_cam = fine @ cam.R.transpose(1, 2) + cam.t[:, None]
            cos = -(n_cam * torch.nn.functional.normalize(p_cam, dim=-1)).sum(-1)  # (B, V')
            x, y = scr[..., 0], scr[..., 1]
            col = x.floor().long().clamp(0, W - 1)
            row = y.floor().long().clamp(0, H - 1)
            inside = (x >= 0) & (x < W) & (y >= 0) & (y < H)
            zbuf = frags.depth[torch.arange(B)[:, None], row, col]
            vis = inside & (scr[..., 2] <= zbuf + 0.005) & (cos > 0.2)
            img = torch.from_numpy(images[pick[a:a + 8]]).float().permute(0, 3, 1, 2) / 255.0
            grid = torch.stack([x / W * 2 - 1, y / H * 2 - 1], dim=-1)[:, :, None]  # (B, V', 1, 2)
            rgb = torch.nn.functional.grid_sample(img, grid, mode="bilinear", align_corners=False)
            rgb = srgb_decode(rgb[..., 0].permute(0, 2, 1))  # (B, V', 3)
            w = (cos.clamp(min=0) ** 2) * vis
            acc += (rgb * w[..., None]).sum(0).double()
            wsum += w.sum(0).double()
    seen = wsum > 1e-6
    lin = (acc / wsum.clamp(min=1e-12)[:, None]).float()
    colour = srgb_encode(lin)
    return _fill_unseen(colour, seen, mm.faces)
