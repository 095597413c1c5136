"""The interface every reflectance head implements.

A head decides what the translator's reflectance output is and how it becomes the L OLAT
images: the paper's L images directly (`olat`), K basis images mixed by learned coefficients
(`lowrank`), or anything else that can be decoded, materialised and projected onto.

Conventions for every method (B batch, R = `n_images`, L = `cfg.n_lights`):

* images: (B, R, 3, H, W) what the head emits, float32 (bfloat16 under autocast) normalised
  linear Rec. 709 radiance (dataset radiance / the run's `olat_scale`), premultiplied by alpha;
* OLAT images: (B, L, 3, H, W) in the same units;
* params: the head's own learned tensors, a tuple in `param_shapes` order. The translator
  registers them as its parameters under those names (so they are its state_dict keys) and
  passes the live tensors to every call; a head holds no tensors itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from nervp.structures.field import ReflectanceField

if TYPE_CHECKING:
    from nervp.model.config import TranslatorConfig

Params = tuple[Tensor, ...]
"""A head's learned tensors, in `ReflectanceHead.param_shapes` order."""

SOFTPLUS_BETA = 4.0
"""Sharpness of the softplus that keeps emitted images non-negative."""


def softplus4(x: Tensor) -> Tensor:
    """Non-negative images from raw network outputs: softplus with beta = 4."""
    return F.softplus(x, beta=SOFTPLUS_BETA)


def inv_softplus4(y: Tensor) -> Tensor:
    """x with softplus(x, beta=4) = y (y clamped at 1e-4: the output layer's biases)."""
    return torch.log(torch.expm1(SOFTPLUS_BETA * y.clamp_min(1e-4))) / SOFTPLUS_BETA


class ReflectanceHead(ABC):
    """How the translator's last 1x1 convolution (`out_channels` channels) becomes OLAT images.

    Built from the `TranslatorConfig` alone. Subclasses implement `n_images`, `output_bias`,
    `decode`, `lights` and `project`; the rest have defaults that suit a head without learned
    tensors of its own.
    """

    uses: ClassVar[tuple[str, ...]] = ()
    """`TranslatorConfig` fields that only this head reads; another head's run refuses them
    when they are set away from their defaults (`TrainConfig.validate`)."""

    def __init__(self, cfg: TranslatorConfig) -> None:
        self.cfg = cfg

    # ---- structure
    @property
    @abstractmethod
    def n_images(self) -> int:
        """R, images the network emits per frame."""

    @property
    def out_channels(self) -> int:
        """Channels of the network's reflectance output (and of the discriminator's field input): 3 R."""
        return 3 * self.n_images

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Name and shape of each learned tensor of the head (zeros until `init_params`)."""
        return {}

    def lr_scales(self, coeff_lr: float) -> dict[str, float]:
        """Learning rate of each of the head's tensors relative to the network's; `coeff_lr` is
        the run's setting for head coefficients (`TrainConfig.coeff_lr`). Each gets its own
        optimiser parameter group; a tensor left out trains at the network's rate."""
        return dict.fromkeys(self.param_shapes(), coeff_lr)

    # ---- initialisation from the training data
    def init_params(self, olat: Tensor) -> Params:
        """Start values of the head's tensors from training OLAT samples (N, L, 3, H, W)."""
        return ()

    @abstractmethod
    def output_bias(self, mean: Tensor, params: Params) -> Tensor:
        """(3 R,) bias of the output convolution that makes the emitted field the OLAT value
        `mean` (L, 3) float64 (the data's mean on the performer) everywhere."""

    def constrain(self, params: Params) -> None:
        """Project the head's tensors back onto their feasible set, in place, after each step
        (default: unconstrained, nothing to do)."""
        return None

    # ---- decoding
    @abstractmethod
    def decode(self, raw: Tensor, alpha: Tensor) -> Tensor:
        """(B, R, 3, H, W) emitted images from the convolution's output `raw` (B, 3 R, H, W)
        and the coverage `alpha` (B, 1, H, W) they are premultiplied by."""

    @abstractmethod
    def lights(self, images: Tensor, params: Params, idx: Tensor | None = None) -> Tensor:
        """(B, L, 3, H, W) OLAT images, or (B, len(idx), 3, H, W) those of the lights `idx`."""

    def full_lit(self, images: Tensor, params: Params) -> Tensor:
        """(B, 3, H, W) the sum of all OLAT images (every light at unit weight)."""
        return self.lights(images, params).sum(1)

    def field(self, images: Tensor, params: Params, alpha: Tensor, scale: float = 1.0) -> ReflectanceField:
        """The prediction as a detached `ReflectanceField` in linear radiance (network units
        times `scale`, the run's `olat_scale`), with coverage (T = B frames)."""
        olat = (self.lights(images, params).detach().float() * scale).permute(0, 1, 3, 4, 2)
        return ReflectanceField(olat.contiguous(), None, alpha[:, 0].detach().float())

    # ---- ground truth in the head's space
    @abstractmethod
    def project(self, olat: Tensor, params: Params) -> Tensor:
        """(B, R, 3, H, W) float32 emitted images closest (least squares) to the ground-truth OLAT
        images `olat` (B, L, 3, H, W), with `params` held fixed (no gradient flows into them)."""

    def mse(self, images: Tensor, params: Params, target: Tensor) -> Tensor:
        """Mean squared error of all L OLAT images against `target` (B, L, 3, H, W)."""
        return ((self.lights(images, params).float() - target) ** 2).mean()
