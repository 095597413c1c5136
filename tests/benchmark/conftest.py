"""A tiny trained run for the scoring tests, made once per session."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def score_run(tiny_olat, tmp_path_factory) -> Path:
    """The tiny translator trained 2 steps on `tiny_olat` (truth parameters, no context loss)."""
    from nervp.presets import train_preset
    from nervp.train.run import train_run

    run = tmp_path_factory.mktemp("run") / "r"
    cfg = train_preset("tiny", params="truth", steps=2, ckpt_every=2, device="cpu", val_fraction=0.5)
    cfg = dataclasses.replace(cfg, loss=dataclasses.replace(cfg.loss, context=0.0))
    train_run(tiny_olat, run, cfg)
    return run
