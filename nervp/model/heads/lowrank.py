"""The low-rank reflectance head: K basis images and a learned (K, L) coefficient matrix C,
OLAT_l = sum_k C[k, l] basis_k.

The network carries K x 3 output channels instead of L x 3, which is what caps the paper's
resolution. C starts from a PCA of the target's training OLAT images (`pca_coeffs`); with
``basis="nmf"`` the basis images (softplus) and the coefficients (kept >= 0 after every
step) are non-negative, started from `nmf_coeffs`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from nervp.model.heads.base import Params, ReflectanceHead, inv_softplus4, softplus4
from nervp.structures.field import ReflectanceField


class LowRankHead(ReflectanceHead):
    """R = K = `cfg.rank` basis images; one learned tensor, `coeffs` (K, L)."""

    uses = ("rank", "basis")

    @property
    def n_images(self) -> int:
        return self.cfg.rank

    @property
    def nonnegative(self) -> bool:
        return self.cfg.basis == "nmf"

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"coeffs": (self.cfg.rank, self.cfg.n_lights)}

    def init_params(self, olat: Tensor) -> Params:
        if self.nonnegative:
            return (nmf_coeffs(olat, self.cfg.rank),)
        return (pca_coeffs(olat, self.cfg.rank, scaled=True),)

    def output_bias(self, mean: Tensor, params: Params) -> Tensor:
        C = params[0].detach().double().cpu()  # least-squares basis values of the mean field
        bias = torch.linalg.solve(C @ C.T, C @ mean)
        return (inv_softplus4(bias) if self.nonnegative else bias).reshape(-1)

    def constrain(self, params: Params) -> None:
        if self.nonnegative:
            with torch.no_grad():  # projected gradient: the coefficients stay non-negative
                params[0].clamp_(min=0)

    def decode(self, raw: Tensor, alpha: Tensor) -> Tensor:
        B, _, H, W = raw.shape
        basis = raw.view(B, self.n_images, 3, H, W)
        if self.nonnegative:
            basis = softplus4(basis)
        return basis * alpha[:, None]

    def lights(self, images: Tensor, params: Params, idx: Tensor | None = None) -> Tensor:
        C = params[0] if idx is None else params[0][:, idx]
        return torch.einsum("bkchw,kl->blchw", images.float(), C.float())

    def full_lit(self, images: Tensor, params: Params) -> Tensor:
        return torch.einsum("bkchw,k->bchw", images.float(), params[0].float().sum(1))

    def field(self, images: Tensor, params: Params, alpha: Tensor, scale: float = 1.0) -> ReflectanceField:
        basis = (images.detach().float() * scale).permute(0, 1, 3, 4, 2).contiguous()
        return ReflectanceField(basis, params[0].detach().float(), alpha[:, 0].detach().float())

    def project(self, olat: Tensor, params: Params) -> Tensor:
        return basis_coordinates(olat, params[0].detach())

    def mse(self, images: Tensor, params: Params, target: Tensor) -> Tensor:
        """Evaluated in basis space, exactly: with basis b (per pixel a K-vector), coefficients C
        and y = target, |b C - y|^2 = b'(C C')b - 2 b'(C y) + |y|^2, so neither the L predicted
        images nor their gradients are ever held in memory."""
        b, C, y = images.float(), params[0].float(), target.float()
        z = torch.einsum("blchw,kl->bkchw", y, C)
        quad = (b * (torch.einsum("bkchw,kj->bjchw", b, C @ C.T) - 2 * z)).sum()
        return (quad + (y * y).sum()) / y.numel()


def basis_coordinates(olat: Tensor, coeffs: Tensor, ridge: float = 1e-6) -> Tensor:
    """(B, K, 3, H, W) least-squares basis images b with b @ coeffs closest to `olat` (B, L, 3, H, W)."""
    C = coeffs.float()
    gram = C @ C.T
    gram = gram + ridge * gram.diagonal().mean() * torch.eye(C.shape[0], device=C.device)
    z = torch.einsum("blchw,kl->bkchw", olat.float(), C)
    return torch.einsum("bkchw,kj->bjchw", z, torch.linalg.inv(gram))


def pca_coeffs(olat: Tensor, rank: int, scaled: bool = False) -> Tensor:
    """(K, L) light-space basis from OLAT samples (N, L, 3, H, W) (or (N, L, ...)).

    Rows are the top-K right singular vectors of the (pixels x lights) matrix, so projecting
    an OLAT set onto them and back is the best rank-K reconstruction in least squares. With
    `scaled`, row k is multiplied by s_k / s_1 (singular values): the same span, but the basis
    images that reproduce the samples then all have about the magnitude of the first, so the
    network's output channels and Adam's equal step sizes suit every one of them (held-out
    relit PSNR +0.5 dB at 64², see docs/TRANSLATOR.md).
    """
    L = olat.shape[1]
    X = olat.transpose(0, 1).reshape(L, -1).T.double()  # (pixels, L)
    _, S, Vh = torch.linalg.svd(X, full_matrices=False)
    if rank > Vh.shape[0]:
        raise ValueError(f"rank {rank} exceeds the number of lights {L}")
    V = Vh[:rank]
    if scaled:
        V = V * (S[:rank] / S[0]).clamp_min(1e-6)[:, None]
    return V.float()


def nmf_coeffs(olat: Tensor, rank: int, iters: int = 300, max_rows: int = 50_000) -> Tensor:
    """(K, L) non-negative light-space factors of OLAT samples (N, L, 3, H, W) (or (N, L, ...)).

    Factorises the (pixels x lights) matrix X ~ W H with W, H >= 0 (Lee and Seung's multiplicative
    updates for least squares, deterministic: started from the magnitudes of the top singular
    vectors, and on at most `max_rows` evenly strided pixels). Each row of H is scaled so its
    basis image (column of W) has the mean of X: the network's K output channels then all carry
    values of one magnitude, as the olat head's do.
    """
    L = olat.shape[1]
    if rank > L:
        raise ValueError(f"rank {rank} exceeds the number of lights {L}")
    X = olat.transpose(0, 1).reshape(L, -1).T
    X = X[:: max(1, X.shape[0] // max_rows)].double().clamp_min(0)
    U, S, Vh = torch.linalg.svd(X, full_matrices=False)
    W = (U[:, :rank] * S[:rank].sqrt()).abs() + 1e-9
    H = (Vh[:rank] * S[:rank, None].sqrt()).abs() + 1e-9
    eps = 1e-12
    for _ in range(iters):
        H = H * (W.T @ X) / (W.T @ W @ H + eps)
        W = W * (X @ H.T) / (W @ (H @ H.T) + eps)
    s = W.mean(0) / X.mean().clamp_min(eps)  # basis image k then has the mean of X
    return (H * s.clamp_min(eps)[:, None]).float()
