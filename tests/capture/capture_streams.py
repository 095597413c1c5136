"""Raw streams for the capture tests (the fixtures in conftest.py render them once per session).

Small on purpose (rendering costs about one OLAT set per tracking frame): 64x64, a dome of
8 LEDs, a tracking frame every 3rd image, 3 overlapping sets. The moving performer turns
40x faster than the default performance (a 0.1 s head period) and shifts by up to 3 cm,
so that a set spanning a few milliseconds still moves by pixels at 64x64.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from nervp.lightstage.dome import DomeConfig
from nervp.lightstage.schedule import ScheduleConfig
from nervp.presets import RAW_PRESETS
from nervp.synth.motion import MotionConfig
from nervp.synth.render_olat import RenderQuality

N_LIGHTS = 8


def raw_config(seed: int = 1, sets: int = 3):
    base = RAW_PRESETS["tiny"]
    motion = MotionConfig(head_period_s=0.1, translation_m=0.03)
    sim = dataclasses.replace(base.sim, frames=sets, size=64, dome=DomeConfig(n_lights=N_LIGHTS),
                              performer=dataclasses.replace(base.sim.performer, seed=seed), motion=motion,
                              quality=RenderQuality(supersample=2, shadow_size=64))
    return dataclasses.replace(base, sim=sim, schedule=ScheduleConfig(tracking_every=3, set_stride=1))


def still_copy(src: Path, out: Path) -> Path:
    from nervp.capture.evaluate import still_stream
    from nervp.store.raw import load_raw

    return still_stream(load_raw(src), out)


def tree_bytes(path: Path) -> dict[str, bytes]:
    """Every file under `path` by relative name -> its bytes (for byte-identity checks)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(Path(path).rglob("*")) if p.is_file()}
