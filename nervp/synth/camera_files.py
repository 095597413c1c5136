"""A raw stream written out as a lab's camera and LED controller would: one image file per
frame (16-bit TIFF, PNG or DNG, or 8-bit), the controller's schedule CSV (every slot it fired, with
its exposure gain) and the camera's timestamp CSV (only the frames it delivered). Frames can be
dropped or delivered twice, as real cameras do. `nervp ingest` reads these back.

16-bit files hold DN * 257 (the usual 8 -> 16 bit expansion), so the round trip through
`nervp ingest` is exact; the black and white levels to give it are `levels`' values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from nervp.errors import ConfigError
from nervp.lightstage.dome import dome_file_json
from nervp.lightstage.schedule import TRACKING
from nervp.store.raw import RawStream


@dataclass(frozen=True)
class CameraFiles:
    """What `write_camera_files` wrote.

    Attributes:
        frames: the folder of images. schedule: the controller's CSV. timestamps: the camera's CSV.
        dome: the stage's dome file (JSON).
        black_level, white_level: the levels in the files' DN (pass to `nervp ingest`).
        dropped: slots not written. duplicated: slots written twice.
    """

    frames: Path
    schedule: Path
    timestamps: Path
    dome: Path
    black_level: int
    white_level: int
    dropped: tuple[int, ...]
    duplicated: tuple[int, ...]


def write_camera_files(raw: RawStream, out: Path | str, fmt: str = "tiff", bits: int = 16,
                       drop: Sequence[int] = (), duplicate: Sequence[int] = ()) -> CameraFiles:
    """Write every image of `raw` except the `drop` slots into `out`/frames as numbered files,
    `out`/schedule.csv (led,time,gain for every slot) and `out`/timestamps.csv (file,time for
    every written frame), `out`/dome.json; the `duplicate` slots are written twice with the same timestamp."""
    if fmt not in ("tiff", "png", "dng"):
        raise ConfigError(f"camera file format must be tiff, png or dng, got {fmt!r}")
    if fmt == "dng" and bits != 16:
        raise ConfigError("DNG camera files are written 16-bit")
    if bits not in (8, 16):
        raise ConfigError(f"camera files are 8 or 16 bit, got {bits}")
    out = Path(out)
    frames = out / "frames"
    frames.mkdir(parents=True, exist_ok=True)
    pattern, time, gain = raw.small("pattern"), raw.small("time"), raw.small("gain")
    scale = 257 if bits == 16 else 1
    dropped, twice = set(int(i) for i in drop), set(int(i) for i in duplicate)
    rows, k = [], 0
    for i in range(raw.n_images):
        if i in dropped:
            continue
        img = raw.image(i)
        img = img.astype(np.uint16) * np.uint16(scale) if bits == 16 else img
        for _ in range(2 if i in twice else 1):
            name = f"frame_{k:06d}.{'tif' if fmt == 'tiff' else fmt}"
            _write(frames / name, img, raw.bayer, int(raw.manifest["black_level"]) * scale,
                   int(raw.manifest["white_level"]) * scale)
            rows.append(f"{name},{float(time[i])!r}")
            k += 1
    (out / "timestamps.csv").write_text("file,time\n" + "\n".join(rows) + "\n")
    lines = [f"{'tracking' if p == TRACKING else int(p)},{float(t)!r},{float(g)!r}"
             for p, t, g in zip(pattern, time, gain, strict=True)]
    (out / "schedule.csv").write_text("led,time,gain\n" + "\n".join(lines) + "\n")
    (out / "dome.json").write_text(json.dumps(dome_file_json(raw.dome)))
    m = raw.manifest
    return CameraFiles(frames, out / "schedule.csv", out / "timestamps.csv", out / "dome.json", int(m["black_level"]) * scale,
                       int(m["white_level"]) * scale, tuple(sorted(dropped)), tuple(sorted(twice)))


def _dng_tags(bayer: str, black: int, white: int) -> list[tuple]:
    """The DNG tags a raw reader (LibRaw) needs for a one-channel CFA image."""
    cfa = tuple("RGB".index(c) for c in bayer)
    return [(50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
            (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
            (50708, "s", 0, "nervp virtual camera", True),  # UniqueCameraModel
            (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
            (33422, "B", 4, cfa, True),  # CFAPattern
            (50710, "B", 3, (0, 1, 2), True),  # CFAPlaneColor
            (50711, "H", 1, 1, True),  # CFALayout: rectangular
            (50714, "I", 1, black, True),  # BlackLevel
            (50717, "I", 1, white, True),  # WhiteLevel
            (50721, "2i", 9, (1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1), True)]  # ColorMatrix1


def _write(path: Path, img: np.ndarray, bayer: str, black: int, white: int) -> None:
    if path.suffix == ".dng":
        import tifffile

        tifffile.imwrite(path, img, photometric=32803, extratags=_dng_tags(bayer, black, white), subfiletype=0)
    elif path.suffix == ".tif":
        import tifffile

        tifffile.imwrite(path, img)
    elif not cv2.imwrite(str(path), img):
        raise ConfigError(f"{path}: could not be written")
