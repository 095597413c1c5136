"""The virtual light stage's high-speed camera: each image rendered at its own instant under
its own light, recorded as a noisy 8-bit Bayer mosaic (paper section 6, Fig. 14)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from nervp.errors import ConfigError
from nervp.imaging.bayer import PATTERNS, mosaic
from nervp.lightstage.dome import dome_size
from nervp.lightstage.schedule import TRACKING, Schedule, ScheduleConfig, make_schedule
from nervp.store.olat import OLATFrame
from nervp.store.raw import RawJob, raw_manifest, write_raw_resumable
from nervp.store.space import OLAT_RATIO, RAW_RATIO, check_free_space, olat_frame_bytes
from nervp.synth.render_olat import gbuffer, render_lights, render_sum
from nervp.synth.simulate import SimConfig, VirtualStage, make_stage, stage_manifest


@dataclass(frozen=True)
class SensorConfig:
    """The camera sensor: mosaic, levels and noise (8-bit output as the paper's camera)."""

    bayer: str = "RGGB"
    """Colour-filter pattern of the top-left 2x2 block."""
    black_level: int = 6
    """Digital number recorded for no light."""
    white_level: int = 255
    """Digital number at saturation."""
    full_well: float = 3000.0
    """Electrons at the white level (sets the shot noise)."""
    read_noise_dn: float = 0.7
    """Read noise, standard deviation in digital numbers."""
    headroom: float = 0.85
    """Fraction of the white level that the brightest 0.1 % of an image's pixels reach."""
    noise: bool = True
    """Add shot and read noise."""

    def validate(self) -> None:
        """ConfigError naming the flag for a sensor no stream can be recorded with."""
        if self.bayer not in PATTERNS:
            raise ConfigError(f"--sensor.bayer {self.bayer!r} is not a Bayer pattern; choose one of {', '.join(PATTERNS)}")
        if not 0 <= self.black_level < self.white_level <= 255:
            raise ConfigError(f"--sensor.black-level and --sensor.white-level need 0 <= black < white <= 255, "
                              f"got {self.black_level} and {self.white_level}")
        for name, v in (("full-well", self.full_well), ("headroom", self.headroom)):
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(f"--sensor.{name} must be a finite number > 0, got {v}")
        if not (math.isfinite(self.read_noise_dn) and self.read_noise_dn >= 0):
            raise ConfigError(f"--sensor.read-noise-dn must be a finite number >= 0, got {self.read_noise_dn}")
        if self.headroom > 1:
            raise ConfigError(f"--sensor.headroom is a fraction of the white level: at most 1, got {self.headroom}")


@dataclass(frozen=True)
class RawConfig:
    """A raw capture: the scene (SimConfig: frames = number of OLAT sets), schedule and sensor."""

    sim: SimConfig = field(default_factory=SimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    sensor: SensorConfig = field(default_factory=SensorConfig)

    def validate(self) -> None:
        """Validate the scene, the sensor and the schedule (ConfigError naming the flag)."""
        self.sim.validate()
        self.sensor.validate()
        sc = self.schedule
        if not (math.isfinite(sc.fps) and sc.fps > 0):
            raise ConfigError(f"--schedule.fps must be a finite number > 0, got {sc.fps}")
        if sc.tracking_every < 2 or sc.set_stride < 1:
            raise ConfigError(f"--schedule.tracking-every must be >= 2 and --schedule.set-stride >= 1, got "
                              f"{sc.tracking_every} and {sc.set_stride}")
        L = dome_size(self.sim.dome)
        if sc.led_order is not None and sorted(sc.led_order) != list(range(L)):
            raise ConfigError(f"--schedule.led-order must list every LED 0..{L - 1} once")

    def stream_bytes(self) -> float:
        """Estimated stored bytes of the stream: its 8-bit images and its ground-truth sets."""
        sc, n = self.schedule, self.sim.frames
        te, L = sc.tracking_every, dome_size(self.sim.dome)
        images = L * te / (te - 1) + (n - 1) * sc.set_stride * te + 2 * te
        side = self.sim.size
        return (images * side * side * RAW_RATIO
                + n * olat_frame_bytes(dome_size(self.sim.dome), side, side) * OLAT_RATIO)


def expose(radiance: torch.Tensor, gain: float, s: SensorConfig, rng: np.random.Generator) -> np.ndarray:
    """Linear RGB (H, W, 3) -> (H, W) uint8 Bayer digital numbers."""
    span = s.white_level - s.black_level
    signal = mosaic(radiance, s.bayer).numpy().astype(np.float64) * gain  # fraction of white
    if s.noise:
        electrons = np.clip(signal, 0, None) * s.full_well
        electrons = electrons + np.sqrt(electrons) * rng.standard_normal(signal.shape)
        signal = electrons / s.full_well
    dn = s.black_level + signal * span
    if s.noise:
        dn = dn + s.read_noise_dn * rng.standard_normal(signal.shape)
    return np.clip(np.rint(dn), 0, 255).astype(np.uint8)


def simulate_raw(out: Path, cfg: RawConfig, overwrite: bool = False,
                 on_image: Callable[[int, int], None] | None = None) -> Path:
    """Render a raw stream that yields `cfg.sim.frames` overlapping OLAT sets, with ground truth.
    Resumable after a crash, kill or SIGINT/SIGTERM (`write_raw_resumable`)."""
    cfg.validate()
    check_free_space(out, cfg.stream_bytes(), "the raw stream")
    stage = make_stage(cfg.sim)
    L = stage.dome.n_lights
    sched = make_schedule(cfg.sim.frames, L, cfg.schedule)
    H = W = cfg.sim.size
    sensor = {"full_well_e": cfg.sensor.full_well, "read_noise_dn": cfg.sensor.read_noise_dn,
              "noise": cfg.sensor.noise}
    man = raw_manifest(stage_manifest(stage), height=H, width=W, n_images=sched.n_images, n_sets=sched.n_sets,
                       dome=stage.dome, bayer=cfg.sensor.bayer, black_level=cfg.sensor.black_level,
                       white_level=cfg.sensor.white_level, schedule=sched.to_json(), sensor=sensor)

    def truth(s: int) -> tuple[OLATFrame, dict[str, np.ndarray]]:
        f = stage.capture(float(sched.time[sched.sets_middle[s]]))
        return f, {"olat_peak": np.asarray(np.percentile(f.olat.max(0), 99.9)),
                   "track_peak": np.asarray(np.percentile(f.full_lit, 99.9))}

    def gain(peaks: list[dict[str, np.ndarray]]) -> np.ndarray:
        # OLAT images and tracking images each get a gain that fills the 8-bit range
        g_olat = cfg.sensor.headroom / max(max(p["olat_peak"][()] for p in peaks), 1e-8)
        g_track = cfg.sensor.headroom / max(max(p["track_peak"][()] for p in peaks), 1e-8)
        return np.where(sched.pattern == TRACKING, g_track, g_olat).astype(np.float32)

    job = RawJob(truth, gain, lambda i, g: _render_image(stage, sched, i, g, cfg.sensor), sched.pattern,
                 sched.time, sched.sets_middle, sched.sets_olat, sched.output_fps, stage.performer.beta.numpy(),
                 settings={"raw": dataclasses.asdict(cfg)})
    return write_raw_resumable(out, man, stage.dome, job, overwrite, on_image)


def _render_image(stage: VirtualStage, sched: Schedule, i: int, gain: float, sensor: SensorConfig) -> np.ndarray:
    t = float(sched.time[i])
    theta, phi = stage.params(np.array([t]))
    mesh = stage.performer.posed(torch.from_numpy(theta[0]), torch.from_numpy(phi[0]))
    q = stage.cfg.quality
    gb = gbuffer(mesh, stage.camera, q.supersample)
    p = int(sched.pattern[i])
    if p == TRACKING:
        img = render_sum(mesh, stage.camera, stage.light_pos, stage.light_rgb, q, gb)
    else:
        img = render_lights(mesh, stage.camera, stage.light_pos[p:p + 1], stage.light_rgb[p:p + 1], q, gb)[0][0]
    rng = np.random.default_rng([stage.cfg.performer.seed, 0x726177, i])
    return expose(img, gain, sensor, rng)
