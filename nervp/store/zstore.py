"""The on-disk store shared by every dataset the project writes (see docs/FORMAT.md).

A dataset is a directory holding a zarr v3 group (one chunk per frame, Blosc zstd or lz4) and a
`manifest.json` written last. Writes go to a hidden sibling directory that is renamed
into place only when complete, so an interrupted write never leaves a directory that
loads as valid, and an existing dataset is replaced only after its successor is whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import zarr
from zarr.abc.codec import Codec
from zarr.codecs import BloscCodec, Crc32cCodec

from nervp.errors import NervpError
from nervp.lightstage.dome import Dome
from nervp.store import outputs

FORMAT = "nervp"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class StoredImages:
    """What every validated dataset reader holds: its directory, manifest and zarr group."""

    path: Path
    manifest: dict[str, Any]
    group: zarr.Group = field(repr=False)

    @property
    def height(self) -> int:
        return int(self.manifest["height"])

    @property
    def width(self) -> int:
        return int(self.manifest["width"])


@dataclass(frozen=True)
class StoredFrames(StoredImages):
    """A dataset whose arrays are indexed by frame (manifest key `n_frames`)."""

    @property
    def n_frames(self) -> int:
        return int(self.manifest["n_frames"])


class DomeRecorded:
    """Mixin of the readers whose manifest records the light stage (`olat`, `raw`)."""

    manifest: dict[str, Any]

    @property
    def dome(self) -> Dome:
        """The dome the dataset was captured on (LED positions, directions, solid angles)."""
        return Dome.from_json(self.manifest["dome"])

    @property
    def n_lights(self) -> int:
        """LEDs of that dome."""
        return int(self.manifest["n_lights"])


class DatasetError(NervpError):
    """A dataset is missing, incomplete, corrupted or of the wrong kind (message says which)."""


Compression = Literal["small", "fast", "none"]
"""How a frame array's chunks are compressed (every choice reads back the same values):
small = Blosc zstd level 3 with bit shuffling (the default: smallest files); fast = Blosc lz4
with byte shuffling (3-13x faster to encode, for arrays of noisy camera data that zstd shrinks
by only 6-28 %; measured in docs/CAPTURE.md); none = checksummed only."""


def compressor(kind: Compression = "small") -> tuple[Codec, ...]:
    """The chunk codecs of `kind`, always ending in a CRC32C checksum of each chunk so any
    damaged chunk fails to read."""
    if kind == "small":
        return BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle"), Crc32cCodec()
    if kind == "fast":
        return BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"), Crc32cCodec()
    return (Crc32cCodec(),)


def frame_array(group: zarr.Group, name: str, shape: tuple[int, ...], dtype: str,
                description: str, compression: Compression = "small") -> zarr.Array:
    """An array whose first axis is the frame (or image) index, one chunk per frame.

    compression "none": checksummed but not compressed, for work arrays that compress poorly
    and are written and read many times (capture's flows)."""
    codecs = compressor(compression)
    arr = group.create_array(name, shape=shape, chunks=(1, *shape[1:]), dtype=dtype,
                             compressors=codecs, fill_value=0,
                             config={"write_empty_chunks": True})
    arr.attrs["description"] = description
    return arr


def small_array(group: zarr.Group, name: str, data: np.ndarray, description: str) -> zarr.Array:
    """A small array written whole in one chunk (per-frame parameters, schedules)."""
    data = np.ascontiguousarray(data)
    arr = group.create_array(name, shape=data.shape, chunks=data.shape or None, dtype=data.dtype,
                             compressors=compressor(), fill_value=0,
                             config={"write_empty_chunks": True})
    arr[...] = data
    arr.attrs["description"] = description
    return arr


def check_output(path: Path, overwrite: bool, kind: str | None = None, inputs: Iterable[Path] = ()) -> None:
    """Fail early, before any work, when the dataset `path` must not or cannot be written: it is
    (inside, around) one of `inputs`, it exists (without `overwrite`), or it is not a nervp
    dataset of manifest kind `kind` (any kind when None) that `overwrite` may replace."""
    try:
        outputs.check_output(outputs.Output(Path(path), outputs.dataset(kind or "")), overwrite, inputs)
    except outputs.OutputError as e:
        raise DatasetError(str(e)) from None


@contextlib.contextmanager
def dataset_lock(path: Path, what: str = "nervp command") -> Iterator[None]:
    """Hold the output lock of the dataset `path` (`nervp.store.outputs.output_lock`: re-entrant
    in one process; DatasetError naming the holder when another process writes it)."""
    lock = outputs.output_lock(Path(path), what)
    try:
        lock.__enter__()
    except outputs.OutputError as e:
        raise DatasetError(str(e)) from None
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


@contextlib.contextmanager
def atomic_dataset(path: Path, manifest: dict[str, Any], overwrite: bool = False) -> Iterator[zarr.Group]:
    """Yield a zarr group in a temporary directory; on success write the manifest and rename.

    The manifest dict may be updated by the caller inside the block (it is written at exit).
    On any exception the temporary directory is removed and `path` is untouched. The output's
    lock is held throughout; `overwrite` replaces only a dataset of the manifest's kind.
    """
    path = Path(path)
    check_output(path, overwrite, manifest.get("kind"))
    with dataset_lock(path):
        check_output(path, overwrite, manifest.get("kind"))
        tmp = path.absolute().parent / f".{path.name}.partial-{uuid.uuid4().hex[:8]}"
        try:
            group = zarr.open_group(str(tmp), mode="w-")
            yield group
            _finish(tmp, path, manifest)
        except BaseException:
            remove_settled(tmp)
            raise


def remove_settled(tmp: Path, tries: int = 20, wait_s: float = 0.05) -> None:
    """Remove the directory `tmp` of a failed write, again until it stays gone.

    When one chunk write fails (a full disk), zarr's other writes of the same call are still in
    flight on its I/O loop and recreate their parent directories after a first removal; they end
    within milliseconds, so the tree is removed until it has stayed absent for `wait_s`."""
    for _ in range(tries):
        shutil.rmtree(tmp, ignore_errors=True)
        time.sleep(wait_s)
        if not tmp.exists():
            return


def read_json(path: Path, error: type[NervpError], fix: str, expect: type = dict) -> Any:
    """Read a JSON metadata file whose top level is an `expect` (dict or list); `error` naming
    the file and `fix` when it is missing, unreadable, not JSON or of another shape."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise error(f"{path} is missing: {fix}") from None
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
        raise error(f"{path} is corrupted or unreadable ({e.__class__.__name__}: {one_line(e)}): {fix}") from e
    if not isinstance(data, expect):
        raise error(f"{path} holds a JSON {type(data).__name__}, not a JSON "
                    f"{'object' if expect is dict else expect.__name__}: {fix}")
    return data


def one_line(e: BaseException) -> str:
    """The first line of an exception's message (library errors can span many)."""
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else e.__class__.__name__


# Manifest keys a reader relies on, with their JSON types: every manifest (_COMMON, when
# present) and each kind's own required keys. A missing or mistyped one is a DatasetError.
_NUM = (int, float)
_COMMON: dict[str, type | tuple[type, ...]] = {
    "height": int, "width": int, "n_frames": int, "n_lights": int, "n_images": int,
    "n_sets": int, "arrays": dict, "dome": dict, "fps": _NUM, "camera": (dict, type(None)),
    "head_model": dict, "schedule": dict, "truth": dict, "black_level": _NUM, "white_level": _NUM,
    "bayer": str, "exposure": _NUM, "stats": dict, "pncc_box": list}
REQUIRED: dict[str, tuple[str, ...]] = {
    "olat": ("n_frames", "n_lights", "height", "width", "dome", "arrays"),
    "raw": ("n_images", "n_sets", "n_lights", "height", "width", "bayer", "black_level", "white_level",
            "schedule", "dome"),
    "field": ("n_frames", "height", "width", "dome", "arrays"),
    "face_params": ("n_frames", "head_model", "camera", "stats", "fps", "arrays"),
    "conditioning": ("n_frames", "height", "width", "pncc_box", "arrays"),
}


def check_manifest(manifest: Any, where: Path, kind: str | None) -> None:
    """Every key `kind` needs is present with its JSON type, and every listed array has a shape
    (a list of non-negative integers) and a dtype; DatasetError naming `where` otherwise."""
    fix = "create the dataset again"
    if not isinstance(manifest, dict):
        raise DatasetError(f"{where} holds a JSON {type(manifest).__name__}, not a manifest object: {fix}")
    for key in REQUIRED.get(kind or "", ()):
        if key not in manifest:
            raise DatasetError(f"{where} lacks the key {key!r}: {fix}")
    for key, types in _COMMON.items():
        if key in manifest and (not isinstance(manifest[key], types) or isinstance(manifest[key], bool)):
            raise DatasetError(f"{where}: {key!r} is {manifest[key]!r}, not a JSON "
                               f"{'number' if types is _NUM else getattr(types, '__name__', types)}: {fix}")
        if key in manifest and types is int and manifest[key] < 0:
            raise DatasetError(f"{where}: {key!r} is negative ({manifest[key]}): {fix}")
    for name, spec in manifest.get("arrays", {}).items():
        shape = spec.get("shape") if isinstance(spec, dict) else None
        if not (isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape)
                and isinstance(spec.get("dtype"), str)):
            raise DatasetError(f"{where}: the entry of array {name!r} is {spec!r}, not "
                               f"{{shape: [integers], dtype: string}}: {fix}")
    if isinstance(manifest.get("truth"), dict):
        check_manifest({**manifest["truth"], "kind": "olat"}, where, "olat")


def read_manifest(path: Path, kind: str | None = None) -> dict[str, Any]:
    """Read and check a dataset's manifest; raises DatasetError naming the problem and the fix."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path} does not exist")
    mpath = path / MANIFEST
    if not path.is_dir() or not mpath.is_file():
        raise DatasetError(f"{path} is not a complete nervp dataset (no {MANIFEST}); "
                           "it may be from an interrupted write: create it again")
    manifest = read_json(mpath, DatasetError, "create the dataset again", expect=object)
    if not isinstance(manifest, dict):
        raise DatasetError(f"{mpath} holds a JSON {type(manifest).__name__}, not a manifest object: "
                           "create the dataset again")
    if manifest.get("format") != FORMAT:
        raise DatasetError(f"{mpath} is not a nervp manifest (format={manifest.get('format')!r})")
    if manifest.get("version") != FORMAT_VERSION:
        raise DatasetError(f"{path} has format version {manifest.get('version')}, this nervp reads "
                           f"version {FORMAT_VERSION}: convert or re-create it")
    if kind is not None and manifest.get("kind") != kind:
        raise DatasetError(f"{path} holds a {manifest.get('kind')!r} dataset, expected {kind!r}")
    check_manifest(manifest, mpath, manifest.get("kind") if isinstance(manifest.get("kind"), str) else None)
    return manifest


def array_list(group: zarr.Group) -> dict[str, dict[str, Any]]:
    """The manifest's `arrays` entry: name -> {shape, dtype} of every array in `group`, sorted by
    name (zarr lists a directory in the file system's order, which varies between writes)."""
    return {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in sorted(group.arrays())}


def open_dataset(path: Path, kind: str, fix: str = "create the dataset again") -> tuple[dict[str, Any], zarr.Group]:
    """Read and check the manifest of a dataset of `kind`, open its group and check every array
    its manifest lists (shape, all chunks on disk). `fix`: what to tell the user on failure."""
    manifest = read_manifest(path, kind)
    group = open_group(path)
    arrays = manifest.get("arrays")
    try:
        expected = {k: tuple(int(n) for n in v["shape"]) for k, v in arrays.items()}
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
        raise DatasetError(f"{path}: manifest lists no arrays with shapes: {fix}") from None
    check_arrays(group, path, expected)
    return manifest, group


def open_group(path: Path) -> zarr.Group:
    path = Path(path)
    if (path / ".zgroup").exists() or (path / ".zarray").exists():
        raise DatasetError(f"{path} is a zarr v2 store (.zgroup/.zarray); nervp reads zarr v3 datasets "
                           "(zarr.json): create the dataset again with nervp")
    if not (path / "zarr.json").is_file():
        raise DatasetError(f"{path / 'zarr.json'} is missing: create the dataset again")
    try:
        return zarr.open_group(str(path), mode="r", zarr_format=3)
    except Exception as e:  # zarr raises several types for damaged metadata
        raise DatasetError(f"{path / 'zarr.json'} is damaged zarr metadata ({e.__class__.__name__}: "
                           f"{one_line(e)}): create the dataset again") from e


def check_arrays(group: zarr.Group, path: Path, expected: dict[str, tuple[int, ...]]) -> None:
    """Every expected array exists with that shape and all its chunks are on disk."""
    for name, shape in expected.items():
        meta = Path(path) / name / "zarr.json"
        if (Path(path) / name / ".zarray").exists():
            raise DatasetError(f"{path}: array {name!r} is in the zarr v2 layout (.zarray); nervp reads "
                               "zarr v3 (zarr.json): create the dataset again with nervp")
        try:
            arr = group[name]
            missing, total = arr.nchunks - arr.nchunks_initialized, arr.nchunks
        except KeyError:
            raise DatasetError(f"{path}: array {name!r} is missing: create the dataset again") from None
        except Exception as e:  # zarr raises several types for damaged array metadata
            raise DatasetError(f"{meta} is damaged array metadata ({e.__class__.__name__}: {one_line(e)}): "
                               "create the dataset again") from e
        if not isinstance(arr, zarr.Array):
            raise DatasetError(f"{path}: {name!r} is a group, not an array: create the dataset again")
        if tuple(arr.shape) != tuple(shape):
            raise DatasetError(f"{path}: array {name!r} has shape {tuple(arr.shape)}, manifest says {tuple(shape)}")
        if any(c > max(n, 1) for c, n in zip(arr.chunks, arr.shape, strict=False)):  # a chunk's buffer is allocated whole
            raise DatasetError(f"{path / str(name) / 'zarr.json'} is damaged (chunks {arr.chunks} larger than the "
                               f"array {arr.shape}): create the dataset again")
        if missing:
            raise DatasetError(f"{path}: array {name!r} has {missing} of {total} chunks missing "
                               "(truncated copy?): create the dataset again")


def read_chunk(arr: zarr.Array, index: Any, path: Path, name: str) -> np.ndarray:
    """Read `arr[index]`, turning decode failures into a DatasetError that names the place."""
    try:
        return arr[index]
    except Exception as e:
        raise DatasetError(f"{path}: array {name!r} at {index!r} cannot be decoded ({e.__class__.__name__}: "
                           f"{one_line(e)}); the file is corrupted: create the dataset again") from e


def resumable_dir(path: Path) -> Path:
    """The fixed-name hidden work directory (`.NAME.partial`) beside `path` of a write that can
    be resumed after a crash; unlike `atomic_dataset`'s it survives the crash and is reused."""
    path = Path(path)
    return path.absolute().parent / f".{path.name}.partial"


def publish_dataset(tmp: Path, path: Path, manifest: dict[str, Any], overwrite: bool = False) -> None:
    """Finish a dataset written in place at `tmp`: write its manifest (last), then rename it to
    `path`. An existing dataset at `path` is replaced (with `overwrite`) only at this point."""
    path, tmp = Path(path), Path(tmp)
    with dataset_lock(path):
        check_output(path, overwrite, manifest.get("kind"))
        _finish(tmp, path, manifest)


def _finish(tmp: Path, path: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest into the complete directory `tmp` (last), then rename it to `path`,
    replacing an existing dataset there only now."""
    manifest = {"format": FORMAT, "version": FORMAT_VERSION, **manifest}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))  # same job, same bytes
    if path.exists():
        old = path.absolute().parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)
