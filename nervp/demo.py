"""`nervp demo`: the whole pipeline on the built-in virtual light stage, on a fresh machine.

1. simulate a target performer's OLAT capture (and a short raw 1000 fps stream sample);
2. train the translator (`tiny` preset) on it, parsing its full-lit frames itself;
3. score the held-out frames against the ground truth;
4. simulate a second performer with a different face and reenact the target from it;
5. relight the result under three studio looks and a spinning environment with its own view as
   background, and the ground truth beside the prediction where it exists; 0.1 s of the
   reenactment interpolated to 1000 fps under a light circling once per 0.1 s (slow motion);
6. write MP4s, pictures and an HTML page that shows them side by side.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from nervp.fileio import write_json_atomic, write_text_atomic
from nervp.progress import console, progress_bar
from nervp.store.outputs import OutputError, output_lock
from nervp.synth.raw import RawConfig
from nervp.synth.simulate import SimConfig
from nervp.train.config import TrainConfig

MARK = ".nervp-demo"
"""The file that marks a folder as the demo's output (it holds the settings of the last demo)."""


@dataclass(frozen=True)
class DemoConfig:
    """Everything the demo decides (presets in nervp/presets.py)."""

    stage: SimConfig = field(default_factory=SimConfig)
    """The virtual light stage of the target's capture (its frames and size; the source
    performer is rendered on the same stage)."""
    source_frames: int = 32
    """Frames of the second (source) performer."""
    target_seed: int = 0
    """Performer seed of the target."""
    source_seed: int = 1
    """Performer seed of the source (another face)."""
    raw: RawConfig = field(default_factory=RawConfig)
    """The raw 1000 fps stream sample shown on the page."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Training of the translator (its `params` also decides how the source is parsed)."""
    looks: tuple[str, ...] = ("rembrandt", "cyberpunk", "key-fill-rim")
    environment: str = "sky"
    """Spinning environment (a procedural name or an .hdr/.exr file)."""

    def validate(self) -> None:
        """ConfigError naming the flag for a setting the demo cannot run with (before any work)."""
        from nervp.errors import ConfigError

        self.stage.validate()
        self.raw.validate()
        self.train.validate()
        if self.source_frames < 1:
            raise ConfigError(f"--source-frames must be at least 1, got {self.source_frames}")
        if self.stage.frames < 3:
            raise ConfigError(f"--stage.frames must be at least 3 (training holds some out), got {self.stage.frames}")
        if self.target_seed == self.source_seed:
            raise ConfigError(f"--target-seed and --source-seed are both {self.target_seed}: reenactment needs "
                              "two different performers")
        if not self.looks:
            raise ConfigError("--looks needs at least one look")


def _simulate(path: Path, stage: SimConfig, frames: int, seed: int, label: str) -> None:
    from nervp.synth.simulate import simulate

    cfg = dataclasses.replace(stage, frames=frames, performer=dataclasses.replace(stage.performer, seed=seed))
    with progress_bar("OLAT sets") as bar:
        task = bar.add_task(label, total=frames)
        simulate(path, cfg, overwrite=True, on_frame=lambda i: bar.update(task, completed=i + 1))


def _relight(source: Path, out: Path, light: str, **kw) -> Path:
    from nervp.composite.pipeline import RelightSettings, run_relight

    return run_relight(source, out, RelightSettings(light=light, overwrite=True, **kw))


def run_demo(out: Path, d: DemoConfig, source: Path | None = None) -> None:
    """The demo into `out`; with `source` (a video with a face) the target is driven from that
    clip instead of a second simulated performer (the page shows the clip beside the result)."""
    d.validate()
    out = Path(out)
    if source is not None:
        from nervp.live.sources import VideoSource

        VideoSource(Path(source))  # readable, before any work (one line naming the clip otherwise)
    check_demo_output(out)
    out.absolute().parent.mkdir(parents=True, exist_ok=True)
    with output_lock(out, "demo"):
        check_demo_output(out)
        out.mkdir(exist_ok=True)
        _mark(out, d)
        _run(out, d, None if source is None else Path(source))


def check_demo_output(out: Path) -> None:
    """Before anything is written: OUT is new, an empty folder or the demo's own earlier output
    (it holds `MARK`); never a file or a folder of other things, and its folder is writable."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"cannot write the demo into {out}: it is a file; choose a new folder")
    if out.is_dir() and not (out / MARK).is_file() and any(out.iterdir()):
        raise OutputError(f"{out} is a folder of other files, not an earlier demo's output: the demo writes only "
                          "into a new or empty folder or its own earlier one; choose another (it was kept)")
    place = next(p for p in (out.absolute(), *out.absolute().parents) if p.exists())
    if not os.access(place, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write the demo into {out}: {place} is not writable")


def _mark(out: Path, d: DemoConfig) -> None:
    """Record that OUT is the demo's (and with which settings). A run in OUT/run made with other
    settings moves to OUT/superseded/ (nothing the user has is deleted)."""
    settings = json.dumps(dataclasses.asdict(d), sort_keys=True, default=str)
    mark = out / MARK
    run_dir = out / "run"
    same = mark.is_file() and mark.read_text() == settings
    if run_dir.exists() and not same:
        n = 1
        while (out / "superseded" / f"run_{n}").exists():
            n += 1
        (out / "superseded").mkdir(exist_ok=True)
        os.replace(run_dir, out / "superseded" / f"run_{n}")
    write_text_atomic(mark, settings)


def _run(out: Path, d: DemoConfig, clip: Path | None = None) -> None:
    from nervp.evaluate.reconstruction import evaluate_run, save_strip
    from nervp.reenact import reenact
    from nervp.relight.lighting import parse_lighting
    from nervp.synth.raw import simulate_raw
    from nervp.train.run import load_run, train_run
    from nervp.viz.kinds import inspect_dataset

    t0 = time.perf_counter()
    target, source = out / "target.olat", out / "source.olat"
    console.rule("1/6 virtual light stage")
    _simulate(target, d.stage, d.stage.frames, d.target_seed, "target performer")
    stage_text = inspect_dataset(target, 0, out / "target.contact.png", overwrite=True)
    with progress_bar("raw images") as bar:
        task = bar.add_task("raw 1000 fps stream sample", total=None)
        simulate_raw(out / "capture.raw", d.raw, overwrite=True,
                     on_image=lambda i, n: bar.update(task, completed=i + 1, total=n))
    raw_text = inspect_dataset(out / "capture.raw", 0, out / "capture.contact.png", overwrite=True)

    console.rule("2/6 train the translator")
    run_dir = out / "run"  # an earlier demo's run of these settings is resumed (or, finished, kept)
    cfg = d.train
    with progress_bar("steps") as bar:
        task = bar.add_task("train", total=cfg.steps)
        train_run(target, run_dir, cfg, on_step=lambda s, logs: bar.update(task, completed=s))

    console.rule("3/6 held-out frames against the ground truth")
    run = load_run(run_dir)
    rec = evaluate_run(run, target, {"sky": parse_lighting("sky"), "studio": parse_lighting("studio")})
    write_json_atomic(out / "eval.json", rec.metrics)
    save_strip(rec, out / "eval.png")
    m = rec.metrics

    reenacted = out / "reenacted.olat"
    if clip is None:
        console.rule("4/6 reenact from a second performer")
        _simulate(source, d.stage, d.source_frames, d.source_seed, "source performer (another face)")
        driver, params = source, cfg.params
    else:
        import shutil

        console.rule(f"4/6 reenact from your clip {clip.name}")
        driver, params = clip, "fit"
        shutil.copyfile(clip, out / f"your_clip{clip.suffix.lower()}")
    with progress_bar("frames") as bar:
        task = bar.add_task("reenact", total=None)
        reenact(run_dir, driver, reenacted, params=params, overwrite=True,
                on_frame=lambda t, n: bar.update(task, completed=t + 1, total=n))

    console.rule("5/6 relight and composite")
    videos: list[tuple[str, str, str | None]] = []
    for look in d.looks:
        _relight(reenacted, out / f"reenacted_{look}.mp4", look, background="grey")
        if clip is None:
            _relight(source, out / f"source_{look}.mp4", look, background="grey")
            videos.append((f"reenacted_{look}.mp4", f"Target driven by the source, {look} look", f"source_{look}.mp4"))
        else:
            videos.append((f"reenacted_{look}.mp4", f"Target driven by your clip, {look} look",
                           f"your_clip{clip.suffix.lower()}"))
    _relight(reenacted, out / "reenacted_spin.mp4", d.environment, spin=True, background="env")
    videos.append(("reenacted_spin.mp4", f"Spinning {d.environment} environment, its own view as background", None))
    _relight(target, out / "truth_studio.mp4", "studio", background="grey")
    videos.append(_slow_motion(out, run_dir, driver, params, reenacted))

    console.rule("6/6 page")
    _page(out, stage_text, raw_text, m, videos, "Source performer, same look" if clip is None else "Your clip")
    console.print(f"demo finished in {time.perf_counter() - t0:.0f} s: open {out / 'index.html'}")


SLOWMO_FPS, ORBIT_S = 1000.0, 0.1
"""The slow-motion light: the field interpolated to 1000 fps, a light circling once per 0.1 s."""


def _slow_motion(out: Path, run_dir: Path, driver: Path, params: str, reenacted: Path) -> tuple[str, str, None]:
    """0.1 s of the reenactment at 1000 fps (`reenact --fps 1000 --start --seconds`), relit by a
    hard light circling the performer once per 0.1 s (`relight --spin --period 0.1`), played at
    25 fps; its (video, caption, None) for the page."""
    from nervp.reenact import RateSettings, reenact
    from nervp.store.olat import load_olat

    ds = load_olat(reenacted)
    fps = float(ds.manifest.get("fps", 25.0))
    duration = (ds.n_frames - 1) / fps
    start = 0.2 if duration >= 0.2 + ORBIT_S else 0.0  # a little way in: the windows have a past
    with progress_bar("frames") as bar:
        task = bar.add_task(f"reenact at {SLOWMO_FPS:g} fps", total=None)
        reenact(run_dir, driver, out / "slowmo.olat", params=params, overwrite=True,
                rate=RateSettings(fps=SLOWMO_FPS, start=start, seconds=ORBIT_S),
                on_frame=lambda t, n: bar.update(task, completed=t + 1, total=n))
    _relight(out / "slowmo.olat", out / "slowmo_light.mp4", "hard", spin=True, period=ORBIT_S, fps=25.0,
             background="grey")
    return ("slowmo_light.mp4", f"Slow motion ({SLOWMO_FPS / 25:g}x): {ORBIT_S:g} s of the reenactment "
            f"interpolated from the source's {fps:g} fps to {SLOWMO_FPS:g} fps, lit by a light that circles "
            f"the performer once every {ORBIT_S:g} s (no camera could sample it), played at 25 fps", None)


def _page(out: Path, stage_text: str, raw_text: str, m: dict, videos: list[tuple[str, str, str | None]],
          side: str = "Source performer, same look") -> None:
    def vid(src: str, cap: str) -> str:
        return (f'<figure><video src="{src}" controls loop autoplay muted></video>'
                f"<figcaption>{html.escape(cap)}</figcaption></figure>")

    rows = "\n".join(f"<div>{vid(v, c)}{vid(s, side) if s else ''}</div>"
                     for v, c, s in videos)
    o = m["overall"]
    page = f"""<!doctype html><meta charset="utf-8"><title>nervp demo</title>
<style>body{{font-family:sans-serif;background:#111;color:#ddd;max-width:1400px;margin:auto}}
img,video{{max-width:100%}} figure{{display:inline-block;margin:8px;vertical-align:top}}
pre{{white-space:pre-wrap}}</style>
<h1>nervp demo</h1>
<h2>1. Virtual light stage: the target's OLAT capture</h2><pre>{html.escape(stage_text)}</pre>
<img src="target.contact.png" alt="OLAT contact sheet">
<h3>Raw 1000 fps Bayer stream (tracking frame every 6th image)</h3><pre>{html.escape(raw_text)}</pre>
<img src="capture.contact.png" alt="raw stream, its ground-truth set below">
<h2>2-3. Translator on held-out frames vs ground truth</h2>
<p>Relit PSNR {o['psnr_db']:.2f} dB, SSIM {o['ssim']:.3f}, MAE {o['mae']:.4f}; per-OLAT PSNR
{m['per_olat_psnr_db']:.2f} dB; normal error {m['normal_angular_error_deg']:.1f}°
(tiny preset, a few minutes of CPU training: a smoke run, not a quality figure).</p>
<figure><img src="eval.png" alt=""><figcaption>Top: ground truth relit; bottom: prediction</figcaption></figure>
{vid('truth_studio.mp4', 'The target capture itself (ground truth) under the studio environment')}
<h2>4-5. Reenactment, relit</h2>{rows}
"""
    write_text_atomic(out / "index.html", page)
