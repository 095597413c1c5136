"""Settings of capture processing: what decides the output (`CaptureConfig`) and how the
work is run (`ExecConfig`, which never changes a byte of the output)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from nervp.errors import ConfigError
from nervp.store.zstore import Compression

FlowPreset = Literal["ultrafast", "fast", "medium"]


@dataclass(frozen=True)
class CaptureConfig:
    """How a raw stream becomes aligned OLAT sets (paper section 6, Fig. 14)."""

    set_stride: int | None = None
    """Centre an output set on every k-th tracking frame (1 = the tracking-frame rate);
    None = the sets the stream's schedule lists."""
    fps: float | None = None
    """Target output rate in sets per second, up to the tracking-frame rate; picks the nearest
    set stride (give this or set_stride, not both)."""
    align: bool = True
    """Warp every OLAT image to its set's middle instant (False = naive unaligned stacking)."""
    flow_preset: FlowPreset = "medium"
    """OpenCV DIS optical-flow preset for the flow between consecutive tracking frames."""
    bayer: str | None = None
    """Colour-filter pattern (RGGB, BGGR, GRBG, GBRG); None = the stream manifest's."""
    calibrate: bool = False
    """Equalise LED intensity and colour: divide each LED's images by its RGB intensity relative
    to the dome mean (from --calibration-file, else the manifest's dome.intensity_rgb)."""
    calibration_file: Path | None = None
    """JSON list or .npy array of per-LED linear RGB intensities, (L, 3); implies --calibrate."""
    dome: Path | None = None
    """The stage's measured dome file (JSON/CSV, docs/FORMAT.md) to record in the output instead
    of the stream's dome (same LED count); with --calibrate its rgb are the LED intensities."""
    compression: Compression = "fast"
    """Chunk compression of the output sets: fast (Blosc lz4, byte shuffle), small (Blosc zstd
    level 3, bit shuffle) or none (checksum only). Camera noise fills the low bits of float16
    radiance, so zstd makes an OLAT array only 6-28 % smaller and encodes it 3-13x slower
    (docs/CAPTURE.md, "Chunk compression")."""
    confidence_px: float = 0.5
    """Forward-backward flow disagreement (pixels, root-sum-square along the chain) at which
    confidence falls to exp(-1/2) = 0.61."""

    def validate(self) -> None:
        if self.set_stride is not None and self.set_stride < 1:
            raise ConfigError(f"--set-stride must be >= 1, got {self.set_stride}")
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            raise ConfigError(f"--fps must be positive, got {self.fps}")
        if self.fps is not None and self.set_stride is not None:
            raise ConfigError("give --fps or --set-stride, not both")
        if not (math.isfinite(self.confidence_px) and self.confidence_px > 0):
            raise ConfigError(f"--confidence-px must be positive, got {self.confidence_px}")
        if self.calibration_file is not None and not Path(self.calibration_file).is_file():
            raise ConfigError(f"--calibration-file {self.calibration_file} does not exist")
        if self.dome is not None and not Path(self.dome).is_file():
            raise ConfigError(f"--dome {self.dome} does not exist")

    def to_json(self) -> dict:
        d = asdict(self)
        d["calibration_file"] = None if self.calibration_file is None else str(self.calibration_file)
        d["dome"] = None if self.dome is None else str(self.dome)
        return json.loads(json.dumps(d))


@dataclass(frozen=True)
class ExecConfig:
    """Where and how the map over sets runs; the output is byte-identical for every choice."""

    scheduler: str | None = None
    """Dask distributed scheduler address (e.g. tcp://10.0.0.5:8786); its workers must see the
    raw stream and the output directory at the same paths. None = local processes."""
    workers: int | None = None
    """Local worker processes (None = one per CPU core; 1 = in this process, no pool)."""
    threads: int = 1
    """Threads each task may use (torch, OpenCV); 1 = one core per task."""

    def validate(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        if self.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {self.threads}")
