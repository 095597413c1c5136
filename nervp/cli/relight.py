"""`nervp relight`: a reflectance field under any lighting, matted and composited, to a file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from nervp.composite.pipeline import RelightSettings


@dataclass
class Relight:
    """Relight an OLAT dataset or low-rank field under an HDR environment map, a procedural
    sky or a studio look; matte the performer, put them over the environment's own view (or
    a picture, a video) and write an H.264 MP4, PNG or EXR sequence (docs/RELIGHT.md)."""

    source: tyro.conf.Positional[Annotated[Path, tyro.conf.arg(metavar="DATASET_OR_FIELD")]]
    """OLAT dataset or low-rank field directory."""
    out: tyro.conf.Positional[Annotated[Path, tyro.conf.arg(metavar="OUT")]]
    """OUT.mp4 (H.264), OUT.png (PNG sequence) or OUT.exr (linear half-float EXR sequence with alpha)."""
    settings: Annotated[RelightSettings, tyro.conf.arg(name="")] = field(default_factory=RelightSettings)
    light_from: Annotated[Path | None, tyro.conf.arg(metavar="PHOTO_OR_VIDEO")] = None
    """Light like this photo (PNG, JPEG, EXR) or video plate (per frame, smoothed): the lighting
    is estimated (`nervp estimate-light`, shipped estimator) and replaces --light; --background env
    then shows the estimated environment."""
    estimator_run: Annotated[Path | None, tyro.conf.arg(name="run", metavar="RUN")] = None
    """With --light-from: a `nervp train --estimator` run of this target, whose own estimator
    reads the photo (default: the shipped estimator)."""

    def run(self) -> None:
        from nervp.composite.output import output_spec
        from nervp.composite.pipeline import run_relight
        from nervp.errors import ConfigError
        from nervp.store.outputs import claim, existing_files

        s = self.settings
        if self.estimator_run is not None and self.light_from is None:
            raise ConfigError(f"--run {self.estimator_run} names the estimator for --light-from; give --light-from PHOTO too")
        inputs = [self.source, *existing_files([s.light, s.background, self.light_from, self.estimator_run])]
        spec = output_spec(self.out, s.overwrite, s.strip, inputs)
        with claim(spec.outputs(s.strip), s.overwrite, inputs, "relight"):
            given = None if self.light_from is None else estimated_lighting(self.source, self.light_from,
                                                                          self.estimator_run)
            run_relight(self.source, self.out, s, given)


def estimated_lighting(source: Path, plate_path: Path, run: Path | None = None):
    """The FrameLighting of a photo or video plate on `source`'s dome (see `--light-from`), read
    by `run`'s own estimator when given."""
    from nervp.composite.pipeline import FrameLighting
    from nervp.estimate.core import EstimateConfig, estimate_light
    from nervp.estimate.photo import load_plate
    from nervp.estimate.preview import env_image
    from nervp.estimate.refine import estimator_of
    from nervp.relight.envmap import EnvMap
    from nervp.store.field import open_source

    src = open_source(source)
    plate = load_plate(plate_path)
    est = estimate_light(plate, EstimateConfig(gain=src.gain), src.dome, weights_file=estimator_of(run))
    env = EnvMap(env_image(est.sh.mean(0)), name=plate_path.stem)
    return FrameLighting(est.weights, env, f"from {plate_path.name}")
