"""Shared fixtures: small virtual-light-stage datasets, made once per test session."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # one intra-op thread per test worker: two workers with two threads each on two cores
    # oversubscribe them, and PyTorch's spinning threads then slow every operation many times
    import torch

    torch.set_num_threads(1)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_cfg():
    from nervp.presets import sim_preset

    return sim_preset("tiny")


@pytest.fixture(scope="session")
def tiny_olat(tmp_path_factory, tiny_cfg) -> Path:
    """A 64x64, 4-frame OLAT dataset of performer seed 0 with head motion."""
    from nervp.synth.simulate import simulate

    out = tmp_path_factory.mktemp("data") / "tiny.olat"
    return simulate(out, tiny_cfg)


@pytest.fixture(scope="session")
def tiny_stage(tiny_cfg):
    from nervp.synth.simulate import make_stage

    return make_stage(dataclasses.replace(tiny_cfg, frames=2))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED


def _shift(a):
    """Move a frame's pictures 3 pixels right (a second, different frame without rendering one)."""
    if a is None or not isinstance(a, np.ndarray) or a.ndim < 2:
        return a
    return np.roll(a, 3, axis=a.ndim - 2 if a.shape[-1] == 3 else a.ndim - 1)


@pytest.fixture(scope="session")
def view_field(tmp_path_factory) -> Path:
    """A 32 x 32, 2-frame, rank-16 low-rank field of the virtual performer with alpha and
    camera (the second frame is the first moved 3 pixels)."""
    from nervp.presets import sim_preset
    from nervp.relight import write_low_rank
    from nervp.store.field import open_source
    from nervp.store.olat import write_olat_dataset
    from nervp.synth.simulate import make_stage, stage_manifest

    cfg = sim_preset("tiny", size=32, frames=2)
    stage = make_stage(cfg)
    first = stage.capture(0.0)
    fields = {f.name: _shift(getattr(first, f.name)) for f in dataclasses.fields(first)
              if f.name in ("olat", "full_lit", "alpha", "normal", "albedo")}
    second = dataclasses.replace(first, time=1 / cfg.fps, **fields)
    root = tmp_path_factory.mktemp("view")
    olat = root / "tiny.olat"
    man = {**stage_manifest(stage), "exposure": cfg.exposure}
    write_olat_dataset(olat, iter([first, second]), 2, man, stage.dome, beta=np.asarray(stage.performer.beta))
    write_low_rank(root / "tiny.field", open_source(olat), rank=16)
    return root / "tiny.field"


@pytest.fixture(scope="session")
def stage_portrait(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """(PNG photo of performer seed 3 under the hard look, the look's true (96, 3) weights)."""
    import cv2

    from nervp.colour import to_srgb8
    from nervp.relight.looks import LOOKS, look_weights
    from nervp.relight.weights import led_calibration
    from nervp.synth.performer import PerformerConfig
    from nervp.synth.simulate import SimConfig, make_stage

    stage = make_stage(SimConfig(size=160, frames=2, performer=PerformerConfig(seed=3)))
    f = stage.capture(0.0)
    w = look_weights(LOOKS["hard"], stage.dome, led_calibration(stage.dome, stage.cfg.exposure))
    lin = np.einsum("lc,lhwc->hwc", w, f.olat)  # over black, as in a light stage
    p8 = to_srgb8(lin, 0.9 / float(np.percentile(lin, 99)))
    path = tmp_path_factory.mktemp("portrait") / "portrait.png"
    cv2.imwrite(str(path), p8[..., ::-1])
    return path, w
