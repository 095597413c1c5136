"""`nervp score` and `nervp benchmark`: scoring any method's predictions, and the Table-1 benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tyro

from nervp.progress import console


@dataclass
class Score:
    """Score another method's relit predictions against a virtual-stage dataset's ground truth
    with the metrics of `nervp evaluate` (PSNR, SSIM, MAE, temporal change ratio). PRED holds
    one folder per lighting and one linear EXR or 16-bit PNG per frame in it:
    PRED/<lighting>/<frame:05d>.exr (docs/BENCHMARK.md)."""

    pred: tyro.conf.Positional[Path]
    """Predictions folder: PRED/<lighting>/<frame:05d>.exr or .png."""
    dataset: tyro.conf.Positional[Path]
    """The OLAT dataset with the ground truth (e.g. written by `nervp simulate`)."""
    light: tuple[str, ...] = ()
    """Lightings to score (procedural names, looks, .hdr/.exr files by stem, ring-0 ... ring-7);
    default: every folder in PRED."""
    frames: tuple[int, ...] = ()
    """Frames that must be present and are scored (default: those in the folders)."""
    png_scale: float = 1.0
    """Linear value of PNG code 65535 (16-bit PNG predictions only)."""
    out: Path | None = None
    """JSON report path (default PRED/score.json)."""
    overwrite: bool = False
    """Replace an existing report."""

    def run(self) -> None:
        from nervp.errors import ConfigError
        from nervp.evaluate.score import score_predictions
        from nervp.fileio import write_json_atomic
        from nervp.store.outputs import Output, claim, existing_files

        if not (self.png_scale > 0 and self.png_scale < float("inf")):
            raise ConfigError(f"--png-scale must be a positive finite number, got {self.png_scale}")
        out = self.out or self.pred / "score.json"
        with claim([Output(out, "json")], self.overwrite, [self.dataset, *existing_files(self.light)], "score"):
            rep = score_predictions(self.pred, self.dataset, self.light or None, self.frames or None, self.png_scale)
            write_json_atomic(out, rep)
        for name, m in rep["lightings"].items():
            console.print(f"{name:>14}: PSNR {m['psnr_db']:.2f} dB, SSIM {m['ssim']:.3f}, MAE {m['mae']:.4f}, "
                          f"temporal change ratio {m['temporal_change_ratio']}", highlight=False)
        o = rep["overall"]
        console.print(f"frames {rep['frames']}: overall PSNR {o['psnr_db']:.2f} dB, SSIM {o['ssim']:.3f}, "
                      f"MAE {o['mae']:.4f}; wrote {out}", highlight=False)
