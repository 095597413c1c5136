"""Training and test material for the learned estimator, from the virtual light stage.

A cache holds, per (performer, instant), the 96 OLAT images cropped around the face
(`crop.STORE` square, float16 linear) and the crop's alpha, plus each OLAT image's Gram
matrix on the network window, so that the relit-image error of any weights is a quadratic
form (relighting is linear): ``|sum_l (w_l - v_l) O_l|^2 = (w - v)^T G (w - v)`` per channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nervp.estimate import crop as C


@dataclass(frozen=True)
class CropSet:
    """Face crops of OLAT sets.

    Attributes:
        olat: (N, L, S, S, 3) float16 linear OLAT crops (S = crop.STORE), stage exposure.
        alpha: (N, S, S) float16 coverage of the performer in each crop.
        seed: (N,) int64 performer seed of each set.
    """

    olat: np.ndarray
    alpha: np.ndarray
    seed: np.ndarray

    @property
    def n(self) -> int:
        return int(self.olat.shape[0])


def render_crops(seeds: list[int], instants: int = 2, size: int = 128, seed: int = 0,
                 on_set=None) -> CropSet:
    """Render `instants` OLAT sets of each performer seed at `size`² and crop their faces."""
    from nervp.synth.performer import PerformerConfig
    from nervp.synth.simulate import SimConfig, make_stage

    rng = np.random.default_rng(seed)
    olat, alpha, who = [], [], []
    for s in seeds:
        stage = make_stage(SimConfig(size=size, frames=100, performer=PerformerConfig(seed=int(s))))
        for t in rng.uniform(0.0, 4.0, size=instants):  # one yaw period of the performance
            f = stage.capture(float(t))
            box = C.face_box(f.landmarks)
            o = np.stack([C.crop(im, box) for im in f.olat])
            olat.append(o.astype(np.float16))
            alpha.append(C.crop(f.alpha[..., None].astype(np.float32), box)[..., 0].astype(np.float16))
            who.append(int(s))
            if on_set is not None:
                on_set(len(who))
    return CropSet(np.stack(olat), np.stack(alpha), np.asarray(who, np.int64))


def save_crops(path: Path, cs: CropSet) -> None:
    import os

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.savez(fh, olat=cs.olat, alpha=cs.alpha, seed=cs.seed)
    os.replace(tmp, path)


def load_crops(path: Path) -> CropSet:
    with np.load(path) as z:
        return CropSet(z["olat"], z["alpha"], z["seed"])
