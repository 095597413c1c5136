"""Raw high-speed camera streams: 8-bit Bayer images, the lighting schedule, and (for the
virtual light stage) ground-truth OLAT sets at each set's middle tracking instant.

Layout (docs/FORMAT.md): arrays `images` (N, H, W) uint8, one chunk per image; `pattern`
(N,) int16 (LED index, or -1 for an all-on tracking image); `time` (N,) float64 seconds;
`gain` (N,) float32, the exposure scale of each image (DN = black + gain * radiance *
(white - black) before noise); `sets_middle` (S,) and `sets_olat` (S, L) image indices of
each OLAT set; optional group `truth/` holding an OLAT dataset of S frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nervp.lightstage.dome import Dome
from nervp.lightstage.schedule import TRACKING
from nervp.store.olat import OLATDataset, olat_from_group
from nervp.store.zstore import (
    DatasetError,
    StoredImages,
    check_arrays,
    open_group,
    read_chunk,
    read_manifest,
)

KIND = "raw"


@dataclass(frozen=True)
class RawStream(StoredImages):
    """A validated raw stream. Open with `load_raw`."""

    @property
    def n_images(self) -> int:
        return int(self.manifest["n_images"])

    @property
    def bayer(self) -> str:
        return str(self.manifest["bayer"])

    @property
    def dome(self) -> Dome:
        return Dome.from_json(self.manifest["dome"])

    def small(self, name: str) -> np.ndarray:
        return read_chunk(self.group[name], slice(None), self.path, name)

    def image(self, i: int) -> np.ndarray:
        """(H, W) uint8 Bayer image i."""
        if not 0 <= i < self.n_images:
            raise IndexError(f"image {i} out of range 0..{self.n_images - 1}")
        return read_chunk(self.group["images"], i, self.path, "images")

    def truth(self) -> OLATDataset | None:
        """Ground-truth OLAT sets at the set middles, when the stream is simulated."""
        if "truth" not in self.manifest:
            return None
        return olat_from_group(self.path / "truth", self.manifest["truth"], self.group["truth"])


def load_raw(path: Path | str) -> RawStream:
    """Open and validate a raw stream; raises DatasetError naming any problem."""
    path = Path(path)
    m = read_manifest(path, KIND)
    group = open_group(path)
    N, H, W = int(m["n_images"]), int(m["height"]), int(m["width"])
    S, L = int(m["n_sets"]), int(m["n_lights"])
    check_arrays(group, path, {"images": (N, H, W), "pattern": (N,), "time": (N,), "gain": (N,),
                               "sets_middle": (S,), "sets_olat": (S, L)})
    raw = RawStream(path, m, group)
    pattern = raw.small("pattern")
    bad = np.nonzero((pattern < TRACKING) | (pattern >= L))[0]
    if bad.size:
        raise DatasetError(f"{path}: image {bad[0]} has pattern {pattern[bad[0]]}, not an LED of 0..{L - 1} or -1")
    if "truth" in m:
        raw.truth()
    return raw
