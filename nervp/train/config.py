"""Training configuration (its presets are in nervp/presets.py)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from nervp.device import resolve_device
from nervp.errors import ConfigError
from nervp.model.heads import HEADS
from nervp.model.translator import TranslatorConfig
from nervp.train.losses import LossConfig

# Settings whose default changed after runs were saved without them, with the value those runs
# were trained with: a run's config.json that lacks one loads with this value, not the new default.
LEGACY_VALUES: dict[str, dict[str, Any]] = {"model": {"alpha_margin": 0.0}}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (saved as the run's config.json)."""

    steps: int = 2000
    """Optimisation steps."""
    batch: int = 4
    """Global batch size (split evenly across processes under torchrun)."""
    lr: float = 2e-4
    """Adam learning rate of the translator."""
    lr_disc: float = 2e-4
    """Adam learning rate of the discriminator."""
    coeff_lr: float = 0.1
    """Learning rate of the low-rank head's (K, L) coefficients, relative to `lr`."""
    lr_decay: float = 0.0
    """Fraction of the run, at its end, over which both learning rates fall to 1 % of their
    value along a half cosine (0: constant). A function of the step alone, so a resumed run
    follows the same schedule; a run stopped early by --minutes has not decayed yet."""
    seed: int = 0
    """Seeds the weights and the order of training samples."""
    val_fraction: float = 0.2
    """Fraction of frames (the last ones) held out for validation."""
    ckpt_every: int = 100
    """Steps between checkpoints (and the last step)."""
    log_every: int = 10
    """Steps between scalar logs."""
    image_every: int = 200
    """Steps between TensorBoard image grids."""
    params: str = "fit"
    """Where the target's head-model parameters come from: `fit` them to the full-lit frames
    (any capture), the simulator's ground `truth` (virtual light stage only), or the path of a
    face-parameters dataset that `nervp track` wrote from this dataset (so tracking can run on
    another machine than training)."""
    multi_frame: bool = True
    """Feed 11 conditioning frames (False: only the newest, repeated; an ablation)."""
    device: str = "auto"
    """'auto' (CUDA when available), 'cpu' or 'cuda[:N]'."""
    amp: bool = True
    """bfloat16 autocast on CUDA (ignored on CPU)."""
    model: TranslatorConfig = field(default_factory=TranslatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @staticmethod
    def from_json(d: dict[str, Any]) -> TrainConfig:
        d = dict(d)
        model = TranslatorConfig(**{**LEGACY_VALUES["model"], **d.pop("model")})
        loss = LossConfig(**d.pop("loss"))
        return TrainConfig(**d, model=model, loss=loss)

    def validate(self) -> None:
        """Raise ConfigError, naming the flag, for a setting no run can use."""
        _positive_int(steps=self.steps, batch=self.batch, ckpt_every=self.ckpt_every,
                      log_every=self.log_every, image_every=self.image_every)
        _positive_float(lr=self.lr, lr_disc=self.lr_disc, coeff_lr=self.coeff_lr)
        if not 0.0 <= self.lr_decay <= 1.0:
            raise ConfigError(f"--lr-decay must be in [0, 1], got {self.lr_decay}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"--val-fraction must be in (0, 1), got {self.val_fraction}")
        m = self.model
        _positive_int(**{"model.rank": m.rank, "model.base-channels": m.base_channels,
                         "model.max-channels": m.max_channels, "model.depth": m.depth,
                         "model.in-frames": m.in_frames})
        check_model_size(m)
        if not 0.0 <= m.alpha_margin < 0.5:
            raise ConfigError(f"--model.alpha-margin must be in [0, 0.5), got {m.alpha_margin}")
        if m.head not in HEADS:
            raise ConfigError(f"--model.head {m.head!r} is not a reflectance head: choose one of {', '.join(HEADS)}")
        for name, head in HEADS.items():
            for f in head.uses:
                if f not in HEADS[m.head].uses and getattr(m, f) != getattr(TranslatorConfig(), f):
                    raise ConfigError(f"--model.{f} applies to the {name} head only: add --model.head {name}")
        for name, w in dataclasses.asdict(self.loss).items():
            if isinstance(w, float) and not (math.isfinite(w) and w >= 0):
                raise ConfigError(f"--loss.{name.replace('_', '-')} must be a finite number >= 0, got {w}")
        if not 0.0 <= self.loss.gan_start <= 1.0:
            raise ConfigError(f"--loss.gan-start must be in [0, 1], got {self.loss.gan_start}")
        if self.loss.vgg_weights is not None:
            raise ConfigError(f"--loss.vgg-weights {self.loss.vgg_weights}: the VGG-19 feature term is not "
                              "available in this version (the albedo loss is MS-SSIM only): drop --loss.vgg-weights")
        if self.params not in ("fit", "truth") and not self.params.strip():
            raise ConfigError("--params must be fit, truth or the path of a face-parameters dataset")
        resolve_device(self.device)

    def lr_factor(self, step: int) -> float:
        """Learning-rate multiplier for the update made at `step` (0-based)."""
        start = self.steps * (1.0 - self.lr_decay)
        if self.lr_decay <= 0 or step < start:
            return 1.0
        x = min(1.0, (step - start) / max(self.steps - start, 1))
        return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * x))


MAX_DEPTH = 12
"""The U-Net halves the image `depth` times, so depth 12 already needs images of 4096 pixels."""
MAX_CHANNELS = 4096
"""8x the paper preset's widest layer (512); a wider setting is a typo that would hang or exhaust
memory building the model."""


def check_model_size(m: TranslatorConfig) -> None:
    """ConfigError for a network too deep or wide to build (also checked on a run's config.json
    before its model is built: a depth of 2**31 would spend minutes making the layer list)."""
    if m.depth > MAX_DEPTH:
        raise ConfigError(f"--model.depth must be at most {MAX_DEPTH} (images are divided by 2**depth), got {m.depth}")
    for name, v in (("base-channels", m.base_channels), ("max-channels", m.max_channels)):
        if v > MAX_CHANNELS:
            raise ConfigError(f"--model.{name} must be at most {MAX_CHANNELS}, got {v}")


def _positive_int(**values: int) -> None:
    for name, v in values.items():
        if v < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {v}")


def _positive_float(**values: float) -> None:
    for name, v in values.items():
        if not (math.isfinite(v) and v > 0):
            raise ConfigError(f"--{name.replace('_', '-')} must be a finite number > 0, got {v}")
