"""The per-frame work of `nervp live`, stage by stage, on one device.

`LiveRenderer` holds everything a frame needs that does not change from frame to frame (the
translator, the target's identity and camera, the LED weights of the lighting, the
background) and turns the target's driven parameters (`nervp.parse.stream.DrivenFrame`)
into a composited frame:

    conditioning maps (the one rasterizer, on the device)
      -> the causal window of the last `in_frames` maps (the first map repeated before the
         start, as `cond_windows` does offline)
      -> the translator -> `ReflectanceField` (96 OLAT images, or the low-rank head's K basis
         images and its (K, L) coefficients, linear radiance)
      -> `relight` with the lighting's LED weights (the one relighting path; a low-rank field
         is lit through its K basis images)
      -> the network's alpha as the matte (premultiplied, as `nervp relight` uses a reenacted
         dataset's alpha) -> `composite` over the background -> display (sRGB uint8).

Controls (`set_light`, `set_background`) swap whole objects, so the page's controls can change
them from another thread between frames.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from nervp.colour import to_display
from nervp.composite.background import (
    BackgroundError,
    env_view,
    fit_cover,
    parse_background,
    video_frames,
)
from nervp.composite.display import DisplayConfig, clip_exposure
from nervp.composite.matte import composite
from nervp.errors import ConfigError
from nervp.parse.conditioning import MapSettings, conditioning_maps, map_camera
from nervp.parse.stream import DrivenFrame
from nervp.relight.core import relight
from nervp.relight.lighting import background_env, parse_lighting, weights_for
from nervp.relight.weights import Spread, led_calibration
from nervp.structures.field import ReflectanceField
from nervp.train.run import FinishedRun
from nervp.train.targets import load_target

Precision = Literal["fp32", "bf16", "fp16"]

LIVE_GAIN = 1.0
"""Capture gain the LED weights assume: what `nervp relight` assumes for a reenacted dataset
(its manifest records no exposure), so live and `reenact` + `relight` light alike."""


@dataclass(frozen=True)
class RenderedFrame:
    """One composited frame.

    Attributes:
        picture: (H, W, 3) uint8 sRGB display picture (CPU).
        linear: (H, W, 3) float32 linear Rec. 709 composite (CPU), or None when not asked for.
        alpha: (H, W) float32 matte (CPU), or None with `linear`.
        seconds: wall time per stage {"maps", "translate", "relight", "composite"}; with
            `timing`, synchronised, plus each stage's process CPU time as "NAME_cpu".
    """

    picture: np.ndarray
    linear: np.ndarray | None
    alpha: np.ndarray | None
    seconds: dict[str, float]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class LiveRenderer:
    """Driven parameters in, composited frames out (module docstring)."""

    def __init__(self, run: FinishedRun, size: int | None = None, light: str = "studio", background: str = "env",
                 spread: Spread = "voronoi", display: DisplayConfig = DisplayConfig(),
                 precision: Precision = "fp32", keep_linear: bool = False, timing: bool = False) -> None:
        from nervp.face import load_head_model

        self.run = run
        self.device = next(run.translator.parameters()).device
        self.target, self.stats = load_target(run.path)
        H0, W0 = run.info.height, run.info.width
        m = 2 ** run.cfg.model.depth
        H = H0 if size is None else int(size)
        W = W0 if size is None else max(m, int(round(size * W0 / H0 / m)) * m)
        if m > H or H % m or W % m:
            raise ConfigError(f"--size {size}: the translator needs sides divisible by {m} (e.g. "
                              f"{max(m, (H // m) * m)})")
        self.height, self.width = H, W
        self.cam = map_camera(self.target.camera, (H, W)).to(self.device)
        self.maps = MapSettings(size=None, device=str(self.device), chunk=1)
        self.head = load_head_model(self.device)
        self.in_frames = run.cfg.model.in_frames
        self.multi_frame = run.cfg.multi_frame
        self.window: deque[torch.Tensor] = deque(maxlen=self.in_frames)
        self.dome = run.info.dome_model()
        self.calibration = led_calibration(self.dome, LIVE_GAIN)
        cam = run.info.camera
        self.view = None
        if isinstance(cam, dict) and all(k in cam for k in ("K", "R")):
            K = np.asarray(cam["K"], np.float64).copy()
            K[0] *= W / W0
            K[1] *= H / H0
            self.view = (K, np.asarray(cam["R"], np.float64))
        self.spread = spread
        self.display = display
        self.exposure: float | None = None
        self.precision = precision
        self.keep_linear = keep_linear
        self.timing = timing
        if precision != "fp32" and self.device.type != "cuda" and precision == "fp16":
            raise ConfigError("--precision fp16 needs a CUDA device: use bf16 or fp32 on the CPU")
        self._params = self.target.replace(theta=self.target.theta[:1], phi=self.target.phi[:1],
                                           residual=torch.zeros(1), valid=torch.ones(1, dtype=torch.bool),
                                           beta_frames=None)
        self.lock = threading.Lock()
        """Held while a frame renders; the controls take it to change the scene between frames."""
        self.set_light(light)
        self.set_background(background)

    # ---- controls
    def set_light(self, spec: str) -> None:
        """Light with an environment map, procedural sky or look (`parse_lighting`)."""
        lighting = parse_lighting(spec)
        w = torch.from_numpy(np.asarray(weights_for(lighting, self.dome, self.calibration, self.spread),
                                        np.float32)).to(self.device)
        with self.lock:
            self._light = (spec, lighting, w)
            self._bg_cache = None

    @property
    def light(self) -> str:
        return self._light[0]

    def set_background(self, spec: str) -> None:
        """env, black, grey, none, #RRGGBB, a picture, a video or an .hdr/.exr (`parse_background`)."""
        bg = parse_background(spec)
        if bg.kind == "env" and self.view is None:
            raise BackgroundError(f"the run {self.run.path} records no camera, so an environment cannot be "
                                  "viewed through it; use another --background")
        if bg.kind == "env" and bg.env is None and background_env(self._light[1]) is None:
            raise BackgroundError("--background env: LED weights have no environment to show; use --background "
                                  "black, grey, a picture or a video")
        video = video_frames(bg.video, self.height, self.width) if bg.kind == "video" else None
        with self.lock:
            old = getattr(self, "_bg", None)
            self._bg = (spec, bg, video)
            self._bg_cache = None
        if old is not None and old[2] is not None:
            old[2].close()

    @property
    def background(self) -> str:
        return self._bg[0]

    def close(self) -> None:
        if self._bg[2] is not None:
            self._bg[2].close()

    # ---- stages
    def conditioning(self, driven: DrivenFrame) -> torch.Tensor:
        """(C, H, W) float32 conditioning maps of one frame, on the device."""
        p = self._params.replace(theta=driven.theta[None].float(), phi=driven.phi[None].float())
        return conditioning_maps(p, self.maps, camera=self.cam, model=self.head).stacked()[0]

    def network_input(self, cond: torch.Tensor) -> torch.Tensor:
        """(1, in_frames * C, H, W): the causal window ending with `cond` (pushed into it)."""
        if not self.window:
            self.window.extend([cond] * self.in_frames)
        else:
            self.window.append(cond)
        if not self.multi_frame:
            return cond[None].repeat(1, self.in_frames, 1, 1)
        return torch.cat(list(self.window), dim=0)[None]

    @torch.no_grad()
    def translate(self, x: torch.Tensor) -> ReflectanceField:
        """The translator on one window; the field in linear radiance (float32)."""
        ctx = contextlib.nullcontext()
        if self.precision != "fp32":
            dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
            ctx = torch.autocast(self.device.type, dtype=dtype)
        with ctx:
            pred = self.run.translator(x)
        return pred.field(self.run.olat_scale)

    def relit(self, field: ReflectanceField) -> torch.Tensor:
        """(H, W, 3) float32 linear frame under the current lighting."""
        return relight(field, self._light[2])[0]

    def background_frame(self) -> torch.Tensor:
        """(H, W, 3) float32 linear background on the device (exposure set)."""
        _, bg, video = self._bg
        if self._bg_cache is not None:
            return self._bg_cache
        H, W = self.height, self.width
        if bg.kind == "env":
            env = bg.env if bg.env is not None else background_env(self._light[1])
            out = env_view(env, self.view[0], self.view[1], H, W)
        elif bg.kind == "image":
            out = torch.from_numpy(fit_cover(bg.image, H, W).astype(np.float32)) / self.exposure
        elif bg.kind == "video":
            return torch.from_numpy(next(video).astype(np.float32)).to(self.device) / self.exposure
        else:
            c = torch.tensor(bg.colour if bg.kind == "colour" else (0.0, 0.0, 0.0), dtype=torch.float32)
            out = c.expand(H, W, 3) / self.exposure
        self._bg_cache = out.to(self.device).contiguous()
        return self._bg_cache

    def render(self, driven: DrivenFrame) -> RenderedFrame:
        """The whole chain for one frame (module docstring)."""
        with self.lock:
            return self._render(driven)

    def _render(self, driven: DrivenFrame) -> RenderedFrame:
        import time

        secs: dict[str, float] = {}
        clock = time.perf_counter
        cpu = [time.process_time()]

        def lap(name: str, t0: float) -> float:
            if self.timing:  # wall time synchronised, and the process's CPU time
                _sync(self.device)
                c = time.process_time()
                secs[name + "_cpu"] = c - cpu[0]
                cpu[0] = c
            t1 = clock()
            secs[name] = t1 - t0
            return t1

        t = clock()
        cond = self.conditioning(driven)
        t = lap("maps", t)
        field = self.translate(self.network_input(cond))
        t = lap("translate", t)
        lin = self.relit(field)
        t = lap("relight", t)
        alpha = field.alpha[0]
        if self.exposure is None:
            self.exposure = clip_exposure(self.display, lin[None].cpu(), alpha[None].cpu())
            self._bg_cache = None
        out = composite(lin, alpha, self.background_frame(), premultiplied=True)
        picture = to_display(out, self.exposure, self.display.tonemap).numpy()
        linear = out.cpu().numpy() if self.keep_linear else None
        a = alpha.cpu().numpy() if self.keep_linear else None
        lap("composite", t)
        return RenderedFrame(picture, linear, a, secs)

    def blank(self) -> RenderedFrame:
        """Black (H, W) frame: what is shown before the first face (nothing to hold yet)."""
        H, W = self.height, self.width
        lin = np.zeros((H, W, 3), np.float32) if self.keep_linear else None
        a = np.zeros((H, W), np.float32) if self.keep_linear else None
        return RenderedFrame(np.zeros((H, W, 3), np.uint8), lin, a, {})


__all__ = ["LIVE_GAIN", "LiveRenderer", "Precision", "RenderedFrame"]
