"""Every dataset kind nervp writes, in one table: its reader (from `nervp.store`), how many
frames `--frame` may pick from, a text summary and a contact sheet (from `nervp.viz`).

`nervp inspect` and the demo go through `inspect_dataset`; a new kind adds its reader and
writer in `nervp/store/` and one row to `KINDS` (see docs/FORMAT.md).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from nervp.store import conditioning, field, olat, params, raw
from nervp.store.outputs import Output, check_output
from nervp.store.zstore import FORMAT_VERSION, DatasetError, open_group, read_chunk, read_manifest
from nervp.viz import contact, face
from nervp.viz.images import save_png


@dataclass(frozen=True)
class DatasetKind:
    """One kind of dataset.

    Attributes:
        name: the manifest's ``kind``.
        version: the format version this nervp reads and writes (manifest ``version``).
        load: opens and validates a dataset directory; raises DatasetError naming any problem.
        frames: how many frames (images, for a raw stream) the loaded dataset has.
        summary: a paragraph of text about the loaded dataset.
        sheet: the contact sheet of the loaded dataset at a frame, (H, W, 3) uint8 sRGB.
    """

    name: str
    version: int
    load: Callable[[Path], Any]
    frames: Callable[[Any], int]
    summary: Callable[[Any], str]
    sheet: Callable[[Any, int], np.ndarray]


KINDS: dict[str, DatasetKind] = {k.name: k for k in (
    DatasetKind(olat.KIND, FORMAT_VERSION, olat.load_olat, lambda d: d.n_frames,
                contact.olat_summary, contact.olat_contact_sheet),
    DatasetKind(raw.KIND, FORMAT_VERSION, raw.load_raw, lambda d: d.n_images,
                contact.raw_summary, contact.raw_contact_sheet),
    DatasetKind(field.KIND, FORMAT_VERSION, field.load_field, lambda d: d.n_frames,
                contact.field_summary, contact.field_contact_sheet),
    DatasetKind(params.KIND, FORMAT_VERSION, params.load_params, lambda d: d.params.n_frames,
                face.params_summary, face.params_sheet),
    DatasetKind(conditioning.KIND, FORMAT_VERSION, conditioning.load_conditioning, lambda d: d.n_frames,
                face.maps_summary, face.maps_sheet),
)}


def dataset_kind(path: Path) -> DatasetKind:
    """The kind of the dataset at `path`, from its manifest; DatasetError when unknown."""
    name = read_manifest(path).get("kind")
    if name not in KINDS:
        raise DatasetError(f"{path} holds a {name!r} dataset, which this nervp does not know "
                           f"(kinds: {', '.join(KINDS)}): create it again")
    return KINDS[name]


VERIFY_BYTES = 2 * 10 ** 9
"""Datasets up to this many stored bytes have every chunk read (checksummed) by `inspect`."""


def stored_bytes(path: Path) -> int:
    """Bytes of every file under `path`."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def verify_chunks(path: Path) -> int:
    """Read and decode every chunk of every array under the dataset at `path` (each chunk's
    CRC32C checksum is checked as it is decoded); returns the number of chunks read. Raises
    DatasetError naming the first array and chunk that fails."""
    group = open_group(path)
    n = 0
    with warnings.catch_warnings():  # manifest.json is not a zarr node; zarr warns about it
        warnings.simplefilter("ignore")
        members = sorted((name, node) for name, node in group.members(max_depth=None))
    for name, node in members:
        if not isinstance(node, zarr.Array):
            continue
        for block in itertools.product(*(range(c) for c in node.cdata_shape)):
            read_chunk(node.blocks, block, path, name)
            n += 1
    return n


def inspect_dataset(path: Path, frame: int, sheet_path: Path, overwrite: bool = False,
                    verify: bool | None = None) -> str:
    """Validate the dataset at `path` through its kind's reader, write its contact sheet at
    `frame` to `sheet_path` (PNG, atomically) and return its summary text. The sheet is checked
    first (`nervp.store.outputs`): outside the dataset, in an existing folder, and an existing
    file replaced only with `overwrite` and only when it is a PNG picture.

    `verify`: read every chunk (True), only metadata and the chunks shown (False), or every
    chunk when the dataset holds at most VERIFY_BYTES (None); the text says which was done."""
    path = Path(path)
    check_output(Output(Path(sheet_path), "png"), overwrite, [path])
    kind = dataset_kind(path)
    ds = kind.load(path)
    n = kind.frames(ds)
    if not 0 <= frame < n:
        raise DatasetError(f"{path} has frames 0..{n - 1}; --frame {frame} is out of range")
    size = stored_bytes(path)
    if verify or (verify is None and size <= VERIFY_BYTES):
        checked = f"verified: all {verify_chunks(path)} chunks read, checksums match"
    else:
        checked = (f"checked metadata only ({size / 1e9:.3g} GB stored; chunks are checksummed when read): "
                   "add --verify to read every chunk")
    text = kind.summary(ds)
    save_png(Path(sheet_path), kind.sheet(ds, frame))
    return f"{text}\n{checked}"
