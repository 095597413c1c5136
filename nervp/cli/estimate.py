"""`nervp estimate-light`: the lighting of a photo or video as the dome's 96 LED weights."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from nervp.estimate.core import EstimateConfig


def dome_of(run: Path | None):
    """(dome, LED gain) of a `nervp train` run's dataset, or (None, None) for the default stage."""
    if run is None:
        return None, None
    from nervp.errors import NervpError
    from nervp.store.olat import load_olat
    from nervp.train.run import CONFIG, RunError, RunInfo, read_json

    cfg_path = Path(run) / CONFIG
    if not cfg_path.is_file():
        raise RunError(f"{run} is not a nervp run (no {CONFIG}): give a `nervp train` run to --run")
    info = RunInfo.from_json(read_json(cfg_path, RunError, "train a new run"), cfg_path)
    try:
        gain = float(load_olat(Path(info.dataset)).manifest.get("exposure", 1.0))
    except NervpError:
        gain = 1.0  # the dataset moved: its dome is in the run, its LED gain is not
    return info.dome_model(), gain


@dataclass
class EstimateLight:
    """Estimate the lighting of a photo (PNG, JPEG, EXR) or video with a face in it, as linear RGB
    LED weights on the light stage's dome (docs/ESTIMATE.md). The face is found with the
    tracker; the shipped estimator (or, with --method sh, order-2 SH least squares on the
    fitted head model) reads its shading. A video gets one estimate per frame, smoothed."""

    source: tyro.conf.Positional[Annotated[Path, tyro.conf.arg(metavar="INPUT")]]
    """Photo (.png, .jpg, .exr) or video (.mp4, .mov, ...) showing a face."""
    out: tyro.conf.Positional[Annotated[Path, tyro.conf.arg(metavar="OUT.json")]]
    """Where the estimate goes (JSON: weights, led_directions, dominant_direction, ambient, ...)."""
    target_run: Annotated[Path | None, tyro.conf.arg(name="run", metavar="RUN")] = None
    """A finished `nervp train` run: weights for its dataset's dome (default: the virtual stage's),
    estimated by the run's own estimator when it was trained with --estimator."""
    preview: Path | None = None
    """Also write OUT.png: the photo (a video's middle frame) beside its estimated environment."""
    cfg: Annotated[EstimateConfig, tyro.conf.arg(name="")] = field(default_factory=EstimateConfig)
    overwrite: bool = False
    """Replace an existing output."""

    def run_estimate(self):
        """Check, estimate, write; returns the LightEstimate."""
        from nervp.errors import ConfigError
        from nervp.estimate.core import estimate_light
        from nervp.estimate.photo import load_plate
        from nervp.estimate.refine import run_estimator
        from nervp.fileio import write_json_atomic
        from nervp.store.outputs import Output, claim

        self.cfg.validate()
        if self.out.suffix.lower() != ".json":
            raise ConfigError(f"{self.out}: the estimate is written as JSON; name it OUT.json")
        if self.preview is not None and self.preview.suffix.lower() != ".png":
            raise ConfigError(f"--preview {self.preview}: the preview is a PNG picture; name it OUT.png")
        outs = [Output(self.out, "json")] + ([Output(self.preview, "png")] if self.preview else [])
        with claim(outs, self.overwrite, [self.source, self.target_run], "estimate-light"):
            plate = load_plate(self.source, self.cfg.max_frames)
            dome, gain = dome_of(self.target_run)
            cfg = self.cfg if gain is None else EstimateConfig(**{**vars(self.cfg), "gain": gain})
            est = estimate_light(plate, cfg, dome, weights_file=run_estimator(self.target_run))
            picture = None
            if self.preview is not None:
                from nervp.estimate.preview import preview

                mid = plate.n_frames // 2
                picture = preview(plate.display[mid], est.sh[mid])
            write_json_atomic(self.out, est.to_json())
            if picture is not None:
                from nervp.viz.images import save_png

                save_png(self.preview, picture)
        return est

    def run(self) -> None:
        from nervp.progress import console

        est = self.run_estimate()
        d = est.dominant_direction.mean(0)
        a = est.ambient.mean(0)
        console.print(f"{est.kind} {est.width}x{est.height}, {est.weights.shape[0]} frame(s), method {est.method}: "
                      f"dominant direction ({d[0]:+.2f}, {d[1]:+.2f}, {d[2]:+.2f}), ambient "
                      f"({a[0]:.3g}, {a[1]:.3g}, {a[2]:.3g})", highlight=False)
        console.print(f"wrote {self.out}" + (f" and {self.preview}" if self.preview else ""))
