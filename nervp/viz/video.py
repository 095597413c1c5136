"""Video files through PyAV (H.264 via its bundled libx264), written atomically."""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from nervp.errors import NervpError


def write_mp4(path: Path, frames: Iterable[np.ndarray], fps: float, crf: int = 18) -> int:
    """Encode uint8 (H, W, 3) sRGB frames as H.264 MP4; return the number of frames written.

    Written to a temporary name and renamed, so a failed encode leaves no truncated file.
    """
    path = Path(path)
    if not path.absolute().parent.is_dir():
        raise NervpError(f"cannot write {path}: its directory does not exist")
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    n = 0
    try:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = None
            for frame in frames:
                if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                    raise ValueError(f"video frames must be uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
                if stream is None:
                    h, w = frame.shape[:2]
                    if h % 2 or w % 2:
                        raise ValueError(f"H.264 needs even frame sizes, got {w}x{h}")
                    stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
                    stream.width, stream.height = w, h
                    stream.pix_fmt = "yuv420p"
                    stream.options = {"crf": str(crf), "preset": "medium"}
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                    container.mux(packet)
                n += 1
            if stream is None:
                raise ValueError("no frames to write")
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    except OSError as e:
        raise NervpError(f"cannot write {path}: {e.strerror or e}") from e
    finally:
        if tmp.exists():
            tmp.unlink()
    return n


def read_video(path: Path) -> tuple[np.ndarray, float]:
    """Decode a video into uint8 (T, H, W, 3) RGB frames and its frame rate."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.base_rate or 25)
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    except (av.error.FFmpegError, IndexError, OSError, ValueError) as e:  # ValueError: undecodable metadata
        raise NervpError(f"cannot read video {path}: {e}") from e
    if not frames:
        raise NervpError(f"video {path} has no frames")
    return np.stack(frames), fps
