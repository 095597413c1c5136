"""The optional temporal loss (--loss.temporal): zero when the prediction changes exactly as the
truth does, the mean absolute excess change otherwise, with no gradient through the previous frame."""

from contextlib import nullcontext

import torch

from nervp.train.losses import LossConfig, temporal_loss


class _Pred:
    def __init__(self, full: torch.Tensor) -> None:
        self.full = full

    def full_lit(self) -> torch.Tensor:
        return self.full


def test_temporal_loss_known_values():
    prev_img = torch.rand(2, 3, 8, 8)
    change = torch.rand(2, 3, 8, 8) - 0.5
    model = lambda x: _Pred(prev_img)  # noqa: E731 (the previous frame's prediction)
    cur = (prev_img + change).requires_grad_(True)
    assert float(temporal_loss(model, _Pred(cur), torch.zeros(1), change, nullcontext).detach()) < 1e-7
    still = prev_img.clone().requires_grad_(True)  # a frozen output: the loss is the truth's mean |change|
    v = temporal_loss(model, _Pred(still), torch.zeros(1), change, nullcontext)
    torch.testing.assert_close(v, change.abs().mean())
    v.backward()
    assert still.grad is not None and float(still.grad.abs().sum()) > 0
    assert LossConfig().temporal == 0.0  # off unless asked for
