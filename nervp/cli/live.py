"""`nervp live`: a trained run driven by a video or a webcam in real time."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from nervp.live.session import LiveSettings


@dataclass
class Live:
    """Drive a trained target live from a video or a webcam: causal tracking and eq. 6, the
    translator over the last 11 frames, relighting, matting and compositing in a pipeline of
    threads; frames are dropped (and counted) when the source outpaces it. Writes OUT.mp4 or
    serves a page with the stream and its controls at http://127.0.0.1:PORT (docs/LIVE.md)."""

    run_dir: tyro.conf.Positional[Annotated[Path, tyro.conf.arg(metavar="RUN")]]
    """A run directory made by `nervp train`."""
    source: str
    """A video file, `webcam` (camera 0) or `webcam:N`."""
    out: str
    """OUT.mp4 (or OUT.png / OUT.exr sequences), or http://127.0.0.1:PORT for the live page."""
    settings: Annotated[LiveSettings, tyro.conf.arg(name="")] = field(default_factory=LiveSettings)

    def run(self) -> None:
        from nervp.live.session import run_live
        from nervp.progress import console

        run_live(self.run_dir, self.source, self.out, self.settings, say=console.print)
