"""Raw streams for the capture tests (the fixtures in conftest.py render them once per session).

Small on purpose (rendering costs about one OLAT set per tracking frame): 64x64, a dome of
8 LEDs, a tracking frame every 3rd image, 3 overlapping sets. The moving performer turns
and shifts 16x faster than the default performance, so that a set spanning a few
milliseconds still moves by pixels at 64x64.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from nervp.config import RAW_PRESETS
from nervp.lightstage.dome import DomeConfig
from nervp.lightstage.schedule import ScheduleConfig
from nervp.synth.motion import MotionConfig
from nervp.synth.render_olat import RenderQuality

N_LIGHTS = 8


def raw_config(seed: int = 1, still: bool = False, sets: int = 3):
    base = RAW_PRESETS["tiny"]
    motion = MotionConfig(still=True) if still else MotionConfig(head_period_s=0.1, translation_m=0.03)
    sim = dataclasses.replace(base.sim, frames=sets, size=64, dome=DomeConfig(n_lights=N_LIGHTS),
                              performer=dataclasses.replace(base.sim.performer, seed=seed), motion=motion,
                              quality=RenderQuality(supersample=2, shadow_size=64))
    return dataclasses.replace(base, sim=sim, schedule=ScheduleConfig(tracking_every=3, set_stride=1))


def still_copy(src: Path, out: Path) -> Path:
    from nervp.capture.ingest import write_raw_stream
    from nervp.store.raw import load_raw
    from nervp.synth.raw import SensorConfig, expose

    raw = load_raw(src)
    m = raw.manifest
    truth = raw.truth().frame(0)
    pattern, gain = raw.small("pattern"), raw.small("gain")
    sensor = SensorConfig(bayer=raw.bayer, black_level=m["black_level"], white_level=m["white_level"])
    rng = np.random.default_rng(7)
    images = [expose(torch.from_numpy(truth.full_lit if p < 0 else truth.olat[p]), float(g), sensor, rng)
              for p, g in zip(pattern, gain, strict=True)]
    return write_raw_stream(out, images, pattern, raw.small("time"), gain, raw.dome, bayer=raw.bayer,
                            black_level=m["black_level"], white_level=m["white_level"],
                            fps=m["schedule"]["fps"], sets=(raw.small("sets_middle"), raw.small("sets_olat")),
                            extra={"sensor": m["sensor"], "camera": m["camera"]},
                            truth=[dataclasses.replace(truth, time=float(raw.small("time")[m_])) for m_ in raw.small("sets_middle")])


def tree_bytes(path: Path) -> dict[str, bytes]:
    """Every file under `path` by relative name -> its bytes (for byte-identity checks)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(Path(path).rglob("*")) if p.is_file()}
