"""`nervp train` and `nervp reenact` subcommands."""

from __future__ import annotations

import dataclasses
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import tyro

from nervp.errors import ConfigError
from nervp.model.heads import HeadName
from nervp.progress import console, progress_bar


@dataclass
class Train:
    """Train the translator on a target's OLAT dataset (resumes when RUN has checkpoints).
    Several processes: `torchrun --nproc_per_node N -m nervp.cli train ...` (gloo on CPU, NCCL on GPU)."""

    dataset: tyro.conf.Positional[Path]
    """The target's OLAT dataset."""
    run_dir: tyro.conf.Positional[Path]
    """Run directory (created; an existing one is resumed)."""
    preset: Literal["tiny", "default", "paper"] = "default"
    steps: int | None = None
    """Override the preset's number of steps."""
    batch: int | None = None
    seed: int | None = None
    ckpt_every: int | None = None
    """Steps between checkpoints."""
    lr: float | None = None
    """Override the preset's learning rate."""
    lr_decay: float | None = None
    """Fraction of the run, at its end, over which the learning rate falls to 1 % (cosine)."""
    coeff_lr: float | None = None
    """Learning rate of the low-rank head's coefficients, relative to --lr."""
    alpha_weight: float | None = None
    """Override the weight of the coverage (alpha) MSE term."""
    mse_weight: float | None = None
    """Override the weight of the reflectance field's MSE term."""
    head: HeadName | None = None
    """Reflectance head: the paper's 96 images or K basis images."""
    rank: int | None = None
    """K of the low-rank head."""
    basis: Literal["pca", "nmf"] | None = None
    """Low-rank head: signed PCA-started basis, or non-negative (NMF-started) basis and coefficients."""
    alpha_margin: float | None = None
    """Coverage margin m: alpha = clamp((1 + 2m) sigmoid - m, 0, 1); 0 gives a bare sigmoid."""
    params: Literal["fit", "truth"] | None = None
    """Target parameters: fitted to the full-lit frames, or the simulator's truth."""
    no_multi_frame: bool = False
    """Ablation: feed only the newest conditioning frame."""
    no_context: bool = False
    """Ablation: drop the context loss (λ2 = 0)."""
    no_gan: bool = False
    """Drop the adversarial loss (λ1 = 0)."""
    gan_weight: float | None = None
    """Override λ1, the adversarial loss's weight (the paper's 0.1; off in `tiny` and `default`)."""
    gan_start: float | None = None
    """Fraction of the run trained before the adversarial loss starts (0: from the first step)."""
    vgg_weights: Path | None = None
    """VGG-19 weights (safetensors) for the albedo feature loss; off without it."""
    device: str | None = None
    """auto, cpu or cuda."""
    minutes: float | None = None
    """Stop after this many minutes with a checkpoint (run the same command again to go on)."""
    extend: bool = False
    """Let --steps change an existing run's length: it goes on from its last checkpoint that a run
    of the new length shares (the learning rate decays over the end of the new length) and
    later checkpoints and final weights move to RUN/superseded/."""

    def config(self):
        from nervp.train.config import train_preset

        cfg = train_preset(self.preset, steps=self.steps, batch=self.batch, seed=self.seed, params=self.params,
                           device=self.device, ckpt_every=self.ckpt_every, lr=self.lr, lr_decay=self.lr_decay,
                           coeff_lr=self.coeff_lr)
        model = dataclasses.replace(cfg.model, **{k: v for k, v in (("head", self.head), ("rank", self.rank),
                                                                 ("basis", self.basis)) if v})
        if self.alpha_margin is not None:
            if not 0 <= self.alpha_margin < 0.5:
                raise ConfigError(f"--alpha-margin must be in [0, 0.5), got {self.alpha_margin}")
            model = dataclasses.replace(model, alpha_margin=self.alpha_margin)
        if self.basis and model.head != "lowrank":
            raise ConfigError(f"--basis {self.basis} applies to the low-rank head only: add --head lowrank")
        overrides = {"gan": self.gan_weight, "gan_start": self.gan_start, "alpha": self.alpha_weight,
                     "mse": self.mse_weight, "vgg_weights": self.vgg_weights and str(self.vgg_weights)}
        loss = dataclasses.replace(cfg.loss, **{k: v for k, v in overrides.items() if v is not None})
        if self.no_context:
            loss = dataclasses.replace(loss, context=0.0)
        if self.no_gan:  # wins over --gan-weight
            loss = dataclasses.replace(loss, gan=0.0)
        return dataclasses.replace(cfg, model=model, loss=loss, multi_frame=not self.no_multi_frame)

    def run(self) -> None:
        from nervp.train.run import train_run

        cfg = self.config()
        if cfg.loss.vgg_weights is None:
            console.print("albedo VGG-19 feature loss: off (no --vgg-weights file given; MS-SSIM only)")
        stop = {"now": False}
        signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
        with progress_bar("steps") as bar:
            task = bar.add_task("train", total=cfg.steps)

            def on_step(step: int, logs: dict) -> None:
                bar.update(task, completed=step,
                           description=f"train loss {logs.get('total', float('nan')):.4f}")

            last = train_run(self.dataset, self.run_dir, cfg, on_step=on_step, should_stop=lambda: stop["now"],
                             time_limit_s=None if self.minutes is None else 60 * self.minutes, extend=self.extend)
        console.print(f"run {self.run_dir}: " + ", ".join(f"{k}={v:.4g}" for k, v in last.items()))


@dataclass
class Reenact:
    """Drive a trained target with a source performer (video or dataset): track, normalise
    (eq. 6), condition, translate, and write the target's reflectance field as a dataset that
    `nervp relight` renders."""

    run_dir: tyro.conf.Positional[Path]
    """A run directory made by `nervp train`."""
    source: tyro.conf.Positional[Path]
    """Source performer: a video file or an OLAT dataset."""
    out: tyro.conf.Positional[Path]
    """Output dataset directory."""
    params: Literal["fit", "truth"] = "fit"
    """Source parameters: fitted by tracking, or the simulator's truth (simulated sources)."""
    no_normalize: bool = False
    """Ablation: skip the eq. 6 normalisation of the source's pose and expression."""
    pose: Literal["tracked", "fixed"] = "tracked"
    """'fixed' holds the head frontal (virtual-conference mode)."""
    device: str = "cpu"
    overwrite: bool = False

    def run(self) -> None:
        from nervp.reenact import reenact

        with progress_bar("frames") as bar:
            task = bar.add_task("reenact", total=None)
            reenact(self.run_dir, self.source, self.out, self.params, not self.no_normalize, self.pose,
                    self.overwrite, self.device, on_frame=lambda t, n: bar.update(task, completed=t + 1, total=n))
        console.print(f"wrote {self.out}")


@dataclass
class Evaluate:
    """Score a trained run on its held-out frames against the dataset's ground truth: PSNR, SSIM
    and MAE of relit frames under 8 lights around the subject and under environments, per-OLAT
    PSNR, normal angular error, temporal stability. Writes JSON and a comparison strip."""

    run_dir: tyro.conf.Positional[Path]
    dataset: tyro.conf.Positional[Path]
    """The target's OLAT dataset the run was trained on (with ground truth)."""
    light: tuple[str, ...] = ("sky", "sunset", "studio")
    """Environments (.hdr/.exr files or procedural names) to relight under."""
    out: Path | None = None
    """JSON report path (default RUN/eval.json); the strip goes beside it as PNG."""
    device: str = "cpu"
    step: int | None = None
    """Score this checkpoint's step instead of the final (or latest) weights."""

    def run(self) -> None:
        from nervp.evaluate.reconstruction import evaluate_run, save_strip
        from nervp.fileio import write_json_atomic
        from nervp.relight.lighting import parse_lighting
        from nervp.train.run import load_run

        run = load_run(self.run_dir, self.device, self.step)
        rec = evaluate_run(run, self.dataset, {name: parse_lighting(name) for name in self.light})
        out = self.out or self.run_dir / "eval.json"
        write_json_atomic(out, rec.metrics)
        save_strip(rec, out.with_suffix(".png"))
        m = rec.metrics
        console.print(f"held-out frames {m['frames']}: relit PSNR {m['overall']['psnr_db']:.2f} dB, SSIM "
                      f"{m['overall']['ssim']:.3f}, MAE {m['overall']['mae']:.4f}; per-OLAT PSNR "
                      f"{m['per_olat_psnr_db']:.2f} dB; normals {m['normal_angular_error_deg']:.1f}°; "
                      f"temporal change ratio {m['temporal_change_ratio']}")
        console.print(f"wrote {out} and {out.with_suffix('.png')}")

