"""Named presets: `tiny` for tests and CPU smoke runs, `default` for everyday use, `paper`
for the paper's settings (96 LEDs on a 1.3 m dome, 1000 fps camera, tracking every 6th image)."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from nervp.lightstage.schedule import ScheduleConfig
from nervp.synth.performer import PerformerConfig
from nervp.synth.raw import RawConfig
from nervp.synth.render_olat import RenderQuality
from nervp.synth.simulate import SimConfig

PresetName = Literal["tiny", "default", "paper"]

SIM_PRESETS: dict[str, SimConfig] = {
    "tiny": SimConfig(frames=4, size=64, quality=RenderQuality(supersample=2, shadow_size=64),
                      performer=PerformerConfig(face_subdivisions=1)),
    "default": SimConfig(frames=24, size=256),
    "paper": SimConfig(frames=50, size=512, quality=RenderQuality(supersample=2, shadow_size=384)),
}

RAW_PRESETS: dict[str, RawConfig] = {
    "tiny": RawConfig(sim=SIM_PRESETS["tiny"], schedule=ScheduleConfig(set_stride=1)),
    "default": RawConfig(sim=replace(SIM_PRESETS["default"], frames=4)),
    "paper": RawConfig(sim=replace(SIM_PRESETS["paper"], frames=25)),
}


def sim_preset(name: str, **overrides: object) -> SimConfig:
    """A copy of preset `name` with top-level fields replaced (None values are ignored)."""
    if name not in SIM_PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose one of {', '.join(SIM_PRESETS)}")
    return replace(SIM_PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})
