"""Shared fixtures: one tiny virtual-stage capture per test session (48 x 48, 2 frames)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from nervp.presets import sim_preset
from nervp.store.olat import write_olat_dataset
from nervp.synth.simulate import make_stage, stage_manifest

ENVMAPS = Path(__file__).resolve().parents[3] / "shared" / "data" / "envmaps"


@dataclasses.dataclass
class TinyCapture:
    stage: object
    frames: list
    path: Path


@pytest.fixture(scope="session")
def tiny_capture(tmp_path_factory) -> TinyCapture:
    """A 48 x 48 performer captured once, written as a 2-frame OLAT dataset (the frame twice,
    at two instants) whose manifest records the stage exposure, so weights calibrate to scene
    units."""
    cfg = sim_preset("tiny", size=48, frames=2)
    stage = make_stage(cfg)
    first = stage.capture(0.0)
    frames = [first, dataclasses.replace(first, time=1 / cfg.fps)]
    path = tmp_path_factory.mktemp("relight") / "tiny.olat"
    man = {**stage_manifest(stage), "exposure": cfg.exposure}
    write_olat_dataset(path, iter(frames), len(frames), man, stage.dome,
                       beta=np.asarray(stage.performer.beta))
    return TinyCapture(stage, frames, path)


@pytest.fixture(scope="session")
def envmaps() -> list[Path]:
    """The real HDR maps in ../shared/data/envmaps (the test skips when there are none)."""
    files = sorted(ENVMAPS.glob("*.hdr")) + sorted(ENVMAPS.glob("*.exr")) if ENVMAPS.is_dir() else []
    if not files:
        pytest.skip(f"no environment maps in {ENVMAPS}")
    return files


@pytest.fixture(params=["native", "torch"])
def kernel_path(request, monkeypatch) -> str:
    """Run the test through the compiled float16 kernel and through the torch path (the
    native case skips where no kernel can be built here)."""
    from nervp.relight import native

    native.reset()
    if request.param == "torch":
        monkeypatch.setenv("NERVP_NATIVE", "0")
    elif native.kernel() is None:
        pytest.skip(f"no compiled kernel: {native.status()}")
    yield request.param
    native.reset()
