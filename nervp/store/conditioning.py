"""Datasets of kind ``conditioning``: the maps F_t = {I^d, I^c, I^l} (+ mask) rendered from
face parameters, one chunk per frame, with the parameters actually rendered. Layout in
docs/FORMAT.md; written by `parse`, read by `train` and `reenact`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nervp.store import zstore
from nervp.store.zstore import DatasetError
from nervp.structures.face import ConditioningMaps

KIND = "conditioning"

_MAP_ARRAYS = {
    "diffuse": ("float16", 3, "I^d diffuse colour, sRGB-encoded [0, 1], (T, H, W, 3)"),
    "pncc": ("float16", 3, "I^c normalised canonical coordinates in [0, 1], (T, H, W, 3)"),
    "landmark": ("uint8", 3, "I^l lines/irises in {0, 1}: oval+brows+nose, lids+lips, irises, (T, H, W, 3)"),
    "mask": ("uint8", 0, "head-model surface coverage in {0, 1}, (T, H, W)"),
}


def write_conditioning(path: Path, chunks: Iterator[tuple[int, ConditioningMaps]], n_frames: int,
                       height: int, width: int, manifest: dict, overwrite: bool = False,
                       on_frames: Callable[[int], None] | None = None) -> None:
    """Write maps streamed as (first frame, maps of a chunk of frames) into a `conditioning`
    dataset, one zarr chunk per frame, atomically."""
    man = {"kind": KIND, "n_frames": n_frames, "height": height, "width": width, **manifest}
    with zstore.atomic_dataset(path, man, overwrite) as g:
        arrs = {}
        for name, (dtype, c, desc) in _MAP_ARRAYS.items():
            shape = (n_frames, height, width) + ((c,) if c else ())
            arrs[name] = zstore.frame_array(g, name, shape, dtype, desc)
        thetas, phis, box, done = [], [], None, 0
        for start, m in chunks:
            sl = slice(start, start + m.n_frames)
            arrs["diffuse"][sl] = m.diffuse.numpy().astype(np.float16)
            arrs["pncc"][sl] = m.pncc.numpy().astype(np.float16)
            arrs["landmark"][sl] = m.landmark.numpy().astype(np.uint8)
            arrs["mask"][sl] = m.mask.numpy().astype(np.uint8)
            thetas.append(m.theta.numpy())
            phis.append(m.phi.numpy())
            box = m.pncc_box
            done += m.n_frames
            if on_frames is not None:
                on_frames(done)
        if done != n_frames:
            raise ValueError(f"wrote {done} frames of maps, declared {n_frames}")
        zstore.small_array(g, "theta", np.concatenate(thetas).astype(np.float32), "rendered head pose, (T, 6)")
        zstore.small_array(g, "phi", np.concatenate(phis).astype(np.float32), "rendered expression, (T, E)")
        man["pncc_box"] = box.tolist()
        man["arrays"] = zstore.array_list(g)


@dataclass(frozen=True)
class ConditioningDataset(zstore.StoredFrames):
    """A validated, lazily read `conditioning` dataset. Open with `load_conditioning`."""

    def maps(self, frames: slice = slice(None)) -> ConditioningMaps:
        """The maps of `frames` as float32 tensors (landmark and mask as stored values)."""
        def rd(name: str) -> np.ndarray:
            return zstore.read_chunk(self.group[name], frames, self.path, name)

        return ConditioningMaps(
            diffuse=torch.from_numpy(rd("diffuse").astype(np.float32)),
            pncc=torch.from_numpy(rd("pncc").astype(np.float32)),
            landmark=torch.from_numpy(rd("landmark").astype(np.float32)),
            mask=torch.from_numpy(rd("mask").astype(bool)),
            theta=torch.from_numpy(rd("theta")), phi=torch.from_numpy(rd("phi")),
            pncc_box=torch.tensor(self.manifest["pncc_box"], dtype=torch.float32))


def load_conditioning(path: Path | str) -> ConditioningDataset:
    """Open and validate a `conditioning` dataset; raises DatasetError naming any problem."""
    path = Path(path)
    man, g = zstore.open_dataset(path, KIND, "render them again")
    arrays = man["arrays"]
    if any(k not in arrays for k in (*_MAP_ARRAYS, "theta", "phi")):
        raise DatasetError(f"{path}: manifest lists no complete set of maps: render them again")
    T, H, W = int(man["n_frames"]), int(man["height"]), int(man["width"])
    if tuple(arrays["diffuse"]["shape"]) != (T, H, W, 3):
        raise DatasetError(f"{path}: diffuse shape {arrays['diffuse']['shape']} disagrees with "
                           f"n_frames={T}, {W}x{H}")
    return ConditioningDataset(path, man, g)
