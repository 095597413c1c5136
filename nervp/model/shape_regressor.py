"""A small CNN that reads a portrait and predicts the head model's identity β.

It stands in for the paper's DECA inside the context loss (eq. 4): trained on the target's
own full-lit frames against per-frame identity estimates, then frozen.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ShapeRegressor(nn.Module):
    """(B, 3, H, W) linear full-lit image (network units) -> (B, n_id) β."""

    def __init__(self, n_id: int, width: int = 16):
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for k in range(4):
            layers += [nn.Conv2d(c, width * 2**k, 3, stride=2, padding=1), nn.GroupNorm(4, width * 2**k), nn.SiLU()]
            c = width * 2**k
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, n_id)

    def forward(self, image: Tensor) -> Tensor:
        x = torch.log1p(image.clamp_min(0))  # compress the dynamic range
        return self.head(self.features(x).mean((2, 3)))


def train_regressor(images: Tensor, targets: Tensor, steps: int, seed: int, batch: int = 8,
                    lr: float = 2e-3) -> ShapeRegressor:
    """Fit a regressor to (N, 3, H, W) images and (N, n_id) targets; returned frozen, in eval mode."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = ShapeRegressor(targets.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        idx = torch.randint(0, images.shape[0], (min(batch, images.shape[0]),), generator=g)
        loss = (model(images[idx].float()) - targets[idx].float()).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
