"""Reflectance fields: what `relight` consumes, full (96 OLAT images) or low-rank (K basis).

A low-rank field stores K basis images per frame and one (K, L) coefficient matrix shared
by all frames: OLAT image l of frame t is ``sum_k coeffs[k, l] * basis[t, k]``. It is fitted
by principal components over the light axis (`fit_low_rank`) and saved as a dataset of
kind ``"field"`` (layout in docs/RELIGHT.md). `open_source` opens either kind behind one
interface (`FieldSource`) that reads frames lazily.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nervp.lightstage.dome import Dome
from nervp.store.olat import OLATDataset, load_olat
from nervp.store.zstore import (
    DatasetError,
    StoredFrames,
    atomic_dataset,
    check_arrays,
    frame_array,
    open_group,
    read_chunk,
    read_manifest,
    small_array,
)

FIELD_KIND = "field"


@dataclass(frozen=True)
class ReflectanceField:
    """How each pixel of T frames responds to each LED.

    Attributes:
        images: (T, N, H, W, 3) float16 or float32 tensor, linear Rec. 709 radiance,
            premultiplied by alpha over black, on any device. Full field: N = L, image l is
            the frame lit by LED l alone. Low-rank field: N = K basis images.
        coeffs: None for a full field; for a low-rank field (K, L) float32 tensor on the
            same device: OLAT image l = sum_k coeffs[k, l] * images[:, k].
        alpha: optional (T, H, W) float32 coverage in [0, 1].
    """

    images: Tensor
    coeffs: Tensor | None = None
    alpha: Tensor | None = None

    def __post_init__(self) -> None:
        im = self.images
        if im.dim() != 5 or im.shape[-1] != 3:
            raise ValueError(f"ReflectanceField.images must be (T, N, H, W, 3), got {tuple(im.shape)}")
        if im.dtype not in (torch.float16, torch.float32):
            raise ValueError(f"ReflectanceField.images must be float16 or float32, got {im.dtype}")
        if self.coeffs is not None and (self.coeffs.dim() != 2 or self.coeffs.shape[0] != im.shape[1]):
            raise ValueError(f"coeffs must be (K, L) with K = {im.shape[1]} basis images, got {tuple(self.coeffs.shape)}")
        if self.alpha is not None and tuple(self.alpha.shape) != (im.shape[0], *im.shape[2:4]):
            raise ValueError(f"alpha must be (T, H, W) = {(im.shape[0], *im.shape[2:4])}, got {tuple(self.alpha.shape)}")

    @property
    def n_frames(self) -> int:
        return int(self.images.shape[0])

    @property
    def n_lights(self) -> int:
        return int(self.images.shape[1] if self.coeffs is None else self.coeffs.shape[1])

    @property
    def rank(self) -> int | None:
        """K for a low-rank field, None for a full one."""
        return None if self.coeffs is None else int(self.images.shape[1])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.images.shape[2]), int(self.images.shape[3])

    def to(self, device: torch.device | str) -> ReflectanceField:
        def mv(x: Tensor | None) -> Tensor | None:
            return None if x is None else x.to(device)

        return ReflectanceField(self.images.to(device), mv(self.coeffs), mv(self.alpha))

    def olat(self) -> Tensor:
        """(T, L, H, W, 3) float32 OLAT images (expanded from the basis for a low-rank field)."""
        if self.coeffs is None:
            return self.images.float()
        return torch.einsum("kl,tkhwc->tlhwc", self.coeffs.float(), self.images.float())


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
    basis = torch.stack([(coeffs @ olat[t].reshape(L, -1).float()).reshape(rank, *olat.shape[2:])
                         for t in range(T)])
    return ReflectanceField(basis.half(), coeffs)


@dataclass(frozen=True)
class FieldSource(StoredFrames):
    """A reflectance field on disk (OLAT dataset or low-rank field), read lazily.

    Attributes:
        path: the dataset directory. manifest: its manifest.
        group: the zarr group of a low-rank field, or the `OLATDataset` reader of an OLAT dataset.
        kind: "olat" or "field".
        dome: LED geometry and calibration the field is indexed by.
        camera: dict with K (3, 3), R (3, 3), t (3,) float64 (x_cam = R x_world + t), or None.
        coeffs: (K, L) float32 for a low-rank field, None for OLAT.
    """

    group: Any = field(repr=False)
    kind: str
    dome: Dome
    camera: dict[str, np.ndarray] | None
    coeffs: np.ndarray | None = None

    @property
    def fps(self) -> float:
        return float(self.manifest.get("fps", 25.0))

    @property
    def gain(self) -> float:
        """Capture exposure on top of the LED intensities: the manifest's ``exposure``; for
        virtual-stage datasets written before the stage recorded it, the stage's default
        (`SimConfig.exposure`, which every preset uses); else 1."""
        if "exposure" in self.manifest:
            return float(self.manifest["exposure"])
        if self.manifest.get("source") == "virtual light stage":
            from nervp.synth.simulate import SimConfig

            return float(SimConfig.exposure)
        return 1.0

    @property
    def n_images(self) -> int:
        """Images per frame: L for OLAT, K for a low-rank field."""
        return self.dome.n_lights if self.coeffs is None else int(self.coeffs.shape[0])

    def has_alpha(self) -> bool:
        return "alpha" in self.manifest["arrays"]

    def _read(self, name: str, index: Any) -> np.ndarray:
        if isinstance(self.group, OLATDataset):
            return self.group.read(name, index)
        return read_chunk(self.group[name], index, self.path, name)

    def read(self, frames: list[int] | np.ndarray, device: torch.device | str = "cpu") -> ReflectanceField:
        """Frames (list of indices) as a ReflectanceField on `device` (images stay float16)."""
        name = "olat" if self.kind == "olat" else "basis"
        imgs = np.stack([self._read(name, int(t)) for t in frames])
        alpha = None
        if self.has_alpha():
            alpha = torch.from_numpy(np.stack([self._read("alpha", int(t)) for t in frames]).astype(np.float32))
        coeffs = None if self.coeffs is None else torch.from_numpy(self.coeffs)
        return ReflectanceField(torch.from_numpy(imgs), coeffs, alpha).to(device)

    def read_array(self, name: str, t: int) -> np.ndarray | None:
        return self._read(name, t) if name in self.manifest["arrays"] else None


def _camera(manifest: dict) -> dict[str, np.ndarray] | None:
    cam = manifest.get("camera")
    if not isinstance(cam, dict) or not all(k in cam for k in ("K", "R", "t")):
        return None
    return {k: np.asarray(cam[k], dtype=np.float64) for k in ("K", "R", "t")}


def open_source(path: Path | str) -> FieldSource:
    """Open an OLAT dataset or a low-rank field; raises DatasetError naming any problem."""
    path = Path(path)
    manifest = read_manifest(path)
    kind = manifest.get("kind")
    if kind == "olat":
        ds = load_olat(path)
        return FieldSource(path, ds.manifest, ds, "olat", ds.dome, _camera(ds.manifest), None)
    if kind != FIELD_KIND:
        raise DatasetError(f"{path} holds a {kind!r} dataset; relighting needs an OLAT dataset or a "
                           "low-rank field (for a raw stream, process it into OLAT sets first)")
    arrays = manifest.get("arrays", {})
    if "basis" not in arrays or "coeffs" not in arrays:
        raise DatasetError(f"{path}: a field needs 'basis' and 'coeffs' arrays: create it again")
    group = open_group(path)
    check_arrays(group, path, {k: tuple(v["shape"]) for k, v in arrays.items()})
    dome = Dome.from_json(manifest["dome"])
    coeffs = read_chunk(group["coeffs"], slice(None), path, "coeffs").astype(np.float32)
    T, K = int(manifest["n_frames"]), coeffs.shape[0]
    H, W = int(manifest["height"]), int(manifest["width"])
    if coeffs.shape[1] != dome.n_lights:
        raise DatasetError(f"{path}: coefficients cover {coeffs.shape[1]} lights but the dome has "
                           f"{dome.n_lights} LEDs")
    if tuple(arrays["basis"]["shape"]) != (T, K, H, W, 3):
        raise DatasetError(f"{path}: basis shape {arrays['basis']['shape']} disagrees with "
                           f"n_frames={T}, rank={K}, {H}x{W}")
    return FieldSource(path, manifest, group, FIELD_KIND, dome, _camera(manifest), coeffs)


def write_field(path: Path | str, source: FieldSource, rank: int, overwrite: bool = False,
                fit_frames: int = 8) -> None:
    """Compress an OLAT source into a rank-`rank` field dataset at `path` (atomic).

    The basis is fitted on up to `fit_frames` frames spread over the clip, then every
    frame is projected onto it one at a time (memory stays one frame).
    """
    if source.kind != "olat":
        raise DatasetError(f"{source.path} is already a low-rank field")
    T = source.n_frames
    pick = np.unique(np.linspace(0, T - 1, min(T, fit_frames)).round().astype(int))
    coeffs = fit_low_rank(source.read(pick).images, rank).coeffs
    H, W = source.height, source.width
    keep = {k: source.manifest[k] for k in ("height", "width", "fps", "camera", "exposure", "colour_space",
                                            "units", "performer", "source", "dome") if k in source.manifest}
    man = {**keep, "kind": FIELD_KIND, "n_frames": T, "n_lights": source.dome.n_lights, "rank": rank,
           "fitted_from": str(source.path)}
    with atomic_dataset(Path(path), man, overwrite) as g:
        basis = frame_array(g, "basis", (T, rank, H, W, 3), "float16",
                            "low-rank basis images, linear radiance, (T, K, H, W, 3)")
        alpha = (frame_array(g, "alpha", (T, H, W), "float16", "coverage in [0, 1], (T, H, W)")
                 if source.has_alpha() else None)
        for t in range(T):
            f = source.read([t])
            basis[t] = fit_low_rank(f.images, rank, coeffs).images[0].numpy()
            if alpha is not None:
                alpha[t] = f.alpha[0].numpy().astype(np.float16)
        small_array(g, "coeffs", coeffs.numpy(), "OLAT_l = sum_k coeffs[k, l] basis_k, (K, L)")
        small_array(g, "time", np.asarray(source.read_array("time", slice(None)) if "time" in
                                          source.manifest["arrays"] else np.arange(T) / source.fps,
                                          dtype=np.float64), "instant of each frame (s), (T,)")
        man["arrays"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in g.arrays()}
