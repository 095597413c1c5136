"""OLAT datasets: per frame L one-light-at-a-time images plus what the virtual stage knows.

See docs/FORMAT.md for the layout. Pixel values are linear scene radiance (Rec. 709
primaries, no tone curve); an LED of intensity 1 at 1 m lighting a white Lambertian
surface head-on gives 1/pi.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from nervp.errors import check_stop, cooperative
from nervp.lightstage.dome import Dome
from nervp.store.resume import open_work, replace_small
from nervp.store.zstore import (
    DatasetError,
    DomeRecorded,
    StoredFrames,
    array_list,
    atomic_dataset,
    check_arrays,
    check_output,
    frame_array,
    open_group,
    read_chunk,
    read_manifest,
    small_array,
)

KIND = "olat"


@dataclass(frozen=True)
class OLATFrame:
    """Everything captured or known at one instant.

    Attributes:
        olat: (L, H, W, 3) float32 linear radiance, image l lit by LED l alone.
        full_lit: (H, W, 3) float32 linear radiance with all LEDs on (= olat.sum(0)).
        alpha: (H, W) float32 in [0, 1], performer coverage; None when unknown.
        normal: (H, W, 3) float32 unit world-space normals where alpha > 0, else 0; None when unknown.
        albedo: (H, W, 3) float32 linear diffuse albedo in [0, 1]; None when unknown.
        theta: (6,) float32 head pose (axis-angle rad, translation m); None when unknown.
        phi: (E,) float32 expression coefficients; None when unknown.
        landmarks: (P, 2) float32 projected landmarks in pixels (x, y); None when unknown.
        time: capture instant in seconds.
    """

    olat: np.ndarray
    full_lit: np.ndarray
    alpha: np.ndarray | None = None
    normal: np.ndarray | None = None
    albedo: np.ndarray | None = None
    theta: np.ndarray | None = None
    phi: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    time: float = 0.0


_IMAGE_ARRAYS = {  # name: (dtype, trailing shape builder, description)
    "olat": ("float16", lambda L, H, W: (L, H, W, 3), "OLAT images, linear radiance, (T, L, H, W, 3)"),
    "full_lit": ("float32", lambda L, H, W: (H, W, 3), "all LEDs on, linear radiance, (T, H, W, 3)"),
    "alpha": ("float16", lambda L, H, W: (H, W), "performer coverage in [0, 1], (T, H, W)"),
    "normal": ("float16", lambda L, H, W: (H, W, 3), "unit world-space normals, (T, H, W, 3)"),
    "albedo": ("float16", lambda L, H, W: (H, W, 3), "linear diffuse albedo, (T, H, W, 3)"),
}
_PARAM_ARRAYS = {
    "theta": "head pose per frame: axis-angle (rad) then translation (m), (T, 6)",
    "phi": "expression coefficients per frame, (T, E), names in manifest['head_model']",
    "landmarks": "projected head-model landmarks in pixels (x, y), (T, P, 2)",
}


def olat_manifest(dome: Dome, n_frames: int, manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest fields every OLAT dataset carries, merged with the caller's."""
    return {"kind": KIND, "n_frames": n_frames, "n_lights": dome.n_lights, "colour_space": "linear-rec709",
            "units": {"radiance": "LED intensity 1 at 1 m on white Lambertian = 1/pi", "length": "m",
                      "time": "s", "angle": "rad"},
            "dome": dome.to_json(), **manifest}


def write_olat_arrays(group: zarr.Group, frames: Iterable[OLATFrame], n_frames: int, n_lights: int,
                      height: int, width: int, beta: np.ndarray | None = None,
                      on_frame: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Write frames into `group` (one chunk per frame); return the manifest's array list."""
    L, H, W = n_lights, height, width
    arrays: dict[str, zarr.Array] = {}
    params: dict[str, list[np.ndarray]] = {k: [] for k in _PARAM_ARRAYS}
    times: list[float] = []
    count = 0
    for t, fr in enumerate(frames):
        if t >= n_frames:
            raise ValueError(f"more frames than the declared n_frames={n_frames}")
        if fr.olat.shape != (L, H, W, 3):
            raise ValueError(f"frame {t}: olat has shape {fr.olat.shape}, expected {(L, H, W, 3)}")
        for name, (dtype, trail, desc) in _IMAGE_ARRAYS.items():
            value = getattr(fr, name)
            if value is None:
                continue
            if name not in arrays:
                if t != 0:
                    raise ValueError(f"frame {t} has {name!r} but frame 0 did not")
                arrays[name] = frame_array(group, name, (n_frames, *trail(L, H, W)), dtype, desc)
            arrays[name][t] = value.astype(dtype)
        for name in _PARAM_ARRAYS:
            value = getattr(fr, name)
            if value is not None:
                params[name].append(np.asarray(value, dtype=np.float32))
        times.append(fr.time)
        count += 1
        if on_frame is not None:
            on_frame(t)
    if count != n_frames:
        raise ValueError(f"got {count} frames, declared n_frames={n_frames}")
    for name, desc in _PARAM_ARRAYS.items():
        if params[name]:
            small_array(group, name, np.stack(params[name]), desc)
    small_array(group, "time", np.asarray(times, dtype=np.float64), "capture instant per frame (s), (T,)")
    if beta is not None:
        small_array(group, "beta", np.asarray(beta, dtype=np.float32), "identity coefficients, (n_id,)")
    return array_list(group)


def write_olat_dataset(
    path: Path,
    frames: Iterable[OLATFrame],
    n_frames: int,
    manifest: dict[str, Any],
    dome: Dome,
    beta: np.ndarray | None = None,
    overwrite: bool = False,
    on_frame: Callable[[int], None] | None = None,
) -> None:
    """Write frames to an OLAT dataset at `path`, atomically.

    `manifest` must hold at least height, width and fps; the light-stage geometry, the
    frame count and the array list are added here.
    """
    man = olat_manifest(dome, n_frames, manifest)
    with atomic_dataset(path, man, overwrite) as group:
        man["arrays"] = write_olat_arrays(group, frames, n_frames, dome.n_lights, int(man["height"]),
                                          int(man["width"]), beta, on_frame)


FrameSource = Callable[[list[int]], Iterator[tuple[int, OLATFrame]]]
"""Renders the frames of the given indices, yielding (index, frame) in that order."""


def write_olat_resumable(path: Path, render: FrameSource, n_frames: int, manifest: dict[str, Any], dome: Dome,
                         settings: Any, beta: np.ndarray | None = None, overwrite: bool = False,
                         on_frame: Callable[[int], None] | None = None) -> None:
    """Write an OLAT dataset at `path` that survives kill -9 (`nervp.store.resume`): frames go to
    `.NAME.partial/`, one marker per frame once its chunks are written; a rerun with the same
    `settings` (JSON-able: whatever decides the frames' values) and manifest renders only the
    unmarked frames; the result is byte-identical to an uninterrupted write. Stops between
    frames when a stop was requested (`nervp.errors.check_stop`)."""
    check_output(Path(path), overwrite)
    man = olat_manifest(dome, n_frames, manifest)
    beta_list = None if beta is None else np.asarray(beta, np.float32).tolist()
    job = {"writer": "olat/1", "settings": settings, "manifest": man, "beta": beta_list}
    L, H, W = dome.n_lights, int(man["height"]), int(man["width"])
    with open_work(Path(path), job, overwrite) as work:
        todo = [t for t in range(n_frames) if not work.done("frame", t)]
        with cooperative():
            for t, fr in render(todo) if todo else ():
                if fr.olat.shape != (L, H, W, 3):
                    raise ValueError(f"frame {t}: olat has shape {fr.olat.shape}, expected {(L, H, W, 3)}")
                group = work.group if work.group is not None else work.prepare(
                    lambda g, fr=fr: create_image_arrays(g, fr, n_frames, L, H, W))
                put_frame(group, t, fr)
                work.mark("frame", t, frame_values(fr))
                if on_frame is not None:
                    on_frame(t)
                check_stop()
        assert work.group is not None
        put_recorded(work.group, [work.load("frame", t) for t in range(n_frames)], beta)
        man["arrays"] = array_list(work.group)
        work.publish(man, overwrite)


def put_frame(group: zarr.Group, t: int, fr: OLATFrame) -> None:
    """Write frame `t`'s images into the frame arrays of `group` (made by `create_image_arrays`)."""
    for name, (dtype, _, _) in _IMAGE_ARRAYS.items():
        if name in group:
            group[name][t] = getattr(fr, name).astype(dtype)


def frame_values(fr: OLATFrame) -> dict[str, np.ndarray]:
    """A frame's small values (θ, φ, landmarks as float32, time as float64) as a marker records them."""
    small = {k: np.asarray(getattr(fr, k), np.float32) for k in _PARAM_ARRAYS if getattr(fr, k) is not None}
    return {**small, "time": np.float64(fr.time)}


def put_recorded(group: zarr.Group, recorded: list[dict[str, np.ndarray]], beta: np.ndarray | None) -> None:
    """Write the per-frame small arrays (from `frame_values` of every frame, in order) and beta,
    replacing any an interrupted finish left."""
    for name, desc in _PARAM_ARRAYS.items():
        replace_small(group, name)
        if name in recorded[0]:
            small_array(group, name, np.stack([r[name] for r in recorded]), desc)
    replace_small(group, "time")
    small_array(group, "time", np.array([r["time"] for r in recorded], np.float64),
                "capture instant per frame (s), (T,)")
    if beta is not None:
        replace_small(group, "beta")
        small_array(group, "beta", np.asarray(beta, dtype=np.float32), "identity coefficients, (n_id,)")


def create_image_arrays(group: zarr.Group, first: OLATFrame, n_frames: int, L: int, H: int, W: int) -> None:
    """The frame arrays of every image the frames carry (those `first` has)."""
    for name, (dtype, trail, desc) in _IMAGE_ARRAYS.items():
        if getattr(first, name) is not None:
            frame_array(group, name, (n_frames, *trail(L, H, W)), dtype, desc)


@dataclass(frozen=True)
class OLATDataset(StoredFrames, DomeRecorded):
    """A validated, lazily read OLAT dataset. Open with `load_olat`."""

    def has(self, name: str) -> bool:
        return name in self.manifest["arrays"]

    def read(self, name: str, index: Any = slice(None)) -> np.ndarray:
        """Read `name[index]` as stored (float16 images stay float16)."""
        if not self.has(name):
            raise DatasetError(f"{self.path} has no {name!r} array")
        return read_chunk(self.group[name], index, self.path, name)

    def frame(self, t: int) -> OLATFrame:
        """Frame `t` with images as float32."""
        if not 0 <= t < self.n_frames:
            raise IndexError(f"frame {t} out of range 0..{self.n_frames - 1}")

        def img(name: str) -> np.ndarray | None:
            return self.read(name, t).astype(np.float32) if self.has(name) else None

        def par(name: str) -> np.ndarray | None:
            return self.read(name, t) if self.has(name) else None

        return OLATFrame(olat=img("olat"), full_lit=img("full_lit"), alpha=img("alpha"),
                         normal=img("normal"), albedo=img("albedo"), theta=par("theta"),
                         phi=par("phi"), landmarks=par("landmarks"),
                         time=float(self.read("time", t)))


def olat_from_group(path: Path, manifest: dict[str, Any], group: zarr.Group) -> OLATDataset:
    """Validate an OLAT array group described by `manifest` (a dataset's, or a raw stream's truth)."""
    arrays = manifest.get("arrays")
    if not isinstance(arrays, dict) or "olat" not in arrays or "full_lit" not in arrays:
        raise DatasetError(f"{path}: manifest lists no olat/full_lit arrays: create the dataset again")
    check_arrays(group, path, {k: tuple(v["shape"]) for k, v in arrays.items()})
    T, L = int(manifest["n_frames"]), int(manifest["n_lights"])
    H, W = int(manifest["height"]), int(manifest["width"])
    if tuple(arrays["olat"]["shape"]) != (T, L, H, W, 3):
        raise DatasetError(f"{path}: olat shape {arrays['olat']['shape']} disagrees with "
                           f"n_frames={T}, n_lights={L}, {H}x{W}")
    return OLATDataset(path, manifest, group)


def load_olat(path: Path | str) -> OLATDataset:
    """Open and validate an OLAT dataset; raises DatasetError naming any problem."""
    path = Path(path)
    return olat_from_group(path, read_manifest(path, KIND), open_group(path))
