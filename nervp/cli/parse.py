"""`nervp track` and `nervp condition`: the parsing stage (docs/PARSING.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from nervp.parse.pipeline import ConditionConfig, ParseConfig
from nervp.progress import console, progress_bar


@dataclass
class Track:
    """Track the face through a video file or an OLAT dataset's full-lit frames (MediaPipe
    FaceMesh, 478 landmarks), smooth the track, fit the head model (per-frame pose θ and
    expression φ, average identity β̄), sample the diffuse colour, and write a face-parameters
    dataset (docs/PARSING.md). `nervp train --params` and `nervp reenact` take it, so tracking
    can run on another machine than training."""

    source: tyro.conf.Positional[Path]
    """Video file (mp4, mov, ...) or OLAT dataset directory."""
    out: tyro.conf.Positional[Path]
    """Output face-parameters directory (must not exist unless --overwrite)."""
    cfg: Annotated[ParseConfig, tyro.conf.arg(name="")] = field(default_factory=ParseConfig)
    overwrite: bool = False
    """Replace an existing output (only once the new one is complete)."""

    def run(self) -> None:
        from nervp.parse.pipeline import track_clip
        from nervp.store.outputs import Output, claim, dataset

        with claim([Output(self.out, dataset("face_params"))], self.overwrite, [self.source], "track"), \
                progress_bar("frames") as bar:
            tasks: dict[str, int] = {}

            def progress(stage: str, done: int, total: int | None) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done, total=total)

            report = track_clip(self.source, self.out, self.cfg, self.overwrite, progress)
        for line in report.lines():
            console.print(line, highlight=False)
        console.print(f"wrote {self.out}")


@dataclass
class Condition:
    """Render the conditioning maps (diffuse colour, PNCC, landmark image; eq. 7) of a
    face-parameters dataset. With --target, the parameters are a source performer's: they are
    normalised to the target (eq. 6) and drawn with the target's identity, colour and camera."""

    params: tyro.conf.Positional[Path]
    """Face-parameters dataset (from `nervp track`)."""
    out: tyro.conf.Positional[Path]
    """Output conditioning dataset directory (must not exist unless --overwrite)."""
    target: Path | None = None
    """The target's face-parameters dataset (reenactment); omit for the target's own maps."""
    cfg: Annotated[ConditionConfig, tyro.conf.arg(name="")] = field(default_factory=ConditionConfig)
    overwrite: bool = False
    """Replace an existing output (only once the new one is complete)."""

    def run(self) -> None:
        from nervp.parse.pipeline import condition
        from nervp.store.outputs import Output, claim, dataset

        with claim([Output(self.out, dataset("conditioning"))], self.overwrite, [self.params, self.target],
                   "condition"), progress_bar("frames") as bar:
            task = bar.add_task("maps", total=None)
            report = condition(self.params, self.out, self.target, self.cfg, overwrite=self.overwrite,
                               progress=lambda _s, n, total: bar.update(task, completed=n, total=total))
        for line in report.lines():
            console.print(line, highlight=False)
        console.print(f"wrote {self.out}")
