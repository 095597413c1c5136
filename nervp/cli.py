"""The `nervp` command: one entry point, one subcommand per job."""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import tyro

from nervp.capture.config import CaptureConfig, ExecConfig
from nervp.composite.pipeline import RelightSettings
from nervp.config import RAW_PRESETS, PresetName, sim_preset
from nervp.errors import ConfigError, NervpError
from nervp.parse.fit import FitConfig
from nervp.parse.pipeline import ParseConfig
from nervp.parse.smoothing import SmoothConfig
from nervp.parse.track import TrackConfig
from nervp.progress import console, progress_bar
from nervp.train.cli import Evaluate, Reenact, Train


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
    workers: int = 1
    """Processes rendering OLAT sets in parallel (the dataset is the same for any count)."""

    def run(self) -> None:
        from nervp.store.zstore import check_output

        check_output(self.out, self.overwrite)
        if self.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {self.workers}")
        if self.raw and self.workers != 1:
            raise ConfigError("--workers applies to OLAT datasets; --raw renders in one process (drop --workers)")
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
                simulate(self.out, cfg, self.overwrite, on_frame=lambda i: bar.update(task, completed=i + 1),
                         workers=self.workers)
        console.print(f"wrote {self.out} in {time.perf_counter() - t0:.1f} s")


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

    def run(self) -> None:
        from nervp.viz.kinds import inspect_dataset

        sheet = self.sheet or self.dataset.with_name(self.dataset.name + ".contact.png")
        text = inspect_dataset(self.dataset, self.frame, sheet)
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


@dataclass
class Track:
    """Track the face through a video file or an OLAT dataset's full-lit frames (MediaPipe
    FaceMesh, 478 landmarks), smooth the track, fit the head model (per-frame pose θ and
    expression φ, average identity β̄), sample the diffuse colour, and write a face-parameters
    dataset (docs/PARSING.md)."""

    source: tyro.conf.Positional[Path]
    """Video file (mp4, mov, ...) or OLAT dataset directory."""
    out: tyro.conf.Positional[Path]
    """Output face-parameters directory (must not exist unless --overwrite)."""
    fov_y_deg: float = FitConfig.fov_y_deg
    """Assumed vertical field of view of a video's camera, degrees (OLAT datasets carry theirs)."""
    smoothing: Literal["offline", "causal", "off"] = SmoothConfig.mode
    """Landmark smoothing: zero-lag forward-backward One-Euro, forward-only (live), or none."""
    min_cutoff_hz: float = SmoothConfig.min_cutoff_hz
    """One-Euro cutoff at rest, Hz (lower: less jitter, more lag or blur)."""
    beta: float = SmoothConfig.beta
    """One-Euro speed coefficient, Hz per inter-ocular distance per second (higher: follows fast motion)."""
    max_gap_s: float = TrackConfig.max_gap_s
    """Gaps without a face up to this long are interpolated; longer ones are reported."""
    colour_levels: int = ParseConfig.colour_levels
    """Subdivision levels of the diffuse-colour mesh."""
    overwrite: bool = False
    """Replace an existing output (only once the new one is complete)."""

    def run(self) -> None:
        from nervp.parse.pipeline import track_clip

        sm = SmoothConfig(self.smoothing, self.min_cutoff_hz, self.beta)
        fit = dataclasses.replace(ParseConfig().fit, fov_y_deg=self.fov_y_deg)
        cfg = ParseConfig(TrackConfig(sm, self.max_gap_s), fit, self.colour_levels)
        with progress_bar("frames") as bar:
            tasks: dict = {}

            def progress(stage: str, done: int, total: int | None) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done, total=total)

            s = track_clip(self.source, self.out, cfg, self.overwrite, progress)
        tr, fi = s["tracking"], s["fitting"]
        console.print(f"face found in {tr['found']}/{tr['frames']} frames ({100 * tr['found_fraction']:.1f} %), "
                      f"{tr['interpolated_frames']} interpolated, {tr['unfilled_frames']} without parameters of their own; "
                      f"gaps {tr['gaps']}", highlight=False)
        console.print(f"fit: median residual {fi['median_residual_iod']:.4f} IOD (p90 {fi['p90_residual_iod']:.4f})",
                      highlight=False)
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
    normalize: bool = True
    """Normalise the source's θ and φ to the target's (eq. 6); --no-normalize for the ablation."""
    clip: bool = True
    """Clip the normalised φ to the model's range; --no-clip keeps eq. 6's output exactly."""
    pose: Literal["tracked", "fixed"] = "tracked"
    """fixed: hold the head frontal at its mean position (virtual-conference mode)."""
    size: int | None = None
    """Map height in pixels (width keeps the aspect); default the parameters' image size."""
    overwrite: bool = False
    """Replace an existing output (only once the new one is complete)."""

    def run(self) -> None:
        from nervp.parse.pipeline import condition

        with progress_bar("frames") as bar:
            task = bar.add_task("maps", total=None)
            s = condition(self.params, self.out, self.target, self.normalize, self.pose, self.size,
                          overwrite=self.overwrite, clip=self.clip,
                          progress=lambda _s, n, total: bar.update(task, completed=n, total=total))
        if s["normalization"] and s["normalization"]["guarded"]:
            console.print(f"dimensions with almost no spread in the source, only shifted: "
                          f"{', '.join(s['normalization']['guarded'])}", highlight=False)
        console.print(f"wrote {self.out}: {s['frames']} frames at {s['size'][0]}x{s['size'][1]}")


@dataclass
class Relight(RelightSettings):
    """Relight an OLAT dataset or low-rank field under an HDR environment map, a procedural
    sky or a studio look; matte the performer, put them over the environment's own view (or
    a picture, a video) and write an H.264 MP4, PNG or EXR sequence (docs/RELIGHT.md)."""

    source: tyro.conf.Positional[Annotated[Path, tyro.conf.arg(metavar="DATASET_OR_FIELD")]]
    """OLAT dataset or low-rank field directory."""
    out: tyro.conf.Positional[Annotated[Path, tyro.conf.arg(metavar="OUT")]]
    """OUT.mp4 (H.264), OUT.png (PNG sequence) or OUT.exr (linear half-float EXR sequence with alpha)."""

    def run(self) -> None:
        from nervp.composite.pipeline import run_relight

        run_relight(self)


Command = (
    Annotated[Simulate, tyro.conf.subcommand("simulate")]
    | Annotated[Inspect, tyro.conf.subcommand("inspect")]
    | Annotated[Demo, tyro.conf.subcommand("demo")]
    | Annotated[Capture, tyro.conf.subcommand("capture")]
    | Annotated[Train, tyro.conf.subcommand("train")]
    | Annotated[Reenact, tyro.conf.subcommand("reenact")]
    | Annotated[Evaluate, tyro.conf.subcommand("evaluate")]
    | Annotated[Track, tyro.conf.subcommand("track")]
    | Annotated[Condition, tyro.conf.subcommand("condition")]
    | Annotated[Relight, tyro.conf.subcommand("relight")]
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
