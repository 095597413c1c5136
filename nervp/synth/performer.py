"""A synthetic performer: a whole head and shoulders built around the head model G(β, θ, φ).

Parts (model space: metres, +y up, +z out of the face, origin at the head's rotation centre):

* face: the 468-point head model, Loop-subdivided for resolution, with fine displacement
  (pores, forehead and crow's-feet wrinkles) it lacks, and a skirt folding its outline
  back into the skull so no gap opens between face and head;
* cranium and ears: an ellipsoid fitted to the face outline, and two ear shells;
* hair: a shell over the cranium above a seeded hairline, with strand-like relief;
* eyes: eyeballs behind the lid openings, their iris, pupil and glossy cornea aimed
  where the model's iris landmarks point, so they follow the gaze;
* mouth: a dark cavity, upper teeth fixed to the skull and lower teeth and tongue that
  follow the jaw, seen through the lip opening when the jaw opens;
* neck and shoulders with clothing; the neck blends between head and body motion.

Materials are per vertex: albedo (spatially varying: lips, brows, cheeks, stubble-free skin
noise), GGX roughness, Fresnel F0 and a subsurface-scattering weight.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from nervp.face import HeadModel, load_head_model, pose_matrix, shape
from nervp.face.mesh_ops import Subdivision, boundary_loops, subdivide, vertex_normals
from nervp.synth.appearance import Appearance, sample_appearance
from nervp.synth.meshes import Mesh, merge, tube, uv_sphere
from nervp.synth.render_olat import PosedMesh

PARTS = ("face", "skirt", "cranium", "hair", "ear_left", "ear_right", "eye_left", "eye_right",
         "mouth", "teeth_upper", "teeth_lower", "tongue", "neck", "torso")


@dataclass(frozen=True)
class PerformerConfig:
    """How a performer is built (the seed picks who it is)."""

    seed: int = 0
    """Identity seed: skin tone, face shape, hair, eyes and clothing."""
    face_subdivisions: int = 2
    """Loop subdivision levels of the 468-point face (each level ~4x the triangles)."""
    detail: float = 1.0
    """Scale of the fine displacement (pores, wrinkles); 0 = smooth."""


def _value_noise(p: np.ndarray, freq: float, seed: int) -> np.ndarray:
    """Smooth pseudo-random scalar field on 3D points (N, 3) in [-1, 1] (trilinear lattice noise)."""
    q = p * freq
    i = np.floor(q).astype(np.int64)
    f = q - i
    f = f * f * (3 - 2 * f)

    def h(ix, iy, iz):
        n = (ix * 73856093) ^ (iy * 19349663) ^ (iz * 83492791) ^ (seed * 2654435761)
        n = (n ^ (n >> 13)) * 1274126177
        return ((n & 0xFFFF) / 32767.5) - 1.0

    out = 0.0
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                w = (f[:, 0] if dx else 1 - f[:, 0]) * (f[:, 1] if dy else 1 - f[:, 1]) * (f[:, 2] if dz else 1 - f[:, 2])
                out = out + w * h(i[:, 0] + dx, i[:, 1] + dy, i[:, 2] + dz)
    return out


def _polyline_distance(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Distance (N,) from points (N, 2) to a 2D polyline (K, 2)."""
    a, b = line[:-1][None], line[1:][None]
    p = points[:, None]
    ab = b - a
    t = np.clip(((p - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0, 1)
    return np.linalg.norm(p - (a + t[..., None] * ab), axis=-1).min(1)


def _inside(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd test of points (N, 2) against a closed polygon (K, 2)."""
    x, y = points[:, 0:1], points[:, 1:2]
    x1, y1 = poly[None, :, 0], poly[None, :, 1]
    x2, y2 = np.roll(poly, -1, 0)[None, :, 0], np.roll(poly, -1, 0)[None, :, 1]
    cross = ((y1 > y) != (y2 > y)) & (x < (x2 - x1) * (y - y1) / np.where(y2 == y1, 1e-12, y2 - y1) + x1)
    return cross.sum(1) % 2 == 1


@dataclass(frozen=True)
class Performer:
    """A built performer; `posed(theta, phi)` gives its mesh at an instant.

    Attributes:
        appearance: who it is. model: the head model. beta: (n_id,) identity.
        sub: subdivision of the face. face_detail: (Vf, 3) fine displacement of the face (m).
        rest: (V, 3) rest positions of every vertex (face rows recomputed each instant).
        faces: (F, 3) int64. part: (V,) int64 index into PARTS. head_weight: (V,) how much a
        vertex follows the head pose. albedo (V, 3), roughness, f0, sss (V,): base materials.
        skirt_src: (S,) face-vertex index each skirt vertex follows; skirt_off: (S, 3) its offset.
        eye_dir: (Ve, 3) unit rest directions of eyeball vertices from their centre.
        eye_centers: (2, 3) eyeball centres (left, right) of this identity.
        jaw_anchor: landmark index the lower teeth and tongue follow.
    """

    appearance: Appearance
    model: HeadModel
    beta: Tensor
    sub: Subdivision
    face_detail: Tensor
    rest: Tensor
    faces: Tensor
    shadow_faces: Tensor
    part: Tensor
    head_weight: Tensor
    albedo: Tensor
    roughness: Tensor
    f0: Tensor
    sss: Tensor
    skirt_src: Tensor
    skirt_off: Tensor
    eye_dir: Tensor
    eye_centers: Tensor
    jaw_anchor: int
    rest_landmarks: Tensor

    def part_slice(self, name: str) -> Tensor:
        return torch.nonzero(self.part == PARTS.index(name)).squeeze(1)

    def landmarks(self, theta: Tensor, phi: Tensor) -> Tensor:
        """(478, 3) world landmarks G(β, θ, φ)."""
        R, t = pose_matrix(theta[None])
        return shape(self.model, self.beta[None], phi[None])[0] @ R[0].T + t[0]

    def posed(self, theta: Tensor, phi: Tensor) -> PosedMesh:
        """The mesh at head pose θ (6,) and expression φ (n_expr,)."""
        lm = shape(self.model, self.beta[None], phi[None])[0]  # (478, 3) model space
        v = self.rest.clone()
        face_idx = self.part_slice("face")
        fine = self.sub.apply(lm) + self.face_detail
        v[face_idx] = fine
        sk = self.part_slice("skirt")
        v[sk] = fine[self.skirt_src] + self.skirt_off
        jaw = lm[self.jaw_anchor] - self.rest_landmarks[self.jaw_anchor]
        for name in ("teeth_lower", "tongue"):
            idx = self.part_slice(name)
            v[idx] = v[idx] + jaw
        R, t = pose_matrix(theta[None])
        w = self.head_weight.unsqueeze(-1)
        v = w * (v @ R[0].T + t[0]) + (1 - w) * v
        faces = self.faces
        normals = vertex_normals(v[None], faces)[0]
        albedo = self.albedo.clone()
        eyes = torch.cat([self.part_slice("eye_left"), self.part_slice("eye_right")])
        albedo[eyes] = self._eye_albedo(lm)
        head = self.part == PARTS.index("cranium")
        centre = v[head].mean(0) + torch.tensor([0.0, -0.08, 0.02])
        return PosedMesh(v, faces, normals, albedo, self.roughness, self.f0, self.sss, self.shadow_faces,
                         centre, 0.36)

    def _eye_albedo(self, lm: Tensor) -> Tensor:
        """Albedo of both eyeballs with iris and pupil facing the model's iris landmarks."""
        g = self.model.groups
        out = []
        n_left = int((self.part == PARTS.index("eye_left")).sum())
        dirs = (self.eye_dir[:n_left], self.eye_dir[n_left:])
        for k, side in enumerate(("left", "right")):
            c = self.eye_centers[k]
            gaze = torch.nn.functional.normalize(lm[getattr(g, f"{side}_iris_center")] - c, dim=0)
            cosang = (dirs[k] @ gaze).clamp(-1, 1)
            ang = torch.rad2deg(torch.arccos(cosang))
            iris = torch.as_tensor(self.appearance.iris, dtype=torch.float32)
            sclera = torch.tensor([0.62, 0.56, 0.52])
            a = sclera.expand(len(ang), 3).clone()
            streak = 0.75 + 0.25 * torch.cos(ang * 1.7 + 40 * torch.atan2(dirs[k][:, 1], dirs[k][:, 0]))
            in_iris = ang < 29
            a[in_iris] = iris * streak[in_iris].unsqueeze(-1)
            limbus = (ang >= 26) & (ang < 31)
            a[limbus] = a[limbus] * 0.4
            a[ang < 11] = torch.tensor([0.01, 0.01, 0.01])
            out.append(a)
        return torch.cat(out)


@functools.lru_cache(maxsize=8)
def _face_subdivision(model: HeadModel, levels: int) -> Subdivision:
    """Interpolating subdivision of the face (cached): the surface passes through every landmark."""
    return subdivide(model.faces, model.mean.shape[0], levels=levels, scheme="midpoint", smooth_steps=2)


def _fit_cranium(mean_lm: np.ndarray, oval: list[int], scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre (3,) and semi-axes (3,) of an ellipsoid through the upper face outline."""
    pts = mean_lm[oval]
    centre = np.array([0.0, 0.015, -0.012])
    upper = pts[pts[:, 1] > mean_lm[oval, 1].min() + 0.35 * np.ptp(mean_lm[oval, 1])]
    d = upper - centre
    A = d * d
    inv, *_ = np.linalg.lstsq(A, np.ones(len(d)), rcond=None)
    axes = 1 / np.sqrt(np.clip(inv, 1e-6, None))
    axes = np.clip(axes, [0.068, 0.095, 0.09], [0.085, 0.125, 0.115]) * scale
    return centre, axes


def build_performer(cfg: PerformerConfig = PerformerConfig(), model: HeadModel | None = None,
                    appearance: Appearance | None = None) -> Performer:
    """Build the performer of `cfg.seed` (deterministic)."""
    model = load_head_model() if model is None else model
    app = sample_appearance(cfg.seed, model.n_id) if appearance is None else appearance
    rng = np.random.default_rng([cfg.seed, 0x627569])
    beta = torch.as_tensor(app.beta, dtype=torch.float32)
    zero_phi = torch.zeros(1, model.n_expr)
    rest_lm_t = shape(model, beta[None], zero_phi)[0]
    rest_lm = rest_lm_t.numpy().astype(np.float64)
    g = model.groups

    # ---- face: subdivide, then fine detail along the rest normals
    sub = _face_subdivision(model, cfg.face_subdivisions)
    face_v = sub.apply(rest_lm_t).numpy().astype(np.float64)
    face_f = sub.faces.numpy()
    used = np.unique(face_f)
    nrm = vertex_normals(torch.as_tensor(face_v)[None].float(), sub.faces)[0].numpy()
    eye_y = rest_lm[[g.left_iris_center, g.right_iris_center], 1].mean()
    brow_y = rest_lm[list(g.left_brow_upper) + list(g.right_brow_upper), 1].mean()
    pores = 0.00012 * _value_noise(face_v, 900.0, cfg.seed) + 0.0002 * _value_noise(face_v, 260.0, cfg.seed + 1)
    forehead = np.clip((face_v[:, 1] - brow_y - 0.012) / 0.02, 0, 1) * np.clip((brow_y + 0.07 - face_v[:, 1]) / 0.02, 0, 1)
    wrinkles = 0.00025 * forehead * np.sin(face_v[:, 1] * 2 * np.pi / 0.006) * (0.6 + 0.4 * _value_noise(face_v, 40, cfg.seed + 2))
    crow = np.zeros(len(face_v))
    for side, sign in (("left", 1), ("right", -1)):
        corner = rest_lm[getattr(g, f"{side}_eye_upper")[0]]
        d = face_v - corner
        r = np.hypot(d[:, 0], d[:, 1])
        near = np.exp(-(r / 0.012) ** 2) * (sign * d[:, 0] > 0)
        crow += 0.0002 * near * np.sin(np.arctan2(d[:, 1], sign * d[:, 0]) * 14)
    disp = cfg.detail * (pores + wrinkles + crow)
    face_detail = np.zeros_like(face_v)
    face_detail[used] = (disp[:, None] * nrm)[used]

    # ---- skirt: fold the face outline back into the skull
    loops = boundary_loops(sub.faces)
    outline = loops[0]
    n_out = len(outline)
    centre, axes = _fit_cranium(model.mean.numpy(), list(g.face_oval), app.head_scale)
    ov = face_v[outline]
    inward = centre + np.array([0.0, -0.02, 0.0]) - ov
    inward /= np.linalg.norm(inward, axis=1, keepdims=True)
    skirt_off = 0.03 * inward + np.array([0, 0, -0.01])
    skirt_v = ov + skirt_off
    sk_f = []
    Vf = len(face_v)
    for k in range(n_out):
        a, b = outline[k], outline[(k + 1) % n_out]
        sa, sb = Vf + k, Vf + (k + 1) % n_out
        # the outline runs with the boundary edge direction (clockwise from outside),
        # so (b, a, sa) continues the face's outward orientation
        sk_f += [(b, a, sa), (b, sa, sb)]
    face_mesh = Mesh(np.concatenate([face_v, skirt_v]), np.concatenate([face_f, np.asarray(sk_f)]))

    # ---- cranium: an ellipsoid bent radially so it meets the face outline all round; its
    # front, inside the face's footprint, is pulled in behind the face
    sph, _ = uv_sphere(30, 44)
    dirs = sph.verts
    ell_r = 1 / np.sqrt(((dirs / axes) ** 2).sum(1))  # ellipsoid radius along each direction
    od = ov - centre
    o_r = np.linalg.norm(od, axis=1)
    o_dir = od / o_r[:, None]
    o_ell = 1 / np.sqrt(((o_dir / axes) ** 2).sum(1))
    ang = np.arccos(np.clip(dirs @ o_dir.T, -1, 1))  # (V, n_out)
    w = np.exp(-((ang / 0.3) ** 2))
    ratio = (w * (o_r / o_ell)[None]).sum(1) + 0.05
    ratio = ratio / (w.sum(1) + 0.05)
    sph2 = np.stack([np.arctan2(dirs[:, 0], dirs[:, 2]), np.arcsin(np.clip(dirs[:, 1], -1, 1))], 1)
    oval2 = np.stack([np.arctan2(o_dir[:, 0], o_dir[:, 2]), np.arcsin(np.clip(o_dir[:, 1], -1, 1))], 1)
    inside = _inside(sph2, oval2) & (dirs[:, 2] > 0)
    depth_in = np.clip(ang.min(1) / 0.25, 0, 1)
    ratio = np.where(inside, ratio * (1 - 0.2 * depth_in * depth_in * (3 - 2 * depth_in)), ratio)
    cran_v = centre + dirs * (ell_r * ratio)[:, None]
    cranium = Mesh(cran_v, sph.faces)

    # ---- ears
    ears = []
    for sign in (1, -1):
        e, _ = uv_sphere(10, 14)
        ev = e.verts * np.array([0.010, 0.030, 0.018])
        tilt = np.radians(15)
        rot = np.array([[1, 0, 0], [0, np.cos(tilt), -np.sin(tilt)], [0, np.sin(tilt), np.cos(tilt)]])
        ev = ev @ rot.T + np.array([sign * (axes[0] * 0.97), eye_y - 0.025, centre[2] - 0.005])
        ears.append(Mesh(ev, e.faces))

    # ---- hair: shell above the hairline with strand relief
    hs, _ = uv_sphere(40, 60)
    hd = hs.verts
    az = np.arctan2(hd[:, 0], hd[:, 2])
    front = 0.5 * (1 + np.cos(az))  # 1 at the face, 0 at the back
    forehead_top = (rest_lm[g.forehead_top] - centre) / axes
    front_level = forehead_top[1] / np.linalg.norm(forehead_top) + 0.1 + 0.12 * app.hairline
    back_level = -0.55 - 0.35 * app.hair_length
    level = front * front_level + (1 - front) * np.where(np.abs(np.sin(az)) > 0.5, 0.05 * front_level + 0.95 * (back_level * 0.6), back_level)
    keep = hd[:, 1] > level
    relief = 0.004 * _value_noise(hd * np.array([8, 1, 8]), 6.0, cfg.seed + 3) + 0.002 * _value_noise(hd, 20.0, cfg.seed + 4)
    hv = centre + hd * (axes + app.hair_volume)[None] * (1 + relief[:, None] / 0.1)
    hv[~keep] = centre + hd[~keep] * axes * 0.9  # hidden inside the cranium
    hf = hs.faces[keep[hs.faces].all(1)]
    hair = Mesh(hv, hf)

    # ---- eyes
    eye_meshes, eye_dirs, eye_centers = [], [], []
    for k, side in enumerate(("left", "right")):
        c = model.eye_centers[k].numpy().astype(np.float64) + (rest_lm[getattr(g, f"{side}_iris_center")] - model.mean[getattr(g, f"{side}_iris_center")].numpy())
        e, _ = uv_sphere(18, 28)
        eye_meshes.append(Mesh(e.verts * model.eye_radius + c, e.faces))
        eye_dirs.append(e.verts)
        eye_centers.append(c)

    # ---- mouth cavity, teeth, tongue
    lip_in = rest_lm[list(g.lips_inner_upper) + list(g.lips_inner_lower)]
    mouth_c = lip_in.mean(0)
    mouth_w = np.ptp(lip_in[:, 0])
    cav, _ = uv_sphere(12, 20)
    mouth = Mesh(cav.verts * np.array([mouth_w * 0.55, 0.022, 0.03]) + mouth_c + np.array([0, -0.008, -0.034]), cav.faces)

    def arch(y_top: float, y_bot: float, depth: float) -> Mesh:
        prof = np.array([[y_top, mouth_w * 0.47, 0.028], [y_bot, mouth_w * 0.47, 0.028]])
        m = tube(prof, 24, cap_top=True, cap_bottom=True)
        v = m.verts.copy()
        v[:, 2] = v[:, 2] * np.where(v[:, 2] > 0, 1.0, 0.0)  # keep the front half of the arch
        return Mesh(v + np.array([0, 0, mouth_c[2] - 0.026 - depth]), m.faces)

    upper_y = rest_lm[g.lips_inner_upper, 1].mean()
    teeth_u = arch(upper_y + 0.004, upper_y - 0.006, 0.004)
    lower_y = rest_lm[g.lips_inner_lower, 1].mean()
    teeth_l = arch(lower_y + 0.006, lower_y - 0.004, 0.006)
    tg, _ = uv_sphere(10, 16)
    tongue = Mesh(tg.verts * np.array([mouth_w * 0.38, 0.008, 0.022]) + mouth_c + np.array([0, -0.012, -0.03]), tg.faces)

    # ---- neck and torso
    chin_y = rest_lm[g.chin, 1]
    neck_prof = np.array([[chin_y + 0.06, 0.05, 0.052], [chin_y - 0.02, 0.052, 0.055], [-0.14, 0.057, 0.06], [-0.165, 0.068, 0.066]])
    neck = tube(neck_prof, 32).transformed(offset=(0, 0, centre[2] - 0.02))
    sw = app.shoulder_width
    torso_prof = np.array([[-0.145, 0.07, 0.068], [-0.165, 0.125, 0.085], [-0.185, sw * 0.88, 0.105],
                           [-0.215, sw, 0.115], [-0.29, sw * 1.04, 0.12], [-0.6, sw * 1.02, 0.12]])
    torso = tube(torso_prof, 48, cap_top=True, cap_bottom=True).transformed(offset=(0, 0, centre[2] - 0.03))

    parts = {"face": None, "skirt": None, "cranium": cranium, "hair": hair, "ear_left": ears[0], "ear_right": ears[1],
             "eye_left": eye_meshes[0], "eye_right": eye_meshes[1], "mouth": mouth, "teeth_upper": teeth_u,
             "teeth_lower": teeth_l, "tongue": tongue, "neck": neck, "torso": torso}
    meshes = [Mesh(face_v, face_f), Mesh(skirt_v, np.zeros((0, 3), np.int64))] + [parts[p] for p in PARTS[2:]]
    combined, part = merge(meshes)
    # the skirt's triangles reference face and skirt vertices, which lie consecutively at the start
    faces_all = np.concatenate([combined.faces[: len(face_f)], face_mesh.faces[len(face_f):], combined.faces[len(face_f):]])
    # shadows are cast by a coarser face: one subdivision level less, over the same vertices
    # (subdivision keeps each level's vertices first, so coarse indices stay valid)
    coarse = _face_subdivision(model, cfg.face_subdivisions - 1).faces.numpy() if cfg.face_subdivisions > 0 else face_f
    # eyes, mouth cavity, teeth and tongue sit inside the head and cast no shadows worth their cost
    body = combined.faces[len(face_f):]
    inner = np.isin(part[body[:, 0]], [PARTS.index(p) for p in ("eye_left", "eye_right", "mouth", "teeth_upper",
                                                                 "teeth_lower", "tongue")])
    shadow_all = np.concatenate([coarse, face_mesh.faces[len(face_f):], body[~inner]])

    # ---- materials
    V = len(combined.verts)
    albedo = np.zeros((V, 3))
    rough = np.full(V, 0.5)
    f0 = np.full(V, 0.028)
    sss = np.zeros(V)
    skin = np.asarray(app.skin)
    pid = {p: part == i for i, p in enumerate(PARTS)}
    vv = combined.verts
    mottle = 1 + 0.06 * _value_noise(vv, 60.0, cfg.seed + 5)[:, None] + 0.03 * _value_noise(vv, 300.0, cfg.seed + 6)[:, None]
    for p in ("face", "skirt", "cranium", "ear_left", "ear_right", "neck"):
        albedo[pid[p]] = skin * mottle[pid[p]]
        rough[pid[p]] = 0.5
        sss[pid[p]] = 1.0
    fv = face_v
    # lips: between the outer and inner lip contours (in the frontal x-y projection)
    outer = rest_lm[list(g.lips_outer_upper) + list(g.lips_outer_lower[::-1]), :2]
    lips = _inside(fv[:, :2], outer)
    lip_w = np.zeros(len(fv))
    lip_w[lips] = 1.0
    face_alb = albedo[: len(fv)]
    face_alb[lips] = np.asarray(app.lips) * mottle[: len(fv)][lips]
    # cheeks and nose a little redder, under-eyes a little darker
    for side in ("left", "right"):
        cheek = rest_lm[getattr(g, f"{side}_iris_center")] + np.array([0, -0.035, 0])
        w = np.exp(-(np.linalg.norm(fv[:, :2] - cheek[:2], axis=1) / 0.03) ** 2)[:, None]
        face_alb *= 1 - 0.06 * w * np.array([0.0, 1.0, 1.0])
    nose_w = np.exp(-(np.linalg.norm(fv[:, :2] - rest_lm[g.nose_tip, :2], axis=1) / 0.015) ** 2)[:, None]
    face_alb *= 1 - 0.05 * nose_w * np.array([0.0, 1.0, 1.0])
    # brows: hair-coloured band along the brow landmarks
    for side in ("left", "right"):
        up = rest_lm[list(getattr(g, f"{side}_brow_upper")), :2]
        lo = rest_lm[list(getattr(g, f"{side}_brow_lower")), :2]
        poly = np.concatenate([up, lo[::-1]])
        inb = _inside(fv[:, :2], poly) & (fv[:, 2] > rest_lm[g.nose_bridge, 2] - 0.04)
        strands = 0.7 + 0.3 * _value_noise(fv * np.array([1, 6, 1]), 400, cfg.seed + 7)
        face_alb[inb] = np.asarray(app.hair)[None] * 1.3 * strands[inb, None] + skin * 0.15
        rough[: len(fv)][inb] = 0.6
    # lash lines: dark upper lid margins, softer lower ones
    for side in ("left", "right"):
        for lid, strength, width in (("upper", 0.8, 0.0016), ("lower", 0.4, 0.001)):
            line = rest_lm[list(getattr(g, f"{side}_eye_{lid}")), :2]
            d = _polyline_distance(fv[:, :2], line)
            near_eye = fv[:, 2] > rest_lm[list(getattr(g, f"{side}_eye_{lid}")), 2].min() - 0.01
            face_alb *= 1 - strength * (np.exp(-((d / width) ** 2)) * near_eye)[:, None]
    albedo[: len(fv)] = face_alb
    rough[: len(fv)] = np.where(lips, 0.32, rough[: len(fv)])
    # oilier T-zone
    tz = (np.abs(fv[:, 0]) < 0.02) & (fv[:, 1] > eye_y - 0.05)
    rough[: len(fv)][tz & ~lips] = 0.4
    hair_alb = np.asarray(app.hair) * (0.75 + 0.35 * _value_noise(vv[pid["hair"]] * np.array([30, 3, 30]), 40, cfg.seed + 8))[:, None]
    albedo[pid["hair"]] = hair_alb
    rough[pid["hair"]] = 0.38
    f0[pid["hair"]] = 0.046
    for p in ("eye_left", "eye_right"):
        rough[pid[p]] = 0.06
        f0[pid[p]] = 0.025
    albedo[pid["mouth"]] = [0.18, 0.035, 0.03]
    rough[pid["mouth"]] = 0.35
    sss[pid["mouth"]] = 0.5
    albedo[pid["tongue"]] = [0.45, 0.12, 0.1]
    rough[pid["tongue"]] = 0.3
    sss[pid["tongue"]] = 1.0
    for p in ("teeth_upper", "teeth_lower"):
        albedo[pid[p]] = [0.72, 0.68, 0.58]
        rough[pid[p]] = 0.25
        f0[pid[p]] = 0.04
        sss[pid[p]] = 0.3
    albedo[pid["torso"]] = np.asarray(app.cloth) * (0.9 + 0.1 * _value_noise(vv[pid["torso"]], 150, cfg.seed + 9))[:, None]
    rough[pid["torso"]] = 0.85
    f0[pid["torso"]] = 0.03

    # ---- how much each vertex follows the head pose
    hw = np.ones(V)
    hw[pid["torso"]] = 0.0
    ny = vv[pid["neck"], 1]
    hw[pid["neck"]] = np.clip((ny - (-0.145)) / (chin_y + 0.02 - (-0.145)), 0, 1) ** 1.5

    t32 = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    skirt_src = torch.as_tensor(np.asarray(outline), dtype=torch.int64)
    _ = rng
    return Performer(
        appearance=app, model=model, beta=beta, sub=sub, face_detail=t32(face_detail), rest=t32(combined.verts),
        faces=torch.as_tensor(faces_all, dtype=torch.int64), shadow_faces=torch.as_tensor(shadow_all, dtype=torch.int64),
        part=torch.as_tensor(part, dtype=torch.int64),
        head_weight=t32(hw), albedo=t32(albedo.clip(0, 1)), roughness=t32(rough), f0=t32(f0), sss=t32(sss),
        skirt_src=skirt_src, skirt_off=t32(skirt_off), eye_dir=t32(np.concatenate(eye_dirs)),
        eye_centers=t32(np.stack(eye_centers)), jaw_anchor=int(g.lips_inner_lower[len(g.lips_inner_lower) // 2]),
        rest_landmarks=rest_lm_t,
    )
