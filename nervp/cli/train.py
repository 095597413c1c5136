"""`nervp train`: the translator on a target's OLAT dataset (docs/TRANSLATOR.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from nervp.estimate.refine import RefineConfig
from nervp.presets import TRAIN_PRESETS, PresetName
from nervp.progress import console, progress_bar
from nervp.train.config import TrainConfig


@dataclass
class Train:
    """Train the translator on a target's OLAT dataset (resumes when RUN has checkpoints).
    Defaults shown are the chosen --preset's. Several processes:
    `torchrun --nproc_per_node N -m nervp.cli train ...` (gloo on CPU, NCCL on GPU)."""

    dataset: tyro.conf.Positional[Path]
    """The target's OLAT dataset."""
    run_dir: tyro.conf.Positional[Path]
    """Run directory (created; an existing one is resumed)."""
    preset: PresetName = "default"
    """Training preset; every setting below starts from it."""
    cfg: Annotated[TrainConfig, tyro.conf.arg(name="")] = field(default_factory=TrainConfig)
    minutes: float | None = None
    """Stop after this many minutes with a checkpoint (run the same command again to go on)."""
    extend: bool = False
    """Let --steps change an existing run's length: it goes on from its last checkpoint that a run
    of the new length shares (the learning rate decays over the end of the new length) and
    later checkpoints and final weights move to RUN/superseded/."""
    estimator: bool = False
    """Also train the lighting estimator on the target's OLAT frames once the translator is done
    (RUN/estimator.safetensors, about a minute on a CPU); `nervp estimate-light --run RUN` and
    `nervp relight --run RUN --light-from PHOTO` then use it (docs/ESTIMATE.md)."""
    estimator_cfg: Annotated[RefineConfig, tyro.conf.arg(name="estimator")] = field(default_factory=RefineConfig)

    @staticmethod
    def default_for(preset: str, argv: list[str]) -> Train:
        return Train(dataset=tyro.MISSING, run_dir=tyro.MISSING, preset=preset, cfg=TRAIN_PRESETS[preset])

    def run(self) -> None:
        from nervp.errors import ConfigError, Interrupted, cooperative, stop_requested
        from nervp.train.run import finished_metrics, train_run

        cfg = self.cfg
        cfg.validate()
        self.estimator_cfg.validate()
        if self.minutes is not None and not self.minutes > 0:
            raise ConfigError(f"--minutes must be positive, got {self.minutes}")
        if cfg.loss.vgg_weights is None:
            console.print("albedo VGG-19 feature loss: off (no --loss.vgg-weights file given; MS-SSIM only)")
        was = finished_metrics(self.run_dir) if self.run_dir.is_dir() else None
        with cooperative(), progress_bar("steps") as bar:  # SIGINT/SIGTERM: checkpoint, then stop
            task = bar.add_task("train", total=cfg.steps)

            def on_step(step: int, logs: dict[str, float]) -> None:
                bar.update(task, completed=step, description=f"train loss {logs.get('total', float('nan')):.4f}")

            last = train_run(self.dataset, self.run_dir, cfg, on_step=on_step, should_stop=lambda: bool(stop_requested()),
                             time_limit_s=None if self.minutes is None else 60 * self.minutes, extend=self.extend)
        if stop_requested() and not (self.run_dir / "model.safetensors").exists():
            raise Interrupted(stop_requested())
        if was is not None and was == finished_metrics(self.run_dir):
            console.print(f"run {self.run_dir} was already finished (step {was.get('step')}): nothing to do, "
                          "its final weights and metrics are kept")
        console.print(f"run {self.run_dir}: " + ", ".join(f"{k}={v:.4g}" for k, v in last.items()))
        if self.estimator:
            if (self.run_dir / "model.safetensors").exists():
                self.train_estimator()
            else:
                console.print("the estimator is trained once the run is finished: run the same command again")

    def train_estimator(self) -> None:
        """RUN/estimator.safetensors (`nervp.estimate.refine`), unless the run has one; the main
        process only under torchrun."""
        import os

        from nervp.estimate.refine import ESTIMATOR, refine, run_estimator, save_estimator
        from nervp.store.olat import load_olat
        from nervp.train.data import split_frames

        if os.environ.get("RANK", "0") != "0":
            return
        have = run_estimator(self.run_dir)
        if have is not None:
            console.print(f"{have} exists: the run's estimator is kept (delete it to train it again)")
            return
        with progress_bar("steps") as bar:
            task = bar.add_task("estimator", total=self.estimator_cfg.steps)

            def on_step(step: int, error: float) -> None:
                bar.update(task, completed=step, description=f"estimator error {error:.4f}")

            ds = load_olat(self.dataset)
            n_train = len(split_frames(ds.n_frames, self.cfg.val_fraction)[0]) if ds.n_frames > 1 else 1
            net, meta = refine(ds, self.estimator_cfg, n_train, on_step=on_step)
        save_estimator(net, self.run_dir / ESTIMATOR, meta)
        console.print(f"wrote {self.run_dir / ESTIMATOR}: relit-image error on the target's photographs "
                      f"{meta['relit_error_shipped']:.4f} (shipped estimator) -> {meta['relit_error_refined']:.4f}")
