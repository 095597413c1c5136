"""The baselines applied to DVP's output (the full-lit frame), all linear (H, W, 3) float32.

* MTP: colour transfer by mass transport. The colours of the performer's pixels are moved onto
  the distribution of a reference portrait's (a different performer under the target
  lighting) by sliced optimal transport -- iterative distribution transfer: at each step the
  colours are seen along 3 orthonormal axes of a random rotation and each 1-D distribution is
  matched to the reference's by its quantiles -- then the grain is reduced: the output keeps
  the transferred colours while its gradients follow the original image's (a screened Poisson
  equation, solved exactly by FFT). The transfer works on display-like values (linear ** 1/2.2).
* unrelit: the full-lit frame times the one gain per lighting that fits the truth best in least
  squares (an oracle floor: no method that cannot relight does better with a single gain).
"""

from __future__ import annotations

import numpy as np

GAMMA = 2.2


def _rotations(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        q, r = np.linalg.qr(rng.standard_normal((3, 3)))
        out.append(q * np.sign(np.diag(r)))  # a uniformly random rotation, sign-fixed
    return out


def sliced_transfer(src: np.ndarray, ref: np.ndarray, iterations: int = 20, seed: int = 0) -> np.ndarray:
    """Move the colour samples `src` (N, 3) onto the distribution of `ref` (M, 3) by sliced
    optimal transport; returns the moved (N, 3) float64 samples. Each iteration matches the
    quantiles of the projections on 3 orthonormal axes (`np.interp` between sorted samples)."""
    x = np.asarray(src, np.float64).copy()
    y = np.asarray(ref, np.float64)
    qs = np.linspace(0.0, 1.0, max(min(len(y), 4096), 2))
    for rot in _rotations(iterations, seed):
        px, py = x @ rot, y @ rot
        for k in range(3):
            order = np.argsort(px[:, k], kind="stable")
            rank = np.empty(len(x))
            rank[order] = np.arange(len(x)) / max(len(x) - 1, 1)
            target = np.interp(rank, qs, np.quantile(py[:, k], qs))
            px[:, k] = target
        x = px @ rot.T
    return x


def regrain(transferred: np.ndarray, original: np.ndarray, weight: float = 0.2) -> np.ndarray:
    """Grain reduction: J minimising |grad J - grad I|^2 + weight |J - T|^2 for the original I
    and the transferred T, channel by channel ((weight - Laplacian) J = weight T - Laplacian I,
    solved in the Fourier domain with periodic borders). (H, W, 3) in, (H, W, 3) out."""
    H, W = original.shape[:2]
    ky = 2 - 2 * np.cos(2 * np.pi * np.fft.fftfreq(H))
    kx = 2 - 2 * np.cos(2 * np.pi * np.fft.fftfreq(W))
    lap = ky[:, None] + kx[None, :]  # eigenvalues of -Laplacian
    out = np.empty_like(transferred, dtype=np.float64)
    for c in range(3):
        t = np.fft.fft2(transferred[..., c])
        i = np.fft.fft2(original[..., c])
        out[..., c] = np.real(np.fft.ifft2((weight * t + lap * i) / (weight + lap)))
    return out


def mtp(image: np.ndarray, alpha: np.ndarray, ref: np.ndarray, ref_alpha: np.ndarray,
        iterations: int = 20, seed: int = 0) -> np.ndarray:
    """DVP + MTP: `image` (H, W, 3) linear premultiplied by `alpha` (H, W), recoloured to the
    reference `ref` (premultiplied by `ref_alpha`); background (alpha 0) stays black."""
    fg, rfg = alpha > 0.5, ref_alpha > 0.5
    if not fg.any() or not rfg.any():
        return image.astype(np.float32)
    enc = np.clip(image, 0, None) ** (1 / GAMMA)
    renc = np.clip(ref, 0, None) ** (1 / GAMMA)
    moved = enc.astype(np.float64).copy()
    moved[fg] = sliced_transfer(enc[fg], renc[rfg], iterations, seed)
    smooth = np.clip(regrain(moved, enc), 0, None)
    out = np.where(fg[..., None], smooth, enc * 0) ** GAMMA
    return (out * np.where(fg, 1.0, 0.0)[..., None]).astype(np.float32)


def best_gain(images: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """`images` (T, H, W, 3) times the one scalar gain that fits `truth` best in least squares."""
    a = images.astype(np.float64)
    g = float((a * truth).sum() / max(float((a * a).sum()), 1e-30))
    return (a * g).astype(np.float32)


__all__ = ["best_gain", "mtp", "regrain", "sliced_transfer"]
