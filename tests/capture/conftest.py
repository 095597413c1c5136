"""Session fixtures: the capture tests' raw streams (see capture_streams.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from capture_streams import raw_config, still_copy


@pytest.fixture(scope="session")
def moving_raw(tmp_path_factory) -> Path:
    """A 64x64 raw stream (19 images, 3 sets) of a fast-moving performer, with ground truth."""
    from nervp.synth.raw import simulate_raw

    return simulate_raw(tmp_path_factory.mktemp("raw") / "moving.raw", raw_config())


@pytest.fixture(scope="session")
def still_raw(tmp_path_factory, moving_raw) -> Path:
    """The same schedule and sensor, but the performer frozen at the first set's middle instant:
    every image re-recorded from that set's ground truth (no rendering)."""
    return still_copy(moving_raw, tmp_path_factory.mktemp("raw") / "still.raw")

