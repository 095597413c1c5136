"""Writing relit clips: H.264 MP4 (PyAV), PNG sequences (sRGB) or OpenEXR sequences (linear).

Every writer is all-or-nothing: an MP4 is encoded under a temporary name and renamed; a
sequence is written into a hidden directory beside its destination and its files are
moved into place only after the last frame. A failure leaves nothing behind.

Output paths: ``OUT.mp4``; ``DIR/NAME.png`` or ``DIR/NAME.exr`` become ``NAME.0000.png``,
``NAME.0001.png``... unless the name holds a frame pattern (``####`` or ``%04d``).
EXR frames are half-float linear RGB plus the alpha channel A; MP4 and PNG are display
pictures (`nervp.composite.display`).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nervp.imaging.hdrio import write_exr
from nervp.store.outputs import Output, OutputError, check_not_input, check_output

KINDS = {".mp4": "mp4", ".png": "png", ".exr": "exr"}


@dataclass(frozen=True)
class OutputSpec:
    """Where and how a clip is written. kind: "mp4", "png" or "exr"."""

    path: Path
    kind: str

    def frame_path(self, i: int) -> Path:
        """Destination of frame i (sequences)."""
        name = self.path.name
        if "####" in name:
            name = re.sub("#+", lambda m: f"{i:0{len(m.group(0))}d}", name, count=1)
        elif re.search(r"%0?\d*d", name):
            name = name % i
        else:
            name = f"{self.path.stem}.{i:04d}{self.path.suffix}"
        return self.path.with_name(name)

    def outputs(self, strip: bool) -> list[Output]:
        """What writing this clip creates, to claim (`nervp.store.outputs.claim`): the video, or
        the sequence's first frame; and with `strip` the contact strip."""
        main = Output(self.path if self.kind == "mp4" else self.frame_path(0), self.kind)
        return [main, Output(self.strip_path, "png")] if strip else [main]

    @property
    def strip_path(self) -> Path:
        """Contact strip PNG beside the output."""
        stem = re.sub(r"[._-]?(#+|%0?\d*d)$", "", self.path.stem) or "relit"
        return self.path.with_name(f"{stem}.strip.png")


def output_spec(path: Path, overwrite: bool = False, strip: bool = False,
                inputs: Iterable[Path] = ()) -> OutputSpec:
    """Validate an output path (and with `strip` its contact strip) before any work: a known
    type, not one of `inputs`, and an existing file replaced only with `overwrite` and only by
    one of the same type (`nervp.store.outputs`). Raises OutputError naming the fix."""
    path = Path(path)
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise OutputError(f"cannot write {path}: unsupported output type {path.suffix or '(none)'}; "
                          "use OUT.mp4 (H.264 video), OUT.png (PNG sequence) or OUT.exr (linear EXR sequence)")
    spec = OutputSpec(path, kind)
    check_not_input(path, inputs)
    for out in spec.outputs(strip):
        check_output(out, overwrite, inputs)
    return spec


@dataclass(frozen=True)
class OutFrame:
    """One finished frame: display picture (H, W, 3) uint8 sRGB, linear (H, W, 3) float32
    composite and its alpha (H, W) float32."""

    picture: np.ndarray
    linear: np.ndarray
    alpha: np.ndarray


def write_clip(spec: OutputSpec, frames: Iterable[OutFrame], fps: float, crf: int = 18) -> int:
    """Write all frames to `spec`; returns the count. Nothing is left behind on failure."""
    if spec.kind == "mp4":
        from nervp.viz.video import write_mp4

        return write_mp4(spec.path, (f.picture for f in frames), fps, crf=crf)
    return _write_sequence(spec, frames)


def _write_sequence(spec: OutputSpec, frames: Iterable[OutFrame]) -> int:
    from nervp.viz.images import save_png

    tmp = spec.path.absolute().parent / f".{spec.path.stem}.partial-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    written: list[tuple[Path, Path]] = []
    try:
        for i, f in enumerate(frames):
            dst = spec.frame_path(i)
            part = tmp / dst.name
            if spec.kind == "png":
                save_png(part, f.picture)
            else:
                write_exr(part, f.linear, f.alpha)
            written.append((part, dst))
        if not written:
            raise OutputError(f"no frames to write to {spec.path}")
        for part, dst in written:
            os.replace(part, dst)
    except OSError as e:
        raise OutputError(f"cannot write {spec.path}: {e.strerror or e}") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return len(written)


def contact_strip(pictures: list[tuple[int, np.ndarray]], label: str = "") -> np.ndarray:
    """A row of labelled uint8 pictures (frame index, picture)."""
    from nervp.viz.images import grid
    from nervp.viz.images import label as put_label

    tiles = [put_label(p, f"{label} t={i}".strip()) for i, p in pictures]
    return grid(tiles, cols=len(tiles))


def tee(frames: Iterable[OutFrame], keep: set[int], into: list[tuple[int, np.ndarray]]) -> Iterator[OutFrame]:
    """Pass frames through, copying the pictures of frames whose index is in `keep`."""
    for i, f in enumerate(frames):
        if i in keep:
            into.append((i, f.picture))
        yield f
