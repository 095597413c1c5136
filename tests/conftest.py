"""Shared fixtures: small virtual-light-stage datasets, made once per test session."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

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
