"""Raw high-speed camera streams: 8-bit Bayer images, the lighting schedule, and (for the
virtual light stage) ground-truth OLAT sets at each set's middle tracking instant.

Layout (docs/FORMAT.md): arrays `images` (N, H, W) uint8, one chunk per image; `pattern`
(N,) int16 (LED index, or -1 for an all-on tracking image); `time` (N,) float64 seconds;
`gain` (N,) float32, the exposure scale of each image (DN = black + gain * radiance *
(white - black) before noise); `sets_middle` (S,) and `sets_olat` (S, L) image indices of
each OLAT set; optional group `truth/` holding an OLAT dataset of S frames. `write_raw` is
the one writer (the virtual stage's camera and `capture.ingest` both use it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nervp.errors import ConfigError, check_stop, cooperative
from nervp.lightstage.dome import Dome
from nervp.lightstage.schedule import TRACKING
from nervp.store import zstore
from nervp.store.olat import (
    OLATDataset,
    OLATFrame,
    create_image_arrays,
    frame_values,
    olat_from_group,
    olat_manifest,
    put_frame,
    put_recorded,
    write_olat_arrays,
)
from nervp.store.resume import ResumableWrite, open_work, replace_small
from nervp.store.zstore import DatasetError

KIND = "raw"
_BATCH_BYTES = 8 << 20
"""`write_raw` hands zarr up to this many bytes of images (at most 32) per write."""


@dataclass(frozen=True)
class RawStream(zstore.StoredImages, zstore.DomeRecorded):
    """A validated raw stream. Open with `load_raw`."""

    @property
    def n_images(self) -> int:
        return int(self.manifest["n_images"])

    @property
    def bayer(self) -> str:
        return str(self.manifest["bayer"])

    def small(self, name: str) -> np.ndarray:
        return zstore.read_chunk(self.group[name], slice(None), self.path, name)

    def image(self, i: int) -> np.ndarray:
        """(H, W) uint8 Bayer image i."""
        if not 0 <= i < self.n_images:
            raise IndexError(f"image {i} out of range 0..{self.n_images - 1}")
        return zstore.read_chunk(self.group["images"], i, self.path, "images")

    def truth(self) -> OLATDataset | None:
        """Ground-truth OLAT sets at the set middles, when the stream is simulated."""
        if "truth" not in self.manifest:
            return None
        return olat_from_group(self.path / "truth", self.manifest["truth"], self.group["truth"])


def load_raw(path: Path | str) -> RawStream:
    """Open and validate a raw stream; raises DatasetError naming any problem."""
    path = Path(path)
    m = zstore.read_manifest(path, KIND)
    group = zstore.open_group(path)
    N, H, W = int(m["n_images"]), int(m["height"]), int(m["width"])
    S, L = int(m["n_sets"]), int(m["n_lights"])
    zstore.check_arrays(group, path, {"images": (N, H, W), "pattern": (N,), "time": (N,), "gain": (N,),
                               "sets_middle": (S,), "sets_olat": (S, L)})
    raw = RawStream(path, m, group)
    pattern = raw.small("pattern")
    bad = np.nonzero((pattern < TRACKING) | (pattern >= L))[0]
    if bad.size:
        raise DatasetError(f"{path}: image {bad[0]} has pattern {pattern[bad[0]]}, not an LED of 0..{L - 1} or -1")
    if "truth" in m:
        raw.truth()
    return raw


def raw_manifest(base: dict[str, Any], *, height: int, width: int, n_images: int, n_sets: int, dome: Dome,
                 bayer: str, black_level: int, white_level: int, schedule: dict[str, Any],
                 sensor: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of a raw stream: `base` (camera, performer, ...; its keys keep their place)
    updated with the fields every raw stream carries."""
    man = dict(base)
    man.update({"kind": KIND, "height": height, "width": width, "n_images": n_images, "n_sets": n_sets,
                "n_lights": dome.n_lights, "bayer": bayer, "black_level": _level(black_level),
                "white_level": _level(white_level), "schedule": schedule, "dome": dome.to_json(),
                "colour_space": "camera-raw-linear"})
    if sensor is not None:
        man["sensor"] = sensor
    man["linearise"] = "radiance = (DN - black_level) / (white_level - black_level) / gain[i]"
    return man


def _level(v: float) -> int | float:
    """A black or white level as stored: an int when whole (8-bit sensors), else the float (a
    deeper sensor's level on the 8-bit scale)."""
    return int(v) if float(v).is_integer() else float(v)


@dataclass(frozen=True)
class RawTruth:
    """Ground-truth OLAT sets of a simulated stream, one per set middle.

    Attributes:
        frames: S OLAT frames (linear Rec. 709 radiance) at the set middles.
        fps: OLAT sets per second, recorded in the truth manifest; None to leave it out.
        beta: (n_id,) float32 identity coefficients of the performer; None to leave them out.
    """

    frames: Sequence[OLATFrame]
    fps: float | None = None
    beta: np.ndarray | None = None


def write_raw(path: Path | str, manifest: dict[str, Any], dome: Dome, images: Iterable[np.ndarray],
              pattern: np.ndarray, time: np.ndarray, gain: np.ndarray, sets_middle: np.ndarray, sets_olat: np.ndarray,
              truth: RawTruth | None = None, overwrite: bool = False,
              on_image: Callable[[int, int], None] | None = None) -> Path:
    """Write a raw stream of N images at `path`, atomically.

    Args:
        manifest: from `raw_manifest` (gives N, H and W); the truth is added to it here.
        dome: the LED geometry (L LEDs), as in the manifest.
        images: N arrays (H, W) uint8, Bayer digital numbers, consumed one at a time.
        pattern: (N,) int16 LED lit per image, or -1 (TRACKING). time: (N,) float64 seconds.
        gain: (N,) float32 exposure scales. sets_middle: (S,) int64; sets_olat: (S, L) int64.
        truth: ground-truth OLAT sets (simulated streams only).
        on_image: called as on_image(i, N) after image i is written.
    """
    N, H, W = int(manifest["n_images"]), int(manifest["height"]), int(manifest["width"])
    L = dome.n_lights
    with zstore.atomic_dataset(Path(path), manifest, overwrite) as group:
        arr = zstore.frame_array(group, "images", (N, H, W), "uint8", "Bayer images (N, H, W), DN")
        count = 0
        batch = max(1, min(32, _BATCH_BYTES // max(H * W, 1)))  # chunks written together: zarr's
        buf = np.empty((batch, H, W), np.uint8)                  # per-call cost is shared
        for i, img in enumerate(images):
            if i >= N:
                raise ConfigError(f"more images than pattern entries ({N})")
            img = np.asarray(img)
            if img.shape != (H, W) or img.dtype != np.uint8:
                raise ConfigError(f"image {i} is {img.dtype} {img.shape}, expected uint8 {(H, W)}")
            buf[i % batch] = img
            count += 1
            if count % batch == 0 or count == N:
                k = (count - 1) % batch + 1
                arr[count - k:count] = buf[:k]
                if on_image is not None:
                    for j in range(count - k, count):
                        on_image(j, N)
        if count % batch and count != N:  # fewer images than entries: write what came, then refuse
            k = count % batch
            arr[count - k:count] = buf[:k]
        if count != N:
            raise ConfigError(f"got {count} images for {N} pattern entries")
        zstore.small_array(group, "pattern", pattern, "LED lit per image, -1 = all-on tracking, (N,)")
        zstore.small_array(group, "time", time, "capture instant (s), (N,)")
        zstore.small_array(group, "gain", gain, "exposure scale per image, (N,)")
        zstore.small_array(group, "sets_middle", sets_middle, "middle tracking image of each set, (S,)")
        zstore.small_array(group, "sets_olat", sets_olat, "image of LED l in set s, (S, L)")
        if truth is not None:
            S = len(truth.frames)
            tman = olat_manifest(dome, S, {
                "height": H, "width": W, **{k: manifest[k] for k in ("camera", "head_model") if k in manifest}})
            if truth.fps is not None:
                tman["fps"] = truth.fps
            tman["arrays"] = write_olat_arrays(group.create_group("truth"), truth.frames, S, L, H, W, truth.beta)
            manifest["truth"] = tman
    return Path(path)


def write_raw_recorded(path: Path | str, manifest: dict[str, Any], dome: Dome,
                       images_from: Callable[[int], Iterable[np.ndarray]], pattern: np.ndarray, time: np.ndarray,
                       gain: np.ndarray, sets_middle: np.ndarray, sets_olat: np.ndarray, settings: Any,
                       overwrite: bool = False, on_image: Callable[[int, int], None] | None = None) -> Path:
    """`write_raw` for a recording read from files, resumable (`nervp.store.resume`): images go
    in batches, each batch marked once written; a rerun with the same `settings` (the resume key,
    JSON-able: what decides the images) asks `images_from(k)` only for images k.. after the last
    marked batch, and writes the same bytes as an uninterrupted run. No truth."""
    path = Path(path)
    zstore.check_output(path, overwrite)
    N, H, W = int(manifest["n_images"]), int(manifest["height"]), int(manifest["width"])
    batch = max(1, min(32, _BATCH_BYTES // max(H * W, 1)))
    key = {"writer": "raw-recorded/1", "settings": settings, "manifest": manifest, "batch": batch}
    with open_work(path, key, overwrite) as work, cooperative():
        if work.group is None:
            work.prepare(lambda g: zstore.frame_array(g, "images", (N, H, W), "uint8", "Bayer images (N, H, W), DN"))
        assert work.group is not None
        arr = work.group["images"]
        n_batches = -(-N // batch)
        start_b = next((b for b in range(n_batches) if not work.done("images", b)), n_batches)
        if start_b < n_batches:
            buf = np.empty((batch, H, W), np.uint8)
            count = start_b * batch
            for img in images_from(count):
                img = np.asarray(img)
                if img.shape != (H, W) or img.dtype != np.uint8:
                    raise ConfigError(f"image {count} is {img.dtype} {img.shape}, expected uint8 {(H, W)}")
                if count >= N:
                    raise ConfigError(f"more images than pattern entries ({N})")
                buf[count % batch] = img
                count += 1
                if count % batch == 0 or count == N:
                    k = (count - 1) % batch + 1
                    arr[count - k:count] = buf[:k]
                    work.mark("images", (count - 1) // batch, {})
                    if on_image is not None:
                        for j in range(count - k, count):
                            on_image(j, N)
                    check_stop()
            if count != N:
                raise ConfigError(f"got {count} images for {N} pattern entries")
        g = work.group
        for name, data, desc in (("pattern", pattern, "LED lit per image, -1 = all-on tracking, (N,)"),
                                 ("time", time, "capture instant (s), (N,)"),
                                 ("gain", gain, "exposure scale per image, (N,)"),
                                 ("sets_middle", sets_middle, "middle tracking image of each set, (S,)"),
                                 ("sets_olat", sets_olat, "image of LED l in set s, (S, L)")):
            replace_small(g, name)
            zstore.small_array(g, name, data, desc)
        work.publish(manifest, overwrite)
    return path


@dataclass(frozen=True)
class RawJob:
    """A simulated raw stream to write resumably (`write_raw_resumable`).

    Attributes:
        truth: renders the ground-truth OLAT set s (linear Rec. 709) and the small values its
            exposure needs (name -> array), for s in 0..S-1.
        gain: from those values of every set (in order), the (N,) float32 exposure scales.
        image: renders image i at exposure gain -> (H, W) uint8 Bayer digital numbers.
        pattern, time, sets_middle, sets_olat: as `write_raw`'s. fps, beta: as `RawTruth`'s.
        settings: JSON-able description of everything that decides the values (the resume key).
    """

    truth: Callable[[int], tuple[OLATFrame, dict[str, np.ndarray]]]
    gain: Callable[[list[dict[str, np.ndarray]]], np.ndarray]
    image: Callable[[int, float], np.ndarray]
    pattern: np.ndarray
    time: np.ndarray
    sets_middle: np.ndarray
    sets_olat: np.ndarray
    fps: float | None
    beta: np.ndarray | None
    settings: Any


def write_raw_resumable(path: Path | str, manifest: dict[str, Any], dome: Dome, job: RawJob,
                        overwrite: bool = False, on_image: Callable[[int, int], None] | None = None) -> Path:
    """Write a simulated raw stream at `path` that survives kill -9 (`nervp.store.resume`): the
    truth sets, then the images, each marked when written; a rerun with the same job renders
    only what is not marked, and the stream is byte-identical to an uninterrupted write."""
    path = Path(path)
    zstore.check_output(path, overwrite)
    N, S = int(manifest["n_images"]), len(job.sets_middle)
    key = {"writer": "raw/1", "settings": job.settings, "manifest": manifest}
    with open_work(path, key, overwrite) as work, cooperative():
        for s in [s for s in range(S) if not work.done("truth", s)]:
            fr, extra = job.truth(s)
            group = work.group if work.group is not None else work.prepare(lambda g, fr=fr: _raw_arrays(g, fr, N, S))
            put_frame(group["truth"], s, fr)
            work.mark("truth", s, {**frame_values(fr), **{f"x_{k}": v for k, v in extra.items()}})
            check_stop()
        assert work.group is not None
        recorded = [work.load("truth", s) for s in range(S)]
        gain = np.asarray(job.gain([{k[2:]: v for k, v in r.items() if k.startswith("x_")} for r in recorded]),
                          np.float32)
        for i in [i for i in range(N) if not work.done("image", i)]:
            work.group["images"][i] = job.image(i, float(gain[i]))
            work.mark("image", i, {})
            if on_image is not None:
                on_image(i, N)
            check_stop()
        _finish_raw(work, manifest, dome, job, gain, [{k: v for k, v in r.items() if not k.startswith("x_")}
                                                       for r in recorded], overwrite)
    return path


def _raw_arrays(group: Any, first: OLATFrame, N: int, S: int) -> None:
    H, W = first.olat.shape[1:3]
    zstore.frame_array(group, "images", (N, H, W), "uint8", "Bayer images (N, H, W), DN")
    create_image_arrays(group.create_group("truth"), first, S, first.olat.shape[0], H, W)


def _finish_raw(work: ResumableWrite, manifest: dict[str, Any], dome: Dome, job: RawJob, gain: np.ndarray,
                recorded: list[dict[str, np.ndarray]], overwrite: bool) -> None:
    g = work.group
    assert g is not None
    for name, data, desc in (("pattern", job.pattern, "LED lit per image, -1 = all-on tracking, (N,)"),
                             ("time", job.time, "capture instant (s), (N,)"),
                             ("gain", gain, "exposure scale per image, (N,)"),
                             ("sets_middle", job.sets_middle, "middle tracking image of each set, (S,)"),
                             ("sets_olat", job.sets_olat, "image of LED l in set s, (S, L)")):
        replace_small(g, name)
        zstore.small_array(g, name, data, desc)
    put_recorded(g["truth"], recorded, job.beta)
    H, W = int(manifest["height"]), int(manifest["width"])
    tman = olat_manifest(dome, len(recorded), {
        "height": H, "width": W, **{k: manifest[k] for k in ("camera", "head_model") if k in manifest}})
    if job.fps is not None:
        tman["fps"] = job.fps
    tman["arrays"] = zstore.array_list(g["truth"])
    work.publish({**manifest, "truth": tman}, overwrite)
