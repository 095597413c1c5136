"""Every named preset of the project, in one place: `tiny` for tests and CPU smoke runs,
`default` for everyday use, `paper` for the paper's settings (96 LEDs on a 1.3 m dome, 1000 fps
camera, tracking every 6th image, the paper's loss weights).

Each table maps a preset name to a complete config tree (frozen dataclasses); the CLI shows
the chosen preset's values as its defaults and every field can be overridden by a flag.
Adding a preset: add one entry to each table below (docs/CONTRIBUTING.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from typing import Any, Literal, TypeVar

from nervp.benchmark.suite import Suite
from nervp.demo import DemoConfig
from nervp.errors import ConfigError
from nervp.lightstage.schedule import ScheduleConfig
from nervp.model.translator import TranslatorConfig
from nervp.synth.performer import PerformerConfig
from nervp.synth.raw import RawConfig
from nervp.synth.render_olat import RenderQuality
from nervp.synth.simulate import SimConfig
from nervp.train.config import TrainConfig
from nervp.train.losses import LossConfig

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

# `tiny` and `default` are tuned for short runs on our data (measured in docs/TRANSLATOR.md,
# 64², 900 steps, held-out relit PSNR): the field's MSE weighted 500 (in network units the
# per-pixel MSE is ~1e-3, far below the MS-SSIM term: +1.5 dB over weight 1), no adversarial
# term (with it, even at λ1 = 0.01, 1.2-3 dB worse at these lengths), a higher learning rate
# with a cosine decay over the second half, the coverage MSE weighted 20 (+0.01 SSIM). `paper`
# keeps the paper's weights (λ1 = λ2 = 0.1).
_SHORT_RUN_LOSS = LossConfig(mse=500.0, alpha=20.0, gan=0.0)

TRAIN_PRESETS: dict[str, TrainConfig] = {
    "tiny": TrainConfig(steps=60, batch=2, lr=2e-3, lr_decay=0.5, ckpt_every=20, log_every=5, image_every=30,
                        model=TranslatorConfig(base_channels=16, max_channels=64, depth=3),
                        loss=replace(_SHORT_RUN_LOSS, msssim_lights=4)),
    "default": TrainConfig(steps=2000, batch=4, lr=1e-3, lr_decay=0.5,
                           model=TranslatorConfig(base_channels=32, max_channels=128, depth=4), loss=_SHORT_RUN_LOSS),
    "paper": TrainConfig(steps=100000, batch=4, model=TranslatorConfig(base_channels=64, max_channels=512, depth=5),
                         loss=LossConfig(msssim_lights=0)),
}


def _demo_raw() -> RawConfig:
    """The demo's raw-stream sample: one OLAT set of the tiny stage at 64²."""
    base = RAW_PRESETS["tiny"]
    return replace(base, sim=replace(base.sim, frames=1, size=64))


def _demo(size: int, target_frames: int, source_frames: int, steps: int, params: str) -> DemoConfig:
    """The demo: the default stage at `size`, the tiny network trained `steps` steps."""
    train = replace(TRAIN_PRESETS["tiny"], steps=steps, params=params, ckpt_every=max(steps // 2, 1))
    return DemoConfig(stage=replace(SIM_PRESETS["default"], frames=target_frames, size=size),
                      source_frames=source_frames, raw=_demo_raw(), train=train)


DEMO_PRESETS: dict[str, DemoConfig] = {
    "tiny": _demo(size=64, target_frames=16, source_frames=12, steps=20, params="truth"),
    "default": _demo(size=128, target_frames=40, source_frames=32, steps=500, params="fit"),
    "paper": _demo(size=256, target_frames=96, source_frames=64, steps=5000, params="fit"),
}

SuiteName = Literal["quick", "cpu", "standard", "paper"]

SUITES: dict[str, Suite] = {
    # two performers at 64², the tiny network: under 15 minutes on 2 CPU cores (docs/BENCHMARK.md)
    "quick": Suite(name="quick", version=1, seeds=(0, 1), reference_seed=5, source_seed=6,
                   sim=replace(SIM_PRESETS["tiny"], frames=16), source_frames=8,
                   train=replace(TRAIN_PRESETS["tiny"], steps=300, val_fraction=0.25, params="fit",
                                 ckpt_every=100, image_every=1000)),
    # the largest that fits a CPU session: the standard suite's five performers at 128² with
    # the tiny network, 500 steps (the demo's training): 78 minutes wall measured on 2 cores
    # shared with other jobs (95 CPU-minutes; docs/BENCHMARK.md)
    "cpu": Suite(name="cpu", version=1, seeds=(0, 1, 2, 3, 4), reference_seed=10, source_seed=11,
                 sim=replace(SIM_PRESETS["default"], frames=32, size=128), source_frames=16,
                 train=replace(TRAIN_PRESETS["tiny"], steps=500, val_fraction=0.25, params="fit",
                               ckpt_every=250, image_every=1000)),
    # GPU-sized: five performers at 256², the default network
    "standard": Suite(name="standard", version=1, seeds=(0, 1, 2, 3, 4), reference_seed=10, source_seed=11,
                      sim=replace(SIM_PRESETS["default"], frames=48), source_frames=32,
                      train=replace(TRAIN_PRESETS["default"], val_fraction=0.25, params="fit")),
    "paper": Suite(name="paper", version=1, seeds=(0, 1, 2, 3, 4), reference_seed=10, source_seed=11,
                   sim=SIM_PRESETS["paper"], source_frames=50,
                   train=replace(TRAIN_PRESETS["paper"], val_fraction=0.2, params="fit"),
                   lightings=(*(f"ring-{k}" for k in range(8)), "sky", "sunset", "studio")),
}
"""`nervp benchmark --suite NAME`: versioned definitions (nervp/benchmark/suite.py)."""

TABLES: dict[str, dict[str, Any]] = {"sim": SIM_PRESETS, "raw": RAW_PRESETS, "train": TRAIN_PRESETS,
                                     "demo": DEMO_PRESETS}

C = TypeVar("C")


def preset(table: dict[str, C], name: str, **overrides: Any) -> C:
    """A copy of preset `name` of `table` with top-level fields replaced (None values ignored)."""
    if name not in table:
        raise ConfigError(f"unknown preset {name!r}: choose one of {', '.join(table)}")
    cfg = table[name]
    return dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})  # type: ignore[type-var]


def sim_preset(name: str, **overrides: Any) -> SimConfig:
    """Preset `name` of the virtual light stage, top-level fields replaced (None ignored)."""
    return preset(SIM_PRESETS, name, **overrides)


def train_preset(name: str, **overrides: Any) -> TrainConfig:
    """Preset `name` of training, top-level fields replaced (None ignored)."""
    return preset(TRAIN_PRESETS, name, **overrides)


__all__ = ["DEMO_PRESETS", "PresetName", "RAW_PRESETS", "SIM_PRESETS", "SUITES", "SuiteName", "TABLES", "TRAIN_PRESETS", "preset",
           "sim_preset", "train_preset"]
