"""`nervp reenact` and `nervp evaluate`: using and scoring a trained run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import tyro

from nervp.progress import console, progress_bar
from nervp.reenact import RateSettings


@dataclass
class Reenact:
    """Drive a trained target with a source performer (video, OLAT dataset or the face
    parameters `nervp track` wrote): normalise (eq. 6), condition, translate, and write the
    target's reflectance field as a dataset that `nervp relight` renders; with --fps or --slowmo
    at a higher frame rate than the source's (docs/HFR.md)."""

    run_dir: tyro.conf.Positional[Path]
    """A run directory made by `nervp train`."""
    source: tyro.conf.Positional[Path]
    """Source performer: a video file, an OLAT dataset, or a face-parameters dataset."""
    out: tyro.conf.Positional[Path]
    """Output dataset directory."""
    params: Literal["fit", "truth"] = "fit"
    """Source parameters from a video or OLAT dataset: fitted by tracking, or the simulator's
    truth (simulated sources); a face-parameters source is used as it is."""
    normalize: bool = True
    """Normalise the source's pose and expression to the target's (eq. 6); --no-normalize for the ablation."""
    pose: Literal["tracked", "fixed"] = "tracked"
    """'fixed' holds the head frontal (virtual-conference mode)."""
    device: str = "auto"
    """auto (CUDA when available), cpu, cuda or cuda:N."""
    overwrite: bool = False
    """Replace an existing output (only once the new one is complete)."""
    rate: Annotated[RateSettings, tyro.conf.arg(name="")] = field(default_factory=RateSettings)

    def run(self) -> None:
        from nervp.reenact import reenact
        from nervp.store.outputs import Output, claim, dataset

        with claim([Output(self.out, dataset("olat"))], self.overwrite, [self.run_dir, self.source], "reenact"), \
                progress_bar("frames") as bar:
            task = bar.add_task("reenact", total=None)
            reenact(self.run_dir, self.source, self.out, self.params, self.normalize, self.pose,
                    self.overwrite, self.device, on_frame=lambda t, n: bar.update(task, completed=t + 1, total=n),
                    rate=self.rate)
        console.print(f"wrote {self.out}")


@dataclass
class Evaluate:
    """Score a trained run on its held-out frames against the dataset's ground truth: PSNR, SSIM
    and MAE of relit frames under 8 lights around the subject and under environments, per-OLAT
    PSNR, normal angular error, temporal stability. Writes JSON and a comparison strip."""

    run_dir: tyro.conf.Positional[Path]
    """A run directory made by `nervp train`."""
    dataset: tyro.conf.Positional[Path]
    """The target's OLAT dataset the run was trained on (with ground truth)."""
    light: tuple[str, ...] = ("sky", "sunset", "studio")
    """Environments (.hdr/.exr files or procedural names) to relight under."""
    out: Path | None = None
    """JSON report path (default RUN/eval.json); the strip goes beside it as PNG."""
    device: str = "auto"
    """auto (CUDA when available), cpu, cuda or cuda:N."""
    step: int | None = None
    """Score this checkpoint's step instead of the final (or latest) weights."""
    overwrite: bool = False
    """Replace an existing report and strip (a JSON report and a PNG picture)."""

    def run(self) -> None:
        from nervp.store.outputs import RUN_FILES, Output, claim, existing_files

        out = self.out or self.run_dir / "eval.json"
        inputs = [self.dataset, *existing_files(self.light), *(self.run_dir / f for f in sorted(RUN_FILES))]
        with claim([Output(out, "json"), Output(out.with_suffix(".png"), "png")], self.overwrite, inputs,
                   "evaluate"):
            self._run(out)

    def _run(self, out: Path) -> None:
        from nervp.evaluate.reconstruction import evaluate_run, save_strip
        from nervp.fileio import write_json_atomic
        from nervp.relight.lighting import parse_lighting
        from nervp.train.run import load_run

        run = load_run(self.run_dir, self.device, self.step)
        rec = evaluate_run(run, self.dataset, {name: parse_lighting(name) for name in self.light})
        write_json_atomic(out, rec.metrics)
        save_strip(rec, out.with_suffix(".png"))
        m = rec.metrics
        console.print(f"held-out frames {m['frames']}: relit PSNR {m['overall']['psnr_db']:.2f} dB, SSIM "
                      f"{m['overall']['ssim']:.3f}, MAE {m['overall']['mae']:.4f}; per-OLAT PSNR "
                      f"{m['per_olat_psnr_db']:.2f} dB; normals {m['normal_angular_error_deg']:.1f}°; "
                      f"temporal change ratio {m['temporal_change_ratio']}")
        console.print(f"wrote {out} and {out.with_suffix('.png')}")
