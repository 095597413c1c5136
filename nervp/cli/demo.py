"""`nervp demo`: the whole pipeline on the built-in virtual light stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from nervp.demo import DemoConfig
from nervp.presets import DEMO_PRESETS, PresetName


@dataclass
class Demo:
    """Run the whole pipeline on the built-in virtual light stage and write an HTML page of the
    results. Defaults shown are the chosen --preset's."""

    out: tyro.conf.Positional[Path] = Path("out/demo")
    """Directory for everything the demo writes."""
    preset: PresetName = "default"
    """Demo preset (`tiny`: a one-minute smoke run); every setting below starts from it."""
    cfg: Annotated[DemoConfig, tyro.conf.arg(name="")] = field(default_factory=lambda: DEMO_PRESETS["default"])
    source: Path | None = None
    """Your own clip (a video with a face) to drive the target instead of a second simulated
    performer; the page shows it beside the relit result."""

    @staticmethod
    def default_for(preset: str, argv: list[str]) -> Demo:
        return Demo(preset=preset, cfg=DEMO_PRESETS[preset])

    def run(self) -> None:
        from nervp.demo import run_demo

        run_demo(self.out, self.cfg, self.source)
