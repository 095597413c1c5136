"""The virtual light stage: render a synthetic performer's OLAT capture with ground truth."""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import math
import multiprocessing as mp
import os
import signal
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
import torch

from nervp.errors import ConfigError
from nervp.lightstage import Dome, DomeConfig, build_dome, dome_size
from nervp.render.camera import Camera, make_camera, project
from nervp.store.olat import OLATFrame, write_olat_resumable
from nervp.store.space import OLAT_RATIO, check_free_space, check_memory, olat_frame_bytes
from nervp.synth.motion import Motion, MotionConfig, sample_motion
from nervp.synth.performer import Performer, PerformerConfig, build_performer
from nervp.synth.render_olat import RenderQuality, render_lights

MAX_FPS = 10000.0
"""Highest rate `nervp simulate --fps` accepts (the paper's 1000 fps camera, ten times over)."""


@dataclass(frozen=True)
class CameraConfig:
    """The light stage's camera (it stands inside the dome, in front of the performer)."""

    distance: float = 1.0
    """Metres from the head centre along +z."""
    height: float = -0.01
    """Camera height (m) relative to the head centre."""
    aim_height: float = -0.03
    """Height (m) of the point the camera looks at."""
    fov_y_deg: float = 24.0
    """Vertical field of view in degrees (head and shoulders)."""


@dataclass(frozen=True)
class SimConfig:
    """Everything that decides a virtual capture."""

    frames: int = 24
    """Number of OLAT frames (sets) to render."""
    size: int = 256
    """Image width and height in pixels."""
    fps: float = 25.0
    """Rate of OLAT sets in the dataset (sets per second, at most 10,000): frame k is the instant
    start_s + k / fps of one continuous performance, so frame k at 25 fps is frame 4k at 100 fps."""
    start_s: float = 0.0
    """Instant (s) of the first frame within the performance."""
    take_s: float | None = None
    """Length (s) of the performance the motion is drawn for (its blinks depend on it); None:
    the clip's end, start_s + frames / fps, at least 1 s. Give the same value to sample one
    performance at several rates or spans."""
    performer: PerformerConfig = field(default_factory=PerformerConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    dome: DomeConfig = field(default_factory=DomeConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    quality: RenderQuality = field(default_factory=RenderQuality)
    exposure: float = 2.2
    """Scale on LED intensity so a full-lit face lands near mid-grey (linear ~0.3-0.6)."""

    def validate(self) -> None:
        """ConfigError naming the flag for a setting no capture can use; SpaceError when one
        frame cannot be rendered in the memory available (the estimate is stated)."""
        _finite(fps=self.fps, exposure=self.exposure, **{"start-s": self.start_s,
            "camera.distance": self.camera.distance, "camera.fov-y-deg": self.camera.fov_y_deg,
            "dome.radius": self.dome.radius, "dome.intensity": self.dome.intensity,
            "performer.detail": self.performer.detail, "quality.shadow-bias": self.quality.shadow_bias,
            **{f"motion.{k.replace('_', '-')}": v for k, v in vars(self.motion).items() if isinstance(v, float)}})
        if self.frames < 1:
            raise ConfigError(f"--frames must be at least 1, got {self.frames}")
        if self.fps > MAX_FPS:
            raise ConfigError(f"--fps must be at most {MAX_FPS:g} frames per second, got {self.fps:g}")
        if self.start_s < 0:
            raise ConfigError(f"--start-s must be >= 0, got {self.start_s}")
        if self.take_s is not None and not (math.isfinite(self.take_s) and self.take_s > 0):
            raise ConfigError(f"--take-s must be a finite number > 0, got {self.take_s}")
        if not 16 <= self.size <= 4096 or self.size % 2:
            raise ConfigError(f"--size must be an even number of pixels in 16..4096, got {self.size}")
        for name, v in (("fps", self.fps), ("exposure", self.exposure), ("camera.distance", self.camera.distance),
                        ("dome.radius", self.dome.radius), ("motion.head-period-s", self.motion.head_period_s)):
            if not v > 0:
                raise ConfigError(f"--{name} must be positive, got {v}")
        if not 0 < self.camera.fov_y_deg < 180:
            raise ConfigError(f"--camera.fov-y-deg must be in (0, 180), got {self.camera.fov_y_deg}")
        n_lights = dome_size(self.dome)
        if not 4 <= n_lights <= 4096:
            raise ConfigError(f"--dome.n-lights (or the --dome.file's LEDs) must be in 4..4096, got {n_lights}")
        if self.dome.intensity < 0 or self.dome.intensity_spread < 0 or self.performer.detail < 0:
            raise ConfigError("--dome.intensity, --dome.intensity-spread and --performer.detail must be >= 0")
        if not 0 <= self.performer.face_subdivisions <= 3:
            raise ConfigError(f"--performer.face-subdivisions must be 0..3, got {self.performer.face_subdivisions}")
        q = self.quality
        if not (1 <= q.supersample <= 8 and q.light_chunk >= 1 and 8 <= q.shadow_size <= 8192 and q.pcf >= 0):
            raise ConfigError(f"--quality settings out of range (supersample 1..8, light-chunk >= 1, shadow-size "
                              f"8..8192, pcf >= 0): got {q.supersample}, {q.light_chunk}, {q.shadow_size}, {q.pcf}")
        check_memory(render_bytes(self), f"rendering one {self.size}x{self.size} frame under "
                     f"{n_lights} LEDs", "lower --size or --dome.n-lights")


    def time_of(self, k: int) -> float:
        """Instant (s) of frame `k` within the performance."""
        return self.start_s + k / self.fps

    @property
    def take(self) -> float:
        """Length (s) of the performance the motion is drawn for."""
        return self.take_s if self.take_s is not None else max(self.start_s + self.frames / self.fps, 1.0)


def render_bytes(cfg: SimConfig) -> float:
    """Estimated peak memory (bytes) of rendering one OLAT set: the float32 OLAT images, their
    float16 copy and sum, a chunk of shaded lights' intermediates and the supersampled G-buffer."""
    px = cfg.size * cfg.size
    L = dome_size(cfg.dome)
    chunk = min(cfg.quality.light_chunk, L)
    return px * (L * 3 * (4 + 4 + 2) + chunk * 3 * 4 * 4 + cfg.quality.supersample ** 2 * 96) + 2e8


def _finite(**values: float) -> None:
    for name, v in values.items():
        if not math.isfinite(v):
            raise ConfigError(f"--{name} must be a finite number, got {v}")


def stage_camera(cfg: CameraConfig, size: int, device: torch.device | str = "cpu") -> Camera:
    eye = torch.tensor([[0.0, cfg.height, cfg.distance]], device=device)
    target = torch.tensor([[0.0, cfg.aim_height, 0.0]], device=device)
    return make_camera(eye, target, cfg.fov_y_deg, size, size)


@dataclass(frozen=True)
class VirtualStage:
    """A performer in the dome, ready to be captured at any instant."""

    cfg: SimConfig
    performer: Performer
    dome: Dome
    camera: Camera
    motion: Motion

    @property
    def light_pos(self) -> torch.Tensor:
        return torch.as_tensor(self.dome.position, dtype=torch.float32)

    @property
    def light_rgb(self) -> torch.Tensor:
        return torch.as_tensor(self.dome.intensity * self.cfg.exposure, dtype=torch.float32)

    def params(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(θ (N, 6), φ (N, E)) at `times` seconds."""
        return self.motion.at(times)

    def capture(self, t: float, lights: np.ndarray | None = None) -> OLATFrame:
        """The OLAT set (all LEDs, or the `lights` subset) at instant `t`, with ground truth."""
        theta, phi = self.params(np.array([t]))
        return self.capture_posed(theta[0], phi[0], t, lights)

    def capture_posed(self, theta: np.ndarray, phi: np.ndarray, t: float = 0.0,
                      lights: np.ndarray | None = None) -> OLATFrame:
        """The OLAT set of the performer posed by head pose `theta` (6,) and expression `phi`
        (E,) on its own identity, whatever its motion says (e.g. another performer's retargeted
        parameters: the ground truth of a reenactment); `t` is only recorded."""
        theta, phi = np.asarray(theta, np.float32), np.asarray(phi, np.float32)
        th, ph = torch.from_numpy(theta), torch.from_numpy(phi)
        mesh = self.performer.posed(th, ph)
        idx = slice(None) if lights is None else torch.as_tensor(lights)
        imgs, gb = render_lights(mesh, self.camera, self.light_pos[idx], self.light_rgb[idx], self.cfg.quality)
        H = W = self.cfg.size
        a = gb.alpha
        normal = torch.zeros(H * W, 3)
        normal[gb.pixels] = gb.samples.normal
        albedo = torch.zeros(H * W, 3)
        albedo[gb.pixels] = gb.samples.albedo * a.reshape(-1)[gb.pixels, None]
        lm = project(self.performer.landmarks(th, ph)[None], self.camera)[0, :, :2]
        olat = imgs.numpy()
        return OLATFrame(olat=olat, full_lit=olat.sum(0), alpha=a.numpy(),
                         normal=normal.reshape(H, W, 3).numpy(), albedo=albedo.reshape(H, W, 3).numpy(),
                         theta=theta, phi=phi, landmarks=lm.numpy(), time=float(t))


def make_stage(cfg: SimConfig) -> VirtualStage:
    cfg.validate()
    performer = build_performer(cfg.performer)
    dome = build_dome(cfg.dome)
    seed = cfg.performer.seed if cfg.motion.seed is None else cfg.motion.seed
    motion = sample_motion(performer.model.expr_names, cfg.take, seed, cfg.motion)
    return VirtualStage(cfg, performer, dome, stage_camera(cfg.camera, cfg.size), motion)


def stage_manifest(stage: VirtualStage) -> dict:
    cam = stage.camera
    return {
        "height": stage.cfg.size, "width": stage.cfg.size, "fps": stage.cfg.fps,
        "camera": {"K": cam.K[0].tolist(), "R": cam.R[0].tolist(), "t": cam.t[0].tolist(),
                   "convention": "x_cam = R x_world + t; OpenCV axes; pixels, top-left origin"},
        "head_model": {"id_names": list(stage.performer.model.id_names),
                       "expr_names": list(stage.performer.model.expr_names),
                       "theta": "axis-angle rx, ry, rz (rad) then tx, ty, tz (m)"},
        "performer": stage.performer.appearance.describe(),
        "source": "virtual light stage",
        "exposure": stage.cfg.exposure,
    }


_WORKER_STAGE: VirtualStage | None = None


def _worker_init(cfg: SimConfig, threads: int) -> None:
    global _WORKER_STAGE
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops the pool
    torch.set_num_threads(threads)
    _WORKER_STAGE = make_stage(cfg)


def _worker_capture(k: int) -> OLATFrame:
    assert _WORKER_STAGE is not None
    return _WORKER_STAGE.capture(_WORKER_STAGE.cfg.time_of(k))


def _parallel_frames(cfg: SimConfig, workers: int, todo: list[int]) -> Iterator[tuple[int, OLATFrame]]:
    """Frames `todo` in order, rendered by `workers` processes (each builds the same stage)."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    pool = cf.ProcessPoolExecutor(workers, mp.get_context("spawn"), _worker_init, (cfg, threads))
    try:
        left = iter(todo)
        ahead = deque((k, pool.submit(_worker_capture, k)) for k in islice(left, 2 * workers))  # bounded look-ahead
        while ahead:
            k, fut = ahead.popleft()
            frame = fut.result()
            for j in islice(left, 1):
                ahead.append((j, pool.submit(_worker_capture, j)))
            yield k, frame
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def simulate(out: Path, cfg: SimConfig, overwrite: bool = False,
             on_frame: Callable[[int], None] | None = None, workers: int = 1) -> Path:
    """Render `cfg.frames` OLAT sets to an OLAT dataset at `out`.

    Resumable: work goes to `.OUT.partial/` and a rerun with the same `cfg` after a crash, kill
    or SIGINT/SIGTERM renders only the frames not yet written (`write_olat_resumable`). `workers`
    > 1 renders frames in that many processes; the dataset is byte-identical to one process's
    (every frame is a pure function of the configuration and its index)."""
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    cfg.validate()
    check_free_space(out, cfg.frames * olat_frame_bytes(dome_size(cfg.dome), cfg.size, cfg.size) * OLAT_RATIO,
                     "the dataset")
    stage = make_stage(cfg)

    def render(todo: list[int]) -> Iterator[tuple[int, OLATFrame]]:
        if workers == 1 or len(todo) == 1:
            return ((k, stage.capture(cfg.time_of(k))) for k in todo)
        return _parallel_frames(cfg, min(workers, len(todo)), todo)

    write_olat_resumable(Path(out), render, cfg.frames, stage_manifest(stage), stage.dome,
                         settings={"sim": dataclasses.asdict(cfg)}, beta=stage.performer.beta.numpy(),
                         overwrite=overwrite, on_frame=on_frame)
    return Path(out)
