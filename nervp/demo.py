"""`nervp demo`: the whole pipeline that exists, end to end, on the built-in virtual light stage."""

from __future__ import annotations

import dataclasses
import html
import time
from pathlib import Path

import numpy as np

from nervp.config import RAW_PRESETS, sim_preset
from nervp.progress import console, progress_bar
from nervp.store.olat import OLATDataset, load_olat


def _sweep_leds(ds: OLATDataset) -> list[int]:
    """LEDs near the horizon, ordered by azimuth: a light travelling once around the head."""
    d = ds.dome.direction
    ring = np.nonzero(np.abs(d[:, 1]) < 0.35)[0]
    return [int(i) for i in ring[np.argsort(np.arctan2(d[ring, 0], d[ring, 2]))]]


def _videos(ds: OLATDataset, out: Path) -> list[tuple[str, str]]:
    from nervp.viz.images import auto_exposure, to_srgb8
    from nervp.viz.video import write_mp4

    full = [ds.read("full_lit", t) for t in range(ds.n_frames)]
    exp = auto_exposure(np.stack(full))
    fps = float(ds.manifest["fps"])
    write_mp4(out / "full_lit.mp4", (to_srgb8(f, exp) for f in full), fps)
    leds = _sweep_leds(ds)
    olat_exp = auto_exposure(ds.read("olat", 0).astype(np.float32), q=99.7)
    frames = []
    n = max(len(leds), ds.n_frames)
    for k in range(n):
        t = k % ds.n_frames
        frames.append(to_srgb8(ds.read("olat", (t, leds[k % len(leds)])).astype(np.float32), olat_exp))
    write_mp4(out / "light_sweep.mp4", frames, fps)
    return [("full_lit.mp4", "Full-lit performance (all 96 LEDs)"),
            ("light_sweep.mp4", "One LED at a time travelling around the head (OLAT images)")]


def run_demo(out: Path, preset: str = "default") -> None:
    from nervp.synth.raw import simulate_raw
    from nervp.synth.simulate import simulate
    from nervp.viz.contact import inspect_dataset

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cfg = sim_preset(preset)
    target = out / "target.olat"
    with progress_bar("OLAT sets") as bar:
        task = bar.add_task("1/3 virtual light stage", total=cfg.frames)
        simulate(target, cfg, overwrite=True, on_frame=lambda i: bar.update(task, completed=i + 1))
    text = inspect_dataset(target, "olat", 0, out / "target.contact.png")
    console.print(text, highlight=False)
    ds = load_olat(target)
    console.print("2/3 videos")
    videos = _videos(ds, out)
    rcfg = RAW_PRESETS["tiny"]
    rcfg = dataclasses.replace(rcfg, sim=dataclasses.replace(rcfg.sim, frames=2, performer=cfg.performer))
    raw_path = out / "capture.raw"
    with progress_bar("raw images") as bar:
        task = bar.add_task("3/3 raw 1000 fps stream", total=None)
        simulate_raw(raw_path, rcfg, overwrite=True, on_image=lambda i, n: bar.update(task, completed=i + 1, total=n))
    raw_text = inspect_dataset(raw_path, "raw", 0, out / "capture.contact.png")
    console.print(raw_text, highlight=False)
    _page(out, text, raw_text, videos)
    console.print(f"demo finished in {time.perf_counter() - t0:.0f} s: open {out / 'index.html'}")


def _page(out: Path, text: str, raw_text: str, videos: list[tuple[str, str]]) -> None:
    vids = "\n".join(f'<figure><video src="{v}" controls loop autoplay muted></video><figcaption>{html.escape(c)}'
                     f"</figcaption></figure>" for v, c in videos)
    page = f"""<!doctype html><meta charset="utf-8"><title>nervp demo</title>
<style>body{{font-family:sans-serif;background:#111;color:#ddd;max-width:1400px;margin:auto}}
img,video{{max-width:100%}} figure{{display:inline-block;margin:8px}} pre{{white-space:pre-wrap}}</style>
<h1>nervp demo: the virtual light stage</h1>
<h2>Target performer, OLAT capture</h2><pre>{html.escape(text)}</pre>
<img src="target.contact.png" alt="OLAT contact sheet">
<h2>Videos</h2>{vids}
<h2>Raw 1000 fps Bayer stream (tracking frame every 6th image)</h2><pre>{html.escape(raw_text)}</pre>
<img src="capture.contact.png" alt="raw stream contact sheet">
<img src="capture.contact.truth.png" alt="ground truth OLAT set">
"""
    tmp = out / ".index.html.tmp"
    tmp.write_text(page)
    tmp.replace(out / "index.html")
