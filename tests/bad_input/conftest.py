"""Small real inputs for the bad-input catalogue, made once per test session (read-only: the
harness checks every case leaves them unchanged)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def raw_stream(tmp_path_factory) -> Path:
    """A tiny simulated raw 1000 fps stream (one OLAT set, 32²)."""
    from nervp.presets import RAW_PRESETS
    from nervp.synth.raw import simulate_raw

    base = RAW_PRESETS["tiny"]
    cfg = dataclasses.replace(base, sim=dataclasses.replace(base.sim, frames=1, size=32))
    return simulate_raw(tmp_path_factory.mktemp("raw") / "s.raw", cfg)


@pytest.fixture(scope="session")
def tiny_run(tiny_olat, tmp_path_factory) -> Path:
    """A tiny translator run trained 2 steps on `tiny_olat` (truth parameters)."""
    from nervp.presets import train_preset
    from nervp.train.run import train_run

    run = tmp_path_factory.mktemp("run") / "r"
    cfg = train_preset("tiny", params="truth", steps=2, ckpt_every=2, device="cpu")
    cfg = dataclasses.replace(cfg, loss=dataclasses.replace(cfg.loss, context=0.0))
    train_run(tiny_olat, run, cfg)
    return run


@pytest.fixture(scope="session")
def tiny_video(tiny_olat, tmp_path_factory) -> Path:
    """The tiny dataset's full-lit frames as an H.264 MP4."""
    from nervp.colour import to_srgb8
    from nervp.store.olat import load_olat
    from nervp.viz.video import write_mp4

    ds = load_olat(tiny_olat)
    frames = [to_srgb8(ds.frame(t).full_lit) for t in range(ds.n_frames)]
    out = tmp_path_factory.mktemp("video") / "clip.mp4"
    write_mp4(out, frames, fps=25.0)
    return out


@pytest.fixture(scope="session")
def envmap(tmp_path_factory) -> Path:
    """A small valid equirectangular .hdr map."""
    from nervp.imaging.hdrio import write_hdr

    out = tmp_path_factory.mktemp("env") / "sky.hdr"
    img = np.ones((16, 32, 3), np.float32) * np.linspace(0.2, 1.0, 16, dtype=np.float32)[:, None, None]
    write_hdr(out, img)
    return out
