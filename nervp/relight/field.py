"""Low-rank reflectance fields: fitting the light-space basis and compressing an OLAT source.

A low-rank field stores K basis images per frame and one (K, L) coefficient matrix shared
by all frames: OLAT image l of frame t is ``sum_k coeffs[k, l] * basis[t, k]`` (the
`ReflectanceField` of `nervp.structures`). It is fitted by principal components over the
light axis (`fit_low_rank`) and saved as a dataset of kind ``"field"`` (`nervp.store.field`,
layout in docs/FORMAT.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nervp.store.field import FieldSource, require_olat, write_field
from nervp.structures.field import ReflectanceField


def fit_low_rank(olat: Tensor, rank: int, coeffs: Tensor | None = None) -> ReflectanceField:
    """Project OLAT images (T, L, H, W, 3) onto their `rank` principal light-space components.

    The coefficient rows are the top eigenvectors of the (L, L) light covariance summed over
    frames and pixels (orthonormal); basis[t] = coeffs @ olat[t]. Pass `coeffs` to reuse a
    basis fitted on other frames. The basis is stored as float16 like OLAT images.
    """
    T, L = olat.shape[:2]
    if not 1 <= rank <= L:
        raise ValueError(f"rank must be in 1..{L}, got {rank}")
    if coeffs is None:
        gram = torch.zeros(L, L, dtype=torch.float64, device=olat.device)
        for t in range(T):
            a = olat[t].reshape(L, -1).double()
            gram += a @ a.T
        _, vecs = torch.linalg.eigh(gram)  # ascending
        coeffs = vecs[:, -rank:].flip(-1).T.float().contiguous()  # (K, L)
    return ReflectanceField.project(olat, coeffs)


def write_low_rank(path: Path | str, source: FieldSource, rank: int, overwrite: bool = False,
                   fit_frames: int = 8) -> None:
    """Compress an OLAT source into a rank-`rank` field dataset at `path` (atomic).

    The basis is fitted on up to `fit_frames` frames spread over the clip, then every
    frame is projected onto it one at a time (memory stays one frame).
    """
    write_field(path, source, low_rank_coeffs(source, rank, fit_frames), overwrite)


def low_rank_coeffs(source: FieldSource, rank: int, fit_frames: int = 8) -> Tensor:
    """The (K, L) float32 light-space basis of an OLAT source, fitted on up to `fit_frames`
    frames spread over the clip (what `write_low_rank` stores and `nervp view` ships); project
    a frame onto it with `ReflectanceField.project`."""
    require_olat(source)
    T = source.n_frames
    pick = np.unique(np.linspace(0, T - 1, min(T, fit_frames)).round().astype(int))
    return fit_low_rank(source.read(pick).images, rank).coeffs
