"""Reflectance fields on disk: datasets of kind ``field`` (low-rank: K basis images per frame
and one (K, L) coefficient matrix, layout in docs/FORMAT.md), and `open_source`, which opens
an OLAT dataset or a low-rank field behind one lazily read interface (`FieldSource`).

The basis is fitted by `nervp.relight.fit_low_rank`; `write_field` stores the projection of
every frame of an OLAT source onto given coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nervp.lightstage.dome import Dome
from nervp.store.olat import KIND as OLAT_KIND
from nervp.store.olat import OLATDataset, load_olat
from nervp.store.zstore import (
    DatasetError,
    StoredFrames,
    array_list,
    atomic_dataset,
    frame_array,
    open_dataset,
    read_chunk,
    read_manifest,
    small_array,
)
from nervp.structures.field import ReflectanceField

KIND = "field"

VIRTUAL_STAGE_EXPOSURE = 2.2
"""Capture exposure of virtual-light-stage datasets written before the stage recorded it in
the manifest (the default of `nervp.synth.simulate.SimConfig.exposure`, which every preset
uses; tests/store checks the two agree)."""


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
        (`VIRTUAL_STAGE_EXPOSURE`); else 1."""
        if "exposure" in self.manifest:
            return float(self.manifest["exposure"])
        if self.manifest.get("source") == "virtual light stage":
            return VIRTUAL_STAGE_EXPOSURE
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
        name = "olat" if self.kind == OLAT_KIND else "basis"
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


def load_field(path: Path | str) -> FieldSource:
    """Open and validate a low-rank field (kind ``field``); raises DatasetError naming any problem."""
    path = Path(path)
    manifest, group = open_dataset(path, KIND)
    arrays = manifest["arrays"]
    if "basis" not in arrays or "coeffs" not in arrays:
        raise DatasetError(f"{path}: a field needs 'basis' and 'coeffs' arrays: create it again")
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
    return FieldSource(path, manifest, group, KIND, dome, _camera(manifest), coeffs)


def open_source(path: Path | str) -> FieldSource:
    """Open an OLAT dataset or a low-rank field; raises DatasetError naming any problem."""
    path = Path(path)
    kind = read_manifest(path).get("kind")
    if kind == OLAT_KIND:
        ds = load_olat(path)
        return FieldSource(path, ds.manifest, ds, OLAT_KIND, ds.dome, _camera(ds.manifest), None)
    if kind != KIND:
        raise DatasetError(f"{path} holds a {kind!r} dataset; relighting needs an OLAT dataset or a "
                           "low-rank field (for a raw stream, process it into OLAT sets first)")
    return load_field(path)


def require_olat(source: FieldSource) -> None:
    """A low-rank field is fitted to full OLAT images only."""
    if source.kind != OLAT_KIND:
        raise DatasetError(f"{source.path} is already a low-rank field")


def write_field(path: Path | str, source: FieldSource, coeffs: torch.Tensor, overwrite: bool = False) -> None:
    """Project every frame of the OLAT source onto `coeffs` ((K, L) float32, rows orthonormal,
    e.g. from `nervp.relight.fit_low_rank`) and write the rank-K field at `path`, atomically,
    one frame at a time (memory stays one frame)."""
    require_olat(source)
    T, rank = source.n_frames, int(coeffs.shape[0])
    H, W = source.height, source.width
    keep = {k: source.manifest[k] for k in ("height", "width", "fps", "camera", "exposure", "colour_space",
                                            "units", "performer", "source", "dome") if k in source.manifest}
    man = {**keep, "kind": KIND, "n_frames": T, "n_lights": source.dome.n_lights, "rank": rank,
           "fitted_from": str(source.path)}
    with atomic_dataset(Path(path), man, overwrite) as g:
        basis = frame_array(g, "basis", (T, rank, H, W, 3), "float16",
                            "low-rank basis images, linear radiance, (T, K, H, W, 3)")
        alpha = (frame_array(g, "alpha", (T, H, W), "float16", "coverage in [0, 1], (T, H, W)")
                 if source.has_alpha() else None)
        for t in range(T):
            f = source.read([t])
            basis[t] = ReflectanceField.project(f.images, coeffs).images[0].numpy()
            if alpha is not None:
                alpha[t] = f.alpha[0].numpy().astype(np.float16)
        small_array(g, "coeffs", coeffs.numpy(), "OLAT_l = sum_k coeffs[k, l] basis_k, (K, L)")
        small_array(g, "time", np.asarray(source.read_array("time", slice(None)) if "time" in
                                          source.manifest["arrays"] else np.arange(T) / source.fps,
                                          dtype=np.float64), "instant of each frame (s), (T,)")
        man["arrays"] = array_list(g)
