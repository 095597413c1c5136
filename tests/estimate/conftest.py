"""A virtual-stage portrait to estimate from: one OLAT set at 160², lit by a look."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


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
