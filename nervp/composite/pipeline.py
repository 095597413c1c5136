"""`nervp relight`: reflectance field + lighting -> matte -> background -> display -> file.

One pass over the output frames, in batches: LED weights for the (possibly spinning)
lighting, `relight` on the batch, a matte (the dataset's alpha or an estimated one), the
background for that frame, the linear composite, the display transform, the writer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
import tyro

from nervp.colour import ToneMap, to_display
from nervp.composite.background import (
    Background,
    BackgroundError,
    env_view,
    parse_background,
    video_frames,
)
from nervp.composite.display import DisplayConfig, clip_exposure
from nervp.composite.matte import MatteMode, SelfieMatter, composite, estimate_matte, rim_weights
from nervp.composite.output import OutFrame, OutputSpec, contact_strip, output_spec, tee, write_clip
from nervp.device import resolve_device
from nervp.errors import ConfigError, NervpError
from nervp.relight.core import relight
from nervp.relight.envmap import EnvMap, LightingError
from nervp.relight.lighting import (
    LEDWeights,
    Lighting,
    background_env,
    lighting_names,
    parse_lighting,
    rotate_lighting,
    weights_for,
)
from nervp.relight.weights import Spread, led_calibration
from nervp.store.field import FieldSource, open_source
from nervp.store.space import PNG_RATIO, check_free_space
from nervp.structures.field import ReflectanceField

LIGHT_HELP = ("An environment map (.hdr, .exr), LED weights (.npy, .json), or the name of a procedural "
              "environment or a look: " + ", ".join(lighting_names()) + ".")


@dataclass(frozen=True)
class RelightSettings:
    """How `nervp relight` renders a field to a file (each field is a command-line option)."""

    light: Annotated[str, tyro.conf.arg(help=LIGHT_HELP)] = "studio"
    """An environment map (.hdr, .exr), LED weights (.npy, .json), or the name of a procedural
    environment or a look (`lighting_names()`: the LOOKS and PROCEDURAL tables)."""
    rotate: float = 0.0
    """Turn the lighting about the vertical axis, degrees (+90 brings what was behind the
    performer to camera-left)."""
    tilt: float = 0.0
    """Turn the lighting about the camera's horizontal (x) axis, degrees."""
    spin: bool = False
    """Spin the lighting (and an environment background) one full turn over the clip."""
    turns: float = 1.0
    """Turns made over the clip with --spin (negative: the other way)."""
    period: float | None = None
    """With --spin: one turn every PERIOD seconds of the field's own time (output frame k at k /
    the field's frame rate) instead of --turns over the clip; negative turns the other way. On a
    1000 fps field, --period 0.1 is a light circling faster than a camera could sample it."""
    background: str = "env"
    """env (the lighting's own view through the camera), black, grey, none (black, alpha kept in
    EXR), #RRGGBB, a picture, a video (looped), or an equirectangular .hdr/.exr to view."""
    matte: MatteMode = "auto"
    """auto: the dataset's alpha, else rim; dataset; selfie (SelfieSegmentation alone); guided
    (refined with the frame); rim (refined with a rim-lit rendering)."""
    frames: int | None = None
    """Output length in frames; the dataset's frames play back and forth to fill it."""
    hold: int | None = None
    """Show only this dataset frame (a still performer), e.g. while the lighting spins."""
    fps: float | None = None
    """Output frame rate (default: the dataset's)."""
    ev: float = 0.0
    """Exposure compensation, stops."""
    auto_exposure: bool = True
    """Meter the exposure once on the performer (off: exposure 2^ev)."""
    tonemap: ToneMap = "filmic"
    """Display tone curve."""
    spread: Spread = "voronoi"
    """How an environment's texels go to LEDs: voronoi (each LED's solid-angle cell) or smooth
    (barycentric over the 3 nearest LEDs; a small sun moves without jumps)."""
    device: str = "auto"
    """cpu, cuda, or auto (cuda when available)."""
    batch: int = 4
    """Frames relit at once."""
    strip: bool = True
    """Also write a contact strip PNG of a few frames beside the output."""
    crf: int = 18
    """H.264 quality (lower is better, 18 is visually lossless)."""
    overwrite: bool = False
    """Replace an existing output."""

    def validate(self) -> None:
        """ConfigError naming the flag for a setting no clip can be rendered with."""
        for name, v in (("rotate", self.rotate), ("tilt", self.tilt), ("turns", self.turns), ("ev", self.ev)):
            if not math.isfinite(v):
                raise ConfigError(f"--{name} must be a finite number, got {v}")
        if not -MAX_EV <= self.ev <= MAX_EV:
            raise ConfigError(f"--ev {self.ev:g} is beyond +-{MAX_EV} stops (a factor of 2^{MAX_EV}): "
                              "give a smaller exposure compensation")
        if self.fps is not None and not (math.isfinite(self.fps) and 0 < self.fps <= 1000):
            raise ConfigError(f"--fps must be a number in (0, 1000] frames per second, got {self.fps:g}")
        if self.period is not None and not (math.isfinite(self.period) and self.period != 0):
            raise ConfigError(f"--period must be a non-zero number of seconds per turn, got {self.period:g}")
        if self.period is not None and not self.spin:
            raise ConfigError("--period sets how fast --spin turns: give --spin too")
        if self.batch < 1:
            raise ConfigError(f"--batch must be at least 1, got {self.batch}")
        if self.frames is not None and not 1 <= self.frames <= MAX_FRAMES:
            raise ConfigError(f"--frames must be in 1..{MAX_FRAMES}, got {self.frames}")
        if self.hold is not None and self.hold < 0:
            raise ConfigError(f"--hold must be a frame index >= 0, got {self.hold}")
        if not 0 <= self.crf <= 51:
            raise ConfigError(f"--crf must be in 0..51 (H.264 quality), got {self.crf}")
        resolve_device(self.device)


MAX_EV = 20.0
"""Largest exposure compensation in stops (2^20 ~ a million times brighter or darker)."""
MAX_FRAMES = 1_000_000
"""Longest clip in frames (over 11 hours at 25 fps)."""


Resolved = Literal["dataset", "selfie", "guided", "rim"]


def frame_schedule(n_src: int, n_out: int, hold: int | None) -> np.ndarray:
    """(n_out,) dataset frame for each output frame: held, or playing back and forth."""
    if hold is not None:
        if not 0 <= hold < n_src:
            raise ConfigError(f"--hold {hold} is outside the dataset's frames 0..{n_src - 1}")
        return np.full(n_out, hold, dtype=np.int64)
    if n_src == 1:
        return np.zeros(n_out, dtype=np.int64)
    period = 2 * n_src - 2
    k = np.arange(n_out) % period
    return np.where(k < n_src, k, period - k).astype(np.int64)


def resolve_matte(mode: MatteMode, src: FieldSource) -> Resolved:
    if mode in ("auto", "dataset"):
        if src.has_alpha():
            return "dataset"
        if mode == "dataset":
            raise ConfigError(f"{src.path} has no alpha: use --matte rim (or selfie, guided)")
        return "rim"
    return mode


@dataclass
class _Plan:
    src: FieldSource
    lighting: Lighting
    angles: np.ndarray
    frames: np.ndarray
    bg: Background
    matte: Resolved
    device: torch.device
    calibration: np.ndarray
    bg_env: EnvMap | None
    frame_weights: np.ndarray | None = None


@dataclass(frozen=True)
class FrameLighting:
    """Lighting given per output frame (an estimate from a photo or video plate).

    Attributes:
        weights: (T, L, 3) float32 linear LED weights on the source's dome; output frame i uses
            row min(i, T - 1).
        env: what the lighting looks like (the background `--background env` shows), or None.
        name: label.
    """

    weights: np.ndarray
    env: EnvMap | None
    name: str


def _plan(source: Path, s: RelightSettings, given: FrameLighting | None = None) -> _Plan:
    s.validate()
    src = open_source(source)
    if given is not None:
        if s.spin or s.rotate or s.tilt:
            raise ConfigError("--spin, --rotate and --tilt cannot turn an estimated lighting (LED weights)")
        w = np.asarray(given.weights, np.float32)
        if w.ndim != 3 or w.shape[1:] != (src.dome.n_lights, 3):
            raise LightingError(f"{given.name}: per-frame weights must be (T, {src.dome.n_lights}, 3), got {w.shape}")
        lighting: Lighting = given.env if given.env is not None else LEDWeights(w[0], given.name)
    else:
        lighting = parse_lighting(s.light)
    lighting = rotate_lighting(rotate_lighting(lighting, s.tilt, (1.0, 0.0, 0.0)), s.rotate)
    n_out = s.frames or src.n_frames
    if s.period is not None:
        angles = np.arange(n_out) * (360.0 / (s.period * src.fps))
    else:
        angles = (np.arange(n_out) * (360.0 * s.turns / n_out)) if s.spin else np.zeros(n_out)
    if s.spin:
        rotate_lighting(lighting, 1.0)  # explicit LED weights cannot spin: fail now
    bg = parse_background(s.background)
    if bg.kind == "env" and bg.env is None and background_env(lighting) is None:
        raise BackgroundError("--background env: LED weights have no environment to show; "
                              "use --background black, grey, a picture or a video")
    if src.camera is None and bg.kind == "env":
        raise BackgroundError(f"{src.path} has no camera in its manifest, so the environment cannot be "
                              "viewed through it; use another --background")
    if bg.kind != "env":
        bg_env = None
    elif bg.env is not None:  # a map given as background turns with the lighting
        bg_env = bg.env.rotated((1.0, 0.0, 0.0), s.tilt).rotated_y(s.rotate)
    else:
        bg_env = background_env(lighting)
    return _Plan(src, lighting, angles, frame_schedule(src.n_frames, n_out, s.hold), bg,
                 resolve_matte(s.matte, src), resolve_device(s.device), led_calibration(src.dome, src.gain), bg_env,
                 None if given is None else np.asarray(given.weights, np.float32))


def _weights(plan: _Plan, spread: Spread, angles: np.ndarray) -> np.ndarray:
    """(B, L, 3) weights for the given spin angles (computed once per distinct angle)."""
    cache: dict[float, np.ndarray] = {}
    out = []
    for a in angles.tolist():
        if a not in cache:
            cache[a] = weights_for(rotate_lighting(plan.lighting, a), plan.src.dome, plan.calibration, spread)
        out.append(cache[a])
    return np.stack(out)


def render_frames(plan: _Plan, s: RelightSettings, on_frame=None) -> Iterator[OutFrame]:
    """Yield every output frame (see the module docstring)."""
    src = plan.src
    H, W = src.height, src.width
    n = len(plan.frames)
    rim_w = None
    if plan.matte == "rim":
        cam_dir = (0.0, 0.0, 1.0)
        if src.camera is not None:  # camera centre -R^T t, seen from the head
            cam_dir = tuple((-(src.camera["R"].T @ src.camera["t"])).tolist())
        rim_w = rim_weights(src.dome, plan.calibration, cam_dir)
    video = video_frames(plan.bg.video, H, W) if plan.bg.kind == "video" else None
    matter = SelfieMatter() if plan.matte in ("selfie", "guided", "rim") else None
    exposure: float | None = None
    disp = DisplayConfig(ev=s.ev, auto=s.auto_exposure, tonemap=s.tonemap)
    static_env: torch.Tensor | None = None
    cached: tuple[np.ndarray, ReflectanceField] | None = None
    try:
        for b0 in range(0, n, s.batch):
            idx = plan.frames[b0:b0 + s.batch]
            uniq, inv = np.unique(idx, return_inverse=True)
            if cached is None or not np.array_equal(cached[0], uniq):  # a held frame is read once
                cached = (uniq, src.read(uniq, plan.device))
            field = cached[1]
            imgs = field.images[torch.as_tensor(inv, device=plan.device)]
            fb = ReflectanceField(imgs, field.coeffs)
            if plan.frame_weights is not None:
                fw = plan.frame_weights
                wb = fw[np.minimum(np.arange(b0, b0 + len(idx)), len(fw) - 1)]
            else:
                wb = _weights(plan, s.spread, plan.angles[b0:b0 + s.batch])
            lin = relight(fb, wb).cpu()
            rim = relight(fb, rim_w).cpu() if rim_w is not None else None
            alpha_ds = field.alpha[torch.as_tensor(inv, device=plan.device)].cpu() if field.alpha is not None else None
            if exposure is None:
                exposure = clip_exposure(disp, lin, alpha_ds)
            for k in range(len(idx)):
                i = b0 + k
                frame = lin[k]
                if plan.matte == "dataset":
                    alpha = alpha_ds[k]
                else:
                    alpha = estimate_matte(frame, plan.matte, matter, None if rim is None else rim[k])
                bg, static_env = _background(plan, i, H, W, exposure, video, static_env)
                out = composite(frame, alpha, bg, premultiplied=plan.matte == "dataset")
                yield OutFrame(to_display(out, exposure, s.tonemap).numpy(), out.numpy(), alpha.numpy())
                if on_frame is not None:
                    on_frame(i)
    finally:
        if matter is not None:
            matter.close()
        if video is not None:
            video.close()


def _background(plan: _Plan, i: int, H: int, W: int, exposure: float, video,
                static: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    bg = plan.bg
    if bg.kind == "env":
        angle = float(plan.angles[i])
        if static is not None and angle == 0:
            return static, static
        cam = plan.src.camera
        env = plan.bg_env.rotated_y(angle) if angle else plan.bg_env
        view = env_view(env, cam["K"], cam["R"], H, W)
        return view, (view if angle == 0 else static)
    if bg.kind == "image":
        if static is None:
            from nervp.composite.background import fit_cover

            static = torch.from_numpy(fit_cover(bg.image, H, W).astype(np.float32)) / exposure
        return static, static
    if bg.kind == "video":
        return torch.from_numpy(next(video).astype(np.float32)) / exposure, None
    colour = torch.tensor(bg.colour if bg.kind == "colour" else (0.0, 0.0, 0.0), dtype=torch.float32)
    return colour.expand(H, W, 3) / exposure, None


def run_relight(source: Path, out: Path, s: RelightSettings = RelightSettings(),
                given: FrameLighting | None = None) -> Path:
    """Relight the OLAT dataset or low-rank field `source` into `out` (OUT.mp4, OUT.png or
    OUT.exr) under `s.light`, or under `given` per-frame weights; returns the output path.
    Raises NervpError for anything the user can fix."""
    from nervp.progress import console, progress_bar

    s.validate()
    spec: OutputSpec = output_spec(Path(out), s.overwrite, s.strip, [Path(source)])
    plan = _plan(Path(source), s, given)
    if spec.kind != "mp4":  # 8-bit PNG, or half-float RGBA EXR
        per_px = 3 if spec.kind == "png" else 8
        check_free_space(spec.path, len(plan.frames) * plan.src.height * plan.src.width * per_px * PNG_RATIO,
                         "the image sequence")
    fps = s.fps or plan.src.fps
    if not fps > 0:
        raise ConfigError(f"--fps must be positive, got {fps}")
    n = len(plan.frames)
    keep = set(np.unique(np.linspace(0, n - 1, min(n, 6)).round().astype(int)).tolist())
    strip: list[tuple[int, np.ndarray]] = []
    t0 = time.perf_counter()
    existed = spec.path.exists() if spec.kind == "mp4" else spec.frame_path(0).exists()
    try:
        with progress_bar("frames") as bar:
            task = bar.add_task("relight", total=n)
            frames = render_frames(plan, s, on_frame=lambda i: bar.update(task, completed=i + 1))
            written = write_clip(spec, tee(frames, keep, strip), fps, s.crf)
    except (LightingError, NervpError):
        raise
    except ValueError as e:
        raise NervpError(str(e)) from e
    if s.strip and strip:
        from nervp.viz.images import save_png

        try:
            save_png(spec.strip_path, contact_strip(strip, given.name if given is not None else _label(s)))
        except OSError:  # a full disk: a clip without its strip is not a finished output
            if not existed:
                for p in ([spec.path] if spec.kind == "mp4" else [spec.frame_path(i) for i in range(written)]):
                    p.unlink(missing_ok=True)
            raise
    console.print(f"wrote {spec.path} ({written} frames, {plan.src.width}x{plan.src.height}, {fps:g} fps, "
                  f"matte: {plan.matte}) in {time.perf_counter() - t0:.1f} s")
    if s.strip and strip:
        console.print(f"contact strip: {spec.strip_path}")
    return spec.path


def _label(s: RelightSettings) -> str:
    name = Path(s.light).stem if Path(s.light).suffix else s.light
    return name + (f" {s.rotate:+g}deg" if s.rotate else "") + (" spin" if s.spin else "")
