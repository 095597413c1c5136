"""The learned estimator: a small CNN from the face crop to order-4 SH radiance coefficients.

Input: (B, 3, 64, 64) linear RGB face crops (`crop.NET`), each divided by its own mean
luminance (so the network sees no exposure). Output: (B, 25, 3) SH coefficients of the
environment's radiance in units of that mean (see `nervp.estimate.sh` for the basis).
`predict` runs the network on the crop and on its mirror image and averages the two (the
second mirrored back), so mirroring a photo mirrors the estimate exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from nervp.estimate import crop as C
from nervp.estimate.sh import mirror_signs, n_coeffs

WEIGHTS = Path(__file__).with_name("generic.safetensors")
"""The shipped estimator (trained by `python -m nervp.estimate.train_builtin`)."""


@dataclass(frozen=True)
class NetConfig:
    """Shape of the estimator network."""

    order: int = 4
    """Highest SH degree predicted ((order + 1)² coefficients per colour channel)."""
    width: int = 24
    """Channels of the patch convolution (2x and 4x that in the later stages)."""
    hidden: int = 128
    """Width of the fully connected layer."""


class LightNet(nn.Module):
    """A 4 x 4 patch convolution, convolutions down to 4 x 4, then two linear layers to the SH
    coefficients (about 1.5 M multiply-adds per crop)."""

    def __init__(self, cfg: NetConfig = NetConfig()):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 4, stride=4), nn.ReLU(),  # 64 -> 16: 4 x 4 patches
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1), nn.ReLU(),  # 16 -> 8
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1), nn.ReLU(),  # 8 -> 4
        )
        n = C.NET // 16
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * w * n * n, cfg.hidden), nn.ReLU(),
                                  nn.Linear(cfg.hidden, n_coeffs(cfg.order) * 3))
        self.register_buffer("signs", torch.as_tensor(mirror_signs(cfg.order), dtype=torch.float32))

    def raw(self, x: Tensor) -> Tensor:
        """(B, K, 3) coefficients of normalised crops (B, 3, 64, 64), one pass (what training fits)."""
        feats = self.features(torch.log1p(8.0 * x))  # compress the dynamic range of highlights
        return self.head(feats).view(x.shape[0], -1, 3)

    def forward(self, x: Tensor) -> Tensor:
        """(B, K, 3): the mirror-symmetrised estimate (module docstring)."""
        both = self.raw(torch.cat([x, x.flip(-1)]))
        a, b = both[: x.shape[0]], both[x.shape[0]:]
        return 0.5 * (a + b * self.signs[None, :, None])


def normalise(crops: Tensor) -> tuple[Tensor, Tensor]:
    """(crops / k, k): k (B,) is each crop's mean Rec. 709 luminance (floored at 1e-6)."""
    lum = 0.2126 * crops[:, 0] + 0.7152 * crops[:, 1] + 0.0722 * crops[:, 2]
    k = lum.mean(dim=(1, 2)).clamp(min=1e-6)
    return crops / k[:, None, None, None], k


def save_net(net: LightNet, path: Path, meta: dict) -> None:
    """Weights as float16 safetensors (small enough to ship) with the config in the metadata."""
    import json

    from safetensors.torch import save_file

    state = {k: v.detach().to(torch.float16).contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(path), metadata={"config": json.dumps(asdict(net.cfg)),
                                          **{k: json.dumps(v) for k, v in meta.items()}})


def load_net(path: Path = WEIGHTS) -> tuple[LightNet, dict]:
    """The estimator at `path` (strict), in eval mode, float32; and its metadata."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file

    from nervp.errors import NervpError

    if not Path(path).is_file():
        raise NervpError(f"{path}: no estimator weights; train them with `python -m nervp.estimate.train_builtin`")
    try:
        with safe_open(str(path), "pt") as fh:
            meta = {k: json.loads(v) for k, v in (fh.metadata() or {}).items()}
        cfg = meta.pop("config", {})
        shape = NetConfig(**{k: int(cfg[k]) for k in ("order", "width", "hidden") if k in cfg})
        if not (0 <= shape.order <= 8 and 1 <= shape.width <= 256 and 1 <= shape.hidden <= 4096):
            raise ValueError(f"network shape {shape} out of range")
        net = LightNet(shape)
        net.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()}, strict=True)
    except Exception as e:  # a corrupt or foreign file: safetensors, JSON and shape errors alike
        raise NervpError(f"{path} is not a nervp lighting estimator or is corrupted ({e.__class__.__name__}): "
                         "train it again (`nervp train DATASET RUN --estimator`)") from e
    return net.eval(), meta


def predict(net: LightNet, crops: np.ndarray) -> np.ndarray:
    """(B, K, 3) float64 SH radiance coefficients, in the crops' own linear units, of linear
    crops (B, 64, 64, 3)."""
    x = torch.as_tensor(np.ascontiguousarray(crops), dtype=torch.float32).permute(0, 3, 1, 2)
    xn, k = normalise(x)
    with torch.no_grad():
        c = net(xn)
    return (c * k[:, None, None]).double().numpy()
