"""`nervp relight`: a reflectance field under any lighting, matted and composited, to a file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from nervp.composite.pipeline import RelightSettings


@dataclass
class Relight:
    """Relight an OLAT dataset or low-rank field under an HDR environment map, a procedural
    sky or a studio look; matte the performer, put them over the environment's own view (or
    a picture, a video) and write an H.264 MP4, PNG or EXR sequence (docs/RELIGHT.md)."""

    source: tyro.conf.Positional[Annotated[Path, tyro.conf.arg(metavar="DATASET_OR_FIELD")]]
    """OLAT dataset or low-rank field directory."""
    out: tyro.conf.Positional[Annotated[Path, tyro.conf.arg(metavar="OUT")]]
    """OUT.mp4 (H.264), OUT.png (PNG sequence) or OUT.exr (linear half-float EXR sequence with alpha)."""
    settings: Annotated[RelightSettings, tyro.conf.arg(name="")] = field(default_factory=RelightSettings)

    def run(self) -> None:
        from nervp.composite.output import output_spec
        from nervp.composite.pipeline import run_relight
        from nervp.store.outputs import claim, existing_files

        s = self.settings
        inputs = [self.source, *existing_files([s.light, s.background])]
        spec = output_spec(self.out, s.overwrite, s.strip, inputs)
        with claim(spec.outputs(s.strip), s.overwrite, inputs, "relight"):
            run_relight(self.source, self.out, s)
