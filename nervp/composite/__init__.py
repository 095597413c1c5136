"""Compositing: display transform, mattes (rim-light assisted), backgrounds, output files,
and the `nervp relight` pipeline (docs/RELIGHT.md)."""

from nervp.composite.background import Background, env_view, parse_background
from nervp.composite.display import DisplayConfig, clip_exposure
from nervp.composite.matte import (
    MatteConfig,
    SelfieMatter,
    composite,
    estimate_foreground,
    estimate_matte,
    guided_filter,
    matte_errors,
    refine_matte,
)
from nervp.composite.output import OutputSpec, output_spec, write_clip, write_exr

__all__ = [
    "Background", "env_view", "parse_background", "DisplayConfig", "clip_exposure", "MatteConfig", "SelfieMatter",
    "composite", "estimate_foreground", "estimate_matte", "guided_filter", "matte_errors", "refine_matte",
    "OutputSpec", "output_spec", "write_clip", "write_exr",
]
