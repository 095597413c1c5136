"""The `nervp` command: one entry point, one subcommand per job."""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from nervp.capture.config import CaptureConfig, ExecConfig
from nervp.config import RAW_PRESETS, PresetName, sim_preset
from nervp.errors import NervpError
from nervp.progress import console, progress_bar
from nervp.train.cli import Reenact, Train


@dataclass
class Simulate:
    """Render a synthetic performer on the virtual light stage into an OLAT dataset (or, with
    --raw, the raw 1000 fps Bayer stream with ground-truth OLAT sets)."""

    out: tyro.conf.Positional[Path]
    """Output dataset directory (must not exist unless --overwrite)."""
    frames: int | None = None
    """OLAT frames (sets) to render; preset default when omitted."""
    size: int | None = None
    """Image width = height in pixels; preset default when omitted."""
    seed: int = 0
    """Performer identity and performance seed."""
    raw: bool = False
    """Write the raw camera stream (Bayer, schedule, ground truth) instead of OLAT sets."""
    still: bool = False
    """Hold the performer still (no head motion or expression)."""
    preset: PresetName = "default"
    """Quality/size preset."""
    overwrite: bool = False
    """Replace an existing output (only once the new one is complete)."""

    def run(self) -> None:
        from nervp.store.zstore import check_output

        check_output(self.out, self.overwrite)
        base = RAW_PRESETS[self.preset].sim if self.raw else sim_preset(self.preset)
        cfg = dataclasses.replace(
            base, frames=base.frames if self.frames is None else self.frames,
            size=base.size if self.size is None else self.size,
            performer=dataclasses.replace(base.performer, seed=self.seed),
            motion=dataclasses.replace(base.motion, still=True) if self.still else base.motion,
        )
        cfg.validate()
        t0 = time.perf_counter()
        if self.raw:
            from nervp.synth.raw import simulate_raw

            rcfg = dataclasses.replace(RAW_PRESETS[self.preset], sim=cfg)
            with progress_bar("raw images") as bar:
                task = bar.add_task("render", total=None)
                simulate_raw(self.out, rcfg, self.overwrite,
                             on_image=lambda i, n: bar.update(task, completed=i + 1, total=n))
        else:
            from nervp.synth.simulate import simulate

            with progress_bar("OLAT sets") as bar:
                task = bar.add_task("render", total=cfg.frames)
                simulate(self.out, cfg, self.overwrite, on_frame=lambda i: bar.update(task, completed=i + 1))
        console.print(f"wrote {self.out} in {time.perf_counter() - t0:.1f} s")


@dataclass
class Inspect:
    """Print a summary of a dataset and write a contact sheet PNG beside it (or to --sheet)."""

    dataset: tyro.conf.Positional[Path]
    """OLAT dataset or raw stream directory."""
    frame: int = 0
    """Frame to show."""
    sheet: Path | None = None
    """Where to write the contact sheet (default: DATASET.contact.png next to the dataset)."""

    def run(self) -> None:
        from nervp.store.zstore import read_manifest
        from nervp.viz.contact import inspect_dataset

        kind = read_manifest(self.dataset).get("kind")
        sheet = self.sheet or self.dataset.with_name(self.dataset.name + ".contact.png")
        text = inspect_dataset(self.dataset, kind, self.frame, sheet)
        console.print(text, highlight=False)
        console.print(f"contact sheet: {sheet}")


@dataclass
class Demo:
    """Run the whole pipeline that exists so far on the built-in virtual light stage."""

    out: tyro.conf.Positional[Path] = Path("out/demo")
    """Directory for everything the demo writes."""
    preset: PresetName = "default"
    """Quality/size preset of the simulated capture."""

    def run(self) -> None:
        from nervp.demo import run_demo

        run_demo(self.out, self.preset)


@dataclass
class Capture:
    """Turn a raw high-speed light-stage stream into an aligned OLAT dataset: demosaic, optical
    flow between tracking frames, each OLAT image warped to its set's middle instant, with a
    confidence mask; overlapping sets, locally or on a Dask cluster; resumes after a crash."""

    raw: tyro.conf.Positional[Path]
    """Raw stream directory (docs/FORMAT.md, kind "raw")."""
    out: tyro.conf.Positional[Path]
    """Output OLAT dataset directory (must not exist unless --overwrite)."""
    settings: Annotated[CaptureConfig, tyro.conf.arg(name="")] = dataclasses.field(default_factory=CaptureConfig)
    execution: Annotated[ExecConfig, tyro.conf.arg(name="")] = dataclasses.field(default_factory=ExecConfig)
    overwrite: bool = False
    """Replace an existing output (only once the new one is complete)."""
    evaluate: bool = False
    """For a simulated stream: print PSNR against its ground truth (aligned, unaligned, sensor floor)."""

    def run(self) -> None:
        import contextlib

        from nervp.capture import capture

        with contextlib.ExitStack() as stack:
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
            from nervp.capture.evaluate import format_truth_report, truth_report
            from nervp.store.olat import load_olat
            from nervp.store.raw import load_raw

            raw = load_raw(self.raw)
            if raw.truth() is None:
                console.print("--evaluate: the stream has no ground truth (not simulated); skipped")
            else:
                console.print(format_truth_report(truth_report(load_olat(self.out), raw)), highlight=False)


Command = (
    Annotated[Simulate, tyro.conf.subcommand("simulate")]
    | Annotated[Inspect, tyro.conf.subcommand("inspect")]
    | Annotated[Demo, tyro.conf.subcommand("demo")]
    | Annotated[Capture, tyro.conf.subcommand("capture")]
    | Annotated[Train, tyro.conf.subcommand("train")]
    | Annotated[Reenact, tyro.conf.subcommand("reenact")]
)


def main(argv: list[str] | None = None) -> int:
    cmd = tyro.cli(Command, args=argv, prog="nervp",
                   description="nervp: relightable neural video portraits from a light-stage capture")
    try:
        cmd.run()
    except NervpError as e:
        print(f"nervp: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nervp: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
