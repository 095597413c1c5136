"""`nervp simulate`, `nervp capture` and `nervp inspect`: making, capturing and checking datasets."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from nervp.capture.config import CaptureConfig, ExecConfig
from nervp.errors import ConfigError
from nervp.lightstage.schedule import ScheduleConfig
from nervp.presets import RAW_PRESETS, SIM_PRESETS, PresetName
from nervp.progress import console, progress_bar
from nervp.synth.raw import RawConfig, SensorConfig
from nervp.synth.simulate import SimConfig


@dataclass
class Simulate:
    """Render a synthetic performer on the virtual light stage into an OLAT dataset (or, with
    --raw, the raw 1000 fps Bayer stream with ground-truth OLAT sets). Defaults shown are the
    chosen --preset's (and --raw's)."""

    out: tyro.conf.Positional[Path]
    """Output dataset directory (must not exist unless --overwrite)."""
    preset: PresetName = "default"
    """Quality/size preset; every setting below starts from it."""
    raw: bool = False
    """Write the raw camera stream (Bayer, schedule, ground truth) instead of OLAT sets."""
    stage: Annotated[SimConfig, tyro.conf.arg(name="")] = field(default_factory=SimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    """The raw stream's capture schedule (--raw only)."""
    sensor: SensorConfig = field(default_factory=SensorConfig)
    """The raw stream's camera sensor (--raw only)."""
    overwrite: bool = False
    """Replace an existing output (only once the new one is complete)."""
    workers: int = 1
    """Processes rendering OLAT sets in parallel (the dataset is the same for any count)."""

    @staticmethod
    def default_for(preset: str, argv: list[str]) -> Simulate:
        base = RAW_PRESETS[preset]
        stage = base.sim if "--raw" in argv else SIM_PRESETS[preset]
        return Simulate(out=tyro.MISSING, preset=preset, stage=stage, schedule=base.schedule, sensor=base.sensor)

    def run(self) -> None:
        from nervp.store.outputs import Output, claim, dataset

        with claim([Output(self.out, dataset("raw" if self.raw else "olat"))], self.overwrite, what="simulate"):
            self._run()

    def _run(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {self.workers}")
        if self.raw and self.stage.start_s != 0:
            raise ConfigError("--start-s applies to OLAT datasets; the --raw stream starts at t = 0 (drop --start-s)")
        if self.raw and self.workers != 1:
            raise ConfigError("--workers applies to OLAT datasets; --raw renders in one process (drop --workers)")
        self.stage.validate()
        t0 = time.perf_counter()
        if self.raw:
            from nervp.synth.raw import simulate_raw

            rcfg = RawConfig(sim=self.stage, schedule=self.schedule, sensor=self.sensor)
            with progress_bar("raw images") as bar:
                task = bar.add_task("render", total=None)
                simulate_raw(self.out, rcfg, self.overwrite,
                             on_image=lambda i, n: bar.update(task, completed=i + 1, total=n))
        else:
            from nervp.synth.simulate import simulate

            with progress_bar("OLAT sets") as bar:
                task = bar.add_task("render", total=self.stage.frames)
                simulate(self.out, self.stage, self.overwrite, workers=self.workers,
                         on_frame=lambda i: bar.update(task, completed=i + 1))
        console.print(f"wrote {self.out} in {time.perf_counter() - t0:.1f} s")


@dataclass
class Capture:
    """Turn a raw high-speed light-stage stream into an aligned OLAT dataset: demosaic, optical
    flow between tracking frames, each OLAT image warped to its set's middle instant, with a
    confidence mask; overlapping sets, locally or on a Dask cluster; resumes after a crash."""

    raw: tyro.conf.Positional[Path]
    """Raw stream directory (docs/FORMAT.md, kind "raw")."""
    out: tyro.conf.Positional[Path]
    """Output OLAT dataset directory (must not exist unless --overwrite)."""
    settings: Annotated[CaptureConfig, tyro.conf.arg(name="")] = field(default_factory=CaptureConfig)
    execution: Annotated[ExecConfig, tyro.conf.arg(name="")] = field(default_factory=ExecConfig)
    overwrite: bool = False
    """Replace an existing output (only once the new one is complete)."""
    evaluate: bool = False
    """For a simulated stream: print PSNR against its ground truth (aligned, unaligned, sensor floor)."""

    def run(self) -> None:
        from nervp.capture import capture
        from nervp.store.outputs import Output, claim, dataset

        with claim([Output(self.out, dataset("olat"))], self.overwrite, [self.raw], "capture"), \
                contextlib.ExitStack() as stack:
            bars: list = []

            def progress(done: int, total: int) -> None:  # the bar appears once the stream checks out
                if not bars:
                    bars.append(stack.enter_context(progress_bar("tasks")))
                    bars.append(bars[0].add_task("capture", total=total))
                bars[0].update(bars[1], completed=done, total=total)

            rep = capture(self.raw, self.out, self.settings, self.execution, self.overwrite, on_progress=progress)
        console.print(rep.summary(), highlight=False)
        console.print(f"wrote {self.out}")
        if self.evaluate:
            self._evaluate()

    def _evaluate(self) -> None:
        from nervp.capture.evaluate import format_truth_report, truth_report
        from nervp.store.olat import load_olat
        from nervp.store.raw import load_raw

        raw = load_raw(self.raw)
        if raw.truth() is None:
            console.print("--evaluate: the stream has no ground truth (not simulated); skipped")
        else:
            console.print(format_truth_report(truth_report(load_olat(self.out), raw)), highlight=False)


@dataclass
class Inspect:
    """Validate a dataset of any kind (olat, raw, field, face_params, conditioning), print a
    summary and write a contact sheet PNG beside it (or to --sheet)."""

    dataset: tyro.conf.Positional[Path]
    """Dataset directory of any kind (docs/FORMAT.md)."""
    frame: int = 0
    """Frame to show (for a raw stream: the first image shown)."""
    sheet: Path | None = None
    """Where to write the contact sheet (default: DATASET.contact.png next to the dataset)."""
    overwrite: bool = False
    """Replace an existing contact sheet (a PNG picture)."""
    verify: bool = False
    """Read every chunk and check its checksum even for a dataset over 2 GB (smaller ones are
    always read whole; larger ones otherwise get their metadata checked, and the summary says so)."""

    def run(self) -> None:
        from nervp.store.outputs import Output, claim
        from nervp.viz.kinds import inspect_dataset

        sheet = self.sheet or self.dataset.with_name(self.dataset.name + ".contact.png")
        with claim([Output(sheet, "png")], self.overwrite, [self.dataset], "inspect"):
            text = inspect_dataset(self.dataset, self.frame, sheet, self.overwrite,
                                   verify=True if self.verify else None)
        console.print(text, highlight=False)
        console.print(f"contact sheet: {sheet}")
