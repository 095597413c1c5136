"""Fitting the head model G(β, θ, φ) to tracked landmarks by robust least squares.

Per frame t the model's 478 vertices (vertex i = MediaPipe landmark i) are posed, projected
with the clip's camera and compared with the tracked landmarks:

    r_t,i = sqrt(w_i h_t,i) (π(G(β, θ_t, φ_t))_i - x_t,i) / s_t         (2 rows per landmark)

with s_t the frame's inter-ocular distance in pixels (2-D distance between the tracked iris
centres), w_i a per-group weight (`FitConfig`), and h_t,i Huber weights (iteratively
reweighted: 1 within `robust_iod`, robust_iod / d beyond). Priors add rows
sqrt(phi_prior) φ_k and sqrt(beta_prior) β_k (zero-mean Gaussians, one unit = a full
expression or one identity standard deviation), and φ stays inside per-dimension bounds.

Two stages, as in the paper (β̄ is the average of per-frame identities):
  1. on up to `identity_frames` evenly spaced valid frames, fit (β_t, θ_t, φ_t) per frame;
     β̄ = mean of the β_t;
  2. on every valid frame, fit (θ_t, φ_t) with β fixed to β̄.
Each stage is batched Levenberg-Marquardt over all frames at once: the Jacobian comes from
forward-mode differentiation of `nervp.face.G` (one JVP per parameter, all frames
together), the per-frame normal equations are solved in a batch, and each frame has its own
damping. θ starts from OpenCV's PnP on the mean shape.

Cameras: an OLAT dataset carries its camera. For a video the camera is an assumed pinhole
(`video_camera`): vertical field of view `fov_y_deg` (default 30°, typical of a webcam or
a phone's main camera cropped to a portrait), principal point at the image centre, placed
at (0, 0, camera_distance_m) in world space looking at the origin with +y up, so a frontal
head has zero rotation. A wrong field of view mostly trades distance for focal length:
θ's translation (metres) scales with it, rotation and φ barely change.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from nervp.errors import ConfigError, NervpError
from nervp.face import G, HeadModel, load_head_model
from nervp.parse.track import LEFT_IRIS, RIGHT_IRIS
from nervp.render.camera import Camera, make_camera, project
from nervp.structures.face import FaceParams, FaceTrack

# φ bounds (lo, hi) by name; others use DEFAULT_BOUNDS. Expressions are activations (a
# pucker or a brow raise has no negative), with a little slack for identities the β basis
# does not capture; smiles may go slightly negative (mouth corners down), blinks too (eyes
# opened a little wider than the mean), gaze both ways.
DEFAULT_BOUNDS = (-0.1, 1.5)
PHI_BOUNDS = {
    "smile_left": (-0.3, 1.5),
    "smile_right": (-0.3, 1.5),
    "blink_left": (-0.3, 1.1),
    "blink_right": (-0.3, 1.1),
    "gaze_yaw": (-1.5, 1.5),
    "gaze_pitch": (-1.5, 1.5),
}


# Relative prior strength per φ dimension (default 1). Mouth and eye shapes that can mimic
# a jaw opening or a blink in 2-D landmarks (a lip raise plus a lip depress looks like an
# open jaw) cost more, so a motion goes to the dimension that usually causes it.
# Lids and irises are observed directly by many landmarks: blinks and gaze get a weak prior
# so that a full closure or a glance is not shrunk.
PHI_PRIOR_SCALE = {
    "upper_lip_raise": 10.0, "lower_lip_depress": 10.0, "pucker": 3.0, "funnel": 3.0,
    "eye_wide_left": 10.0, "eye_wide_right": 10.0, "brow_lower_left": 3.0, "brow_lower_right": 3.0,
    "blink_left": 0.1, "blink_right": 0.1, "gaze_yaw": 0.1, "gaze_pitch": 0.1,
}


@dataclass(frozen=True)
class FitConfig:
    """Settings of the model fit (see the module docstring)."""

    iterations: int = 8
    """Levenberg-Marquardt iterations per stage."""
    robust_iod: float = 0.03
    """Huber threshold on a landmark's distance, in inter-ocular distances."""
    phi_prior: float = 1e-2
    """Weight of the zero-mean prior on φ (per unit φ, against squared IOD residuals), times
    PHI_PRIOR_SCALE for the dimensions listed there."""
    beta_prior: float = 3e-3
    """Weight of the zero-mean prior on β (per identity standard deviation)."""
    oval_weight: float = 0.5
    """Weight of the face-oval landmarks (their image position depends on the silhouette)."""
    iris_weight: float = 2.0
    """Weight of the iris landmarks (they alone carry the gaze)."""
    identity_frames: int = 30
    """Frames (evenly spaced) whose per-frame identities are averaged into β̄."""
    fov_y_deg: float = 30.0
    """Assumed vertical field of view of a video's camera, degrees."""
    camera_distance_m: float = 0.6
    """Where the assumed video camera stands on +z (θ's translation absorbs the rest)."""

    def validate(self) -> None:
        if self.iterations < 1 or self.identity_frames < 1:
            raise ConfigError("--iterations and --identity-frames must be at least 1")
        if not 5.0 <= self.fov_y_deg <= 120.0:
            raise ConfigError(f"--fov-y-deg must be in 5..120 degrees, got {self.fov_y_deg}")
        if min(self.robust_iod, self.camera_distance_m) <= 0 or min(self.phi_prior, self.beta_prior) < 0:
            raise ConfigError("robust_iod and camera_distance_m must be positive, priors >= 0")

    def to_json(self) -> dict:
        return dict(self.__dict__)


def video_camera(width: int, height: int, fov_y_deg: float = 30.0, distance_m: float = 0.6) -> Camera:
    """The assumed pinhole of a video (module docstring): batch 1, float32."""
    eye = torch.tensor([[0.0, 0.0, distance_m]])
    return make_camera(eye, torch.zeros(1, 3), fov_y_deg, width, height)


def scale_camera(camera: Camera, width: int, height: int) -> Camera:
    """The same camera with its image resampled to width x height (intrinsics scaled)."""
    sx, sy = width / camera.width, height / camera.height
    K = camera.K.clone()
    K[:, 0] *= sx
    K[:, 1] *= sy
    return Camera(camera.R, camera.t, K, int(width), int(height))


def landmark_weights(model: HeadModel, cfg: FitConfig) -> Tensor:
    """(478,) float64 per-landmark weights."""
    w = torch.ones(478, dtype=torch.float64)
    w[list(model.groups.face_oval)] = cfg.oval_weight
    g = model.groups
    w[list(g.iris("left")) + list(g.iris("right"))] = cfg.iris_weight
    return w


def phi_bounds(model: HeadModel) -> tuple[Tensor, Tensor]:
    lo = torch.tensor([PHI_BOUNDS.get(n, DEFAULT_BOUNDS)[0] for n in model.expr_names], dtype=torch.float64)
    hi = torch.tensor([PHI_BOUNDS.get(n, DEFAULT_BOUNDS)[1] for n in model.expr_names], dtype=torch.float64)
    return lo, hi


def _camera64(camera: Camera, n: int) -> Camera:
    return Camera(camera.R.double().expand(n, 3, 3), camera.t.double().expand(n, 3),
                  camera.K.double().expand(n, 3, 3), camera.width, camera.height)


def init_pose(model: HeadModel, camera: Camera, landmarks: np.ndarray) -> np.ndarray:
    """(N, 6) θ from OpenCV PnP of the mean shape's mesh points onto landmarks (N, 478, 2)."""
    import cv2

    obj = model.mean[:468].double().numpy()
    K = camera.K[0].double().numpy()
    Rc, tc = camera.R[0].double().numpy(), camera.t[0].double().numpy()
    out = np.zeros((len(landmarks), 6))
    for n, lm in enumerate(landmarks):
        img = lm[:468].astype(np.float64) - 0.5  # OpenCV pixel centres are at integers
        ok, rvec, tvec = cv2.solvePnP(obj, img, K, None, flags=cv2.SOLVEPNP_SQPNP)
        if not ok:
            rvec, tvec = np.zeros(3), np.array([0.0, 0.0, 0.6])
        Rp, _ = cv2.Rodrigues(rvec)
        R = Rc.T @ Rp  # x_cam = Rc (R v + t) + tc = Rp v + tp
        t = Rc.T @ (tvec.reshape(3) - tc)
        out[n, :3] = cv2.Rodrigues(R)[0].reshape(3)
        out[n, 3:] = t
    return out


@dataclass(frozen=True)
class _Problem:
    """One batched least-squares problem (internal). Parameters per frame:
    θ (6), φ (E), then β (n_id) when `free_beta`; `fixed` (P,) bool marks parameters held."""

    model: HeadModel
    camera: Camera
    target: Tensor  # (N, 478, 2) float64 pixels
    scale: Tensor  # (N,) float64 IOD pixels
    weights: Tensor  # (478,) float64
    beta: Tensor  # (N, n_id) float64 (used when not free)
    free_beta: bool
    cfg: FitConfig

    def project(self, p: Tensor, beta: Tensor | None = None) -> Tensor:
        """(M, 478, 2) projected landmarks of parameters p (M, P)."""
        E = self.model.n_expr
        beta = p[:, 6 + E:] if self.free_beta else (self.beta if beta is None else beta)
        v = G(self.model, beta, p[:, :6], p[:, 6:6 + E])
        cam = self.camera
        m = p.shape[0]
        cam = Camera(cam.R[:1].expand(m, 3, 3), cam.t[:1].expand(m, 3), cam.K[:1].expand(m, 3, 3),
                     cam.width, cam.height)
        return project(v, cam)[..., :2]

    @property
    def _phi_w(self) -> Tensor:
        """(E,) square roots of the per-dimension φ prior weights."""
        scale = [PHI_PRIOR_SCALE.get(n, 1.0) for n in self.model.expr_names]
        return (self.cfg.phi_prior * torch.tensor(scale, dtype=torch.float64)).sqrt()

    def _prior(self, p: Tensor) -> Tensor:
        E = self.model.n_expr
        rows = [self._phi_w * p[:, 6:6 + E]]
        if self.free_beta:
            rows.append(math.sqrt(self.cfg.beta_prior) * p[:, 6 + E:])
        return torch.cat(rows, dim=1)

    def _prior_jacobian(self, n: int, P: int) -> Tensor:
        E = self.model.n_expr
        j = torch.zeros(P - 6, P, dtype=torch.float64)
        j[:E, 6:6 + E] = torch.diag(self._phi_w)
        if self.free_beta:
            j[E:, 6 + E:] = math.sqrt(self.cfg.beta_prior) * torch.eye(P - 6 - E, dtype=torch.float64)
        return j.expand(n, -1, -1)

    def _gain(self, huber: Tensor) -> Tensor:
        return ((self.weights * huber).sqrt() / self.scale[:, None])[..., None]  # (N, 478, 1)

    def residual(self, p: Tensor, huber: Tensor) -> Tensor:
        """(N, R) residual rows for parameters p (N, P) and Huber weights (N, 478)."""
        d = (self.project(p) - self.target) * self._gain(huber)
        return torch.cat([d.reshape(len(p), -1), self._prior(p)], dim=1)

    def jacobian(self, p: Tensor, huber: Tensor, h: float = 1e-7) -> tuple[Tensor, Tensor]:
        """(r (N, R), J (N, R, P)): the model's derivatives by forward differences of `G`,
        all frames and parameters in one batch (G is smooth; float64 keeps ~1e-7 accuracy)."""
        n, P = p.shape
        steps = p[:, None, :] + h * torch.eye(P, dtype=p.dtype)  # (N, P, P)
        beta = None if self.free_beta else self.beta.repeat_interleave(P, 0)
        uv0 = self.project(p)
        uv = self.project(steps.reshape(n * P, P), beta).reshape(n, P, 478, 2)
        gain = self._gain(huber)
        J_lm = ((uv - uv0[:, None]) / h * gain[:, None]).reshape(n, P, -1).transpose(1, 2)
        r = torch.cat([((uv0 - self.target) * gain).reshape(n, -1), self._prior(p)], dim=1)
        return r, torch.cat([J_lm, self._prior_jacobian(n, P)], dim=1)

    def huber(self, p: Tensor) -> Tensor:
        d = ((self.project(p) - self.target).norm(dim=-1) / self.scale[:, None])
        k = self.cfg.robust_iod
        return torch.where(d <= k, torch.ones_like(d), k / d.clamp(min=1e-12))


def _levenberg_marquardt(prob: _Problem, p: Tensor, lo: Tensor, hi: Tensor, iterations: int) -> Tensor:
    """Batched LM with per-frame damping and box constraints (projected steps)."""
    n, P = p.shape
    lam = torch.full((n,), 1e-3, dtype=p.dtype)
    eye = torch.eye(P, dtype=p.dtype)
    for _ in range(iterations):
        huber = prob.huber(p)
        r, J = prob.jacobian(p, huber)
        cost = (r * r).sum(1)
        A = J.transpose(1, 2) @ J
        g = (J.transpose(1, 2) @ r.unsqueeze(-1)).squeeze(-1)
        diag = A.diagonal(dim1=1, dim2=2)
        for _try in range(4):
            M = A + lam[:, None, None] * (diag[:, :, None] * eye) + 1e-12 * eye
            step = -torch.linalg.solve(M, g)
            q = torch.minimum(torch.maximum(p + step, lo), hi)
            new = prob.residual(q, huber)
            new_cost = (new * new).sum(1)
            better = new_cost < cost
            p = torch.where(better[:, None], q, p)
            cost = torch.where(better, new_cost, cost)
            lam = torch.where(better, lam / 3.0, lam * 4.0).clamp(1e-9, 1e9)
            if better.all():
                break
    return p


@contextlib.contextmanager
def single_thread():
    """Run torch single-threaded inside the block (restored after). The fit's tensors are a
    few MB, far too small to gain from intra-op threads, and OpenMP's spin-waiting makes each
    small op tens of times slower when the cores are shared (measured: 60x on the project's
    2 loaded cores)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def fit_landmarks(landmarks: np.ndarray | Tensor, camera: Camera, cfg: FitConfig = FitConfig(),
                  model: HeadModel | None = None, beta: Tensor | None = None,
                  theta0: np.ndarray | None = None, single: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """Fit frames of landmarks (N, 478, 2) pixels. With `beta` (n_id,) given, only θ and φ are
    fitted; otherwise every frame gets its own β. Returns float64 (θ (N, 6), φ (N, E),
    β (N, n_id)). Runs single-threaded (`single_thread`) unless `single` is False: torch's
    thread count is process-wide, so a caller fitting beside other torch work in another
    thread (`nervp live`) leaves it alone."""
    with single_thread() if single else contextlib.nullcontext(), torch.no_grad():
        return _fit_landmarks(landmarks, camera, cfg, model, beta, theta0)


def _fit_landmarks(landmarks, camera, cfg, model, beta, theta0) -> tuple[Tensor, Tensor, Tensor]:
    model = model or load_head_model()
    lm = torch.as_tensor(np.asarray(landmarks), dtype=torch.float64)
    n = lm.shape[0]
    if lm.ndim != 3 or lm.shape[1:] != (478, 2) or not torch.isfinite(lm).all():
        raise ValueError(f"landmarks must be finite (N, 478, 2) pixels, got shape {tuple(lm.shape)}")
    scale = (lm[:, LEFT_IRIS] - lm[:, RIGHT_IRIS]).norm(dim=-1).clamp(min=1.0)
    theta = torch.as_tensor(init_pose(model, camera, lm.numpy()) if theta0 is None else theta0,
                            dtype=torch.float64)
    E = model.n_expr
    free = beta is None
    b = torch.zeros(n, model.n_id, dtype=torch.float64) if free else beta.double().expand(n, -1)
    prob = _Problem(model, _camera64(camera, n), lm, scale, landmark_weights(model, cfg), b, free, cfg)
    plo, phi_ = phi_bounds(model)
    inf = torch.full((6,), math.inf, dtype=torch.float64)
    lo, hi = [torch.cat([-inf, plo]), torch.cat([inf, phi_])]
    if free:
        lo = torch.cat([lo, torch.full((model.n_id,), -3.0, dtype=torch.float64)])
        hi = torch.cat([hi, torch.full((model.n_id,), 3.0, dtype=torch.float64)])
    p = torch.cat([theta, torch.zeros(n, E, dtype=torch.float64)] + ([b] if free else []), dim=1)
    # pose first (expression and identity held at zero), then everything
    p[:, :6] = _levenberg_marquardt(
        _Problem(model, prob.camera, lm, scale, prob.weights, b, False, cfg), p[:, :6 + E],
        torch.cat([lo[:6], torch.zeros(E, dtype=torch.float64)]),
        torch.cat([hi[:6], torch.zeros(E, dtype=torch.float64)]), 4)[:, :6]
    p = _levenberg_marquardt(prob, p, lo, hi, cfg.iterations)
    return p[:, :6], p[:, 6:6 + E], (p[:, 6 + E:] if free else b)


def landmark_errors(model: HeadModel, camera: Camera, beta: Tensor, theta: Tensor, phi: Tensor,
                    landmarks: Tensor) -> Tensor:
    """(N, 478) distance of the fitted model's projected landmarks to `landmarks` (N, 478, 2),
    in inter-ocular distances (2-D distance between the target iris centres)."""
    n = theta.shape[0]
    lm = torch.as_tensor(np.asarray(landmarks), dtype=torch.float64)
    v = G(model, beta.double().expand(n, -1), theta.double(), phi.double())
    uv = project(v, _camera64(camera, n))[..., :2]
    iod = (lm[:, LEFT_IRIS] - lm[:, RIGHT_IRIS]).norm(dim=-1).clamp(min=1e-6)
    return (uv - lm).norm(dim=-1) / iod[:, None]


def _hold_nearest(x: Tensor, valid: np.ndarray) -> Tensor:
    """Copy each invalid row from the nearest valid row (earlier one on ties)."""
    idx = np.flatnonzero(valid)
    t = np.arange(len(valid))
    pos = np.clip(np.searchsorted(idx, t), 1, max(len(idx) - 1, 1))
    left = idx[np.clip(pos - 1, 0, len(idx) - 1)]
    right = idx[np.clip(pos, 0, len(idx) - 1)]
    near = np.where(np.abs(t - left) <= np.abs(right - t), left, right)
    return x[torch.as_tensor(near)]


def fit_track(track: FaceTrack, camera: Camera | None = None, cfg: FitConfig = FitConfig(),
              model: HeadModel | None = None, on_stage: Callable[[str], None] | None = None,
              chunk: int = 256) -> FaceParams:
    """Fit G(β̄, θ_t, φ_t) to a track (module docstring). `camera` defaults to `video_camera`."""
    cfg.validate()
    model = model or load_head_model()
    camera = camera or video_camera(track.width, track.height, cfg.fov_y_deg, cfg.camera_distance_m)
    if (camera.width, camera.height) != (track.width, track.height):
        raise NervpError(f"camera is {camera.width}x{camera.height} but the track is "
                         f"{track.width}x{track.height}")
    valid = np.asarray(track.valid, bool)
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        raise NervpError(f"{track.source}: no frame with a face to fit")
    lm = track.landmarks
    # stage 1: per-frame identities on evenly spaced frames, averaged
    if on_stage:
        on_stage("identity")
    pick = idx[np.unique(np.linspace(0, idx.size - 1, min(cfg.identity_frames, idx.size)).round().astype(int))]
    _, _, beta_t = fit_landmarks(lm[pick], camera, cfg, model)
    beta = beta_t.mean(0).float()
    beta_frames = torch.full((track.n_frames, model.n_id), float("nan"))
    beta_frames[torch.as_tensor(pick)] = beta_t.float()
    # stage 2: pose and expression of every valid frame with β̄
    if on_stage:
        on_stage("pose and expression")
    thetas, phis, errs = [], [], []
    for a in range(0, idx.size, chunk):
        sel = idx[a:a + chunk]
        th, ph, _ = fit_landmarks(lm[sel], camera, cfg, model, beta=beta)
        thetas.append(th)
        phis.append(ph)
        errs.append(landmark_errors(model, camera, beta, th, ph, torch.as_tensor(lm[sel])).median(dim=1).values)
    T = track.n_frames
    theta = torch.zeros(T, 6, dtype=torch.float64)
    phi = torch.zeros(T, model.n_expr, dtype=torch.float64)
    residual = torch.full((T,), float("nan"))
    ti = torch.as_tensor(idx)
    theta[ti], phi[ti], residual[ti] = torch.cat(thetas), torch.cat(phis), torch.cat(errs).float()
    theta, phi = _hold_nearest(theta, valid), _hold_nearest(phi, valid)
    return FaceParams(beta=beta, theta=theta.float(), phi=phi.float(), residual=residual,
                      valid=torch.as_tensor(valid), camera=camera, fps=track.fps,
                      id_names=model.id_names, expr_names=model.expr_names, beta_frames=beta_frames)


__all__ = ["FitConfig", "fit_landmarks", "fit_track", "init_pose", "landmark_errors",
           "scale_camera", "video_camera"]
