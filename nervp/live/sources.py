"""Where `nervp live` takes its frames from: a video file (decoded as it plays) or a webcam.

`open_source(spec)` checks the source before anything starts and raises a `NervpError` naming
it and the fix: a missing or unreadable file, a webcam index with no camera behind it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nervp.errors import NervpError


@dataclass(frozen=True)
class SourceInfo:
    """What a source delivers: (height, width) uint8 sRGB RGB frames at `fps` frames a second.
    kind: "video" (a file: `paced` is whether it plays at its own rate) or "webcam"."""

    name: str
    kind: str
    width: int
    height: int
    fps: float


class VideoSource:
    """Frames of a video file, decoded one at a time (PyAV); `loop` plays it again at the end."""

    def __init__(self, path: Path, loop: bool = False) -> None:
        import av

        self.path, self.loop = Path(path), loop
        if not self.path.is_file():
            raise NervpError(f"--source {path} does not exist: give a video file or webcam[:N]")
        try:
            with av.open(str(self.path)) as c:
                stream = c.streams.video[0]
                fps = float(stream.average_rate or stream.base_rate or 25)
                first = next(c.decode(stream)).to_ndarray(format="rgb24")
        except (av.error.FFmpegError, IndexError, OSError, ValueError, StopIteration) as e:
            raise NervpError(f"--source {path}: cannot read the video ({e.__class__.__name__}: {e}); give a "
                             "playable video file (MP4, MOV, MKV, WebM)") from e
        fps = fps if np.isfinite(fps) and fps > 0 else 25.0
        self.info = SourceInfo(str(self.path), "video", first.shape[1], first.shape[0], fps)

    def frames(self) -> Iterator[np.ndarray]:
        import av

        while True:
            try:
                with av.open(str(self.path)) as c:
                    for f in c.decode(c.streams.video[0]):
                        yield f.to_ndarray(format="rgb24")
            except (av.error.FFmpegError, OSError) as e:
                raise NervpError(f"--source {self.path}: decoding failed ({e})") from e
            if not self.loop:
                return

    def close(self) -> None:
        pass


class WebcamSource:
    """Frames of a camera through OpenCV (`webcam` is camera 0, `webcam:N` camera N)."""

    def __init__(self, index: int) -> None:
        import cv2

        self.index = index
        self.cap = cv2.VideoCapture(index)
        ok, first = self.cap.read() if self.cap.isOpened() else (False, None)
        if not ok or first is None:
            self.cap.release()
            raise NervpError(f"--source webcam:{index}: no camera answers at index {index} (/dev/video{index}); "
                             "plug one in, choose another index, or give a video file")
        fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 30.0)
        self._first = first
        self.info = SourceInfo(f"webcam:{index}", "webcam", first.shape[1], first.shape[0],
                               fps if 1.0 <= fps <= 240.0 else 30.0)

    def frames(self) -> Iterator[np.ndarray]:
        import cv2

        first, self._first = self._first, None
        if first is not None:
            yield cv2.cvtColor(first, cv2.COLOR_BGR2RGB)
        while True:
            ok, img = self.cap.read()
            if not ok:
                return
            yield cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self.cap.release()


def open_source(spec: str, loop: bool = False) -> VideoSource | WebcamSource:
    """A video file path, `webcam` or `webcam:N`."""
    m = re.fullmatch(r"webcam(?::(\d+))?", str(spec).strip())
    if m:
        return WebcamSource(int(m.group(1) or 0))
    return VideoSource(Path(spec), loop)


__all__ = ["SourceInfo", "VideoSource", "WebcamSource", "open_source"]
