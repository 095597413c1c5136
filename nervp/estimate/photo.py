"""Reading the photograph or video whose lighting is estimated, with one clear error per
kind of bad input (nothing is written before these checks pass)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nervp.errors import NervpError

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")
EXR_SUFFIXES = (".exr", ".hdr")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
MIN_SIDE = 64
"""Smallest photo side (px) in which a face can be found and its shading read."""


@dataclass(frozen=True)
class Plate:
    """A photo (T = 1) or video whose lighting is estimated.

    Attributes:
        linear: (T, H, W, 3) float32 linear Rec. 709 (8-bit inputs decoded with the sRGB curve).
        display: (T, H, W, 3) uint8 sRGB frames for the face tracker and pictures.
        clip: linear level at which the input saturates (inf for EXR/HDR).
        kind: "photo" or "video". fps: frame rate (None for a photo). source: the path.
    """

    linear: np.ndarray
    display: np.ndarray
    clip: float
    kind: str
    fps: float | None
    source: str

    @property
    def n_frames(self) -> int:
        return int(self.linear.shape[0])

    @property
    def height(self) -> int:
        return int(self.linear.shape[1])

    @property
    def width(self) -> int:
        return int(self.linear.shape[2])


def _decode8(rgb8: np.ndarray) -> np.ndarray:
    from nervp.colour import srgb_decode

    lut = srgb_decode(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
    return lut[rgb8]


def _check_size(path: Path, h: int, w: int) -> None:
    if min(h, w) < MIN_SIDE:
        raise NervpError(f"{path}: {w}x{h} pixels is too small to read a face's lighting from; "
                         f"give a photo at least {MIN_SIDE} pixels on each side")


def _photo(path: Path) -> Plate:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise NervpError(f"{path}: cannot decode the image (corrupt or not a {path.suffix[1:].upper()} file); "
                         "give a readable PNG, JPEG or EXR")
    if img.ndim == 2 or img.shape[2] < 3:
        raise NervpError(f"{path}: a grayscale image has no colour to read the lighting's colour from; "
                         "give an RGB photo")
    if img.dtype != np.uint8:
        raise NervpError(f"{path}: {img.dtype} ({8 * img.dtype.itemsize}-bit) images are not read as photos; "
                         "give an 8-bit sRGB PNG/JPEG or a linear EXR")
    _check_size(path, *img.shape[:2])
    rgb = np.ascontiguousarray(img[..., 2::-1])  # BGR(A) -> RGB
    if np.ptp(rgb.astype(np.int16), axis=-1).max() <= 2:
        raise NervpError(f"{path}: the image is grayscale (R = G = B everywhere), so it has no colour to read "
                         "the lighting's colour from; give an RGB photo")
    return Plate(_decode8(rgb)[None], rgb[None], float(_decode8(np.array([250], np.uint8))[0]),
                 "photo", None, str(path))


def _hdr(path: Path) -> Plate:
    from nervp.colour import percentile_exposure, to_srgb8
    from nervp.imaging.hdrio import HdrFileError, read_exr, read_hdr

    try:
        rgb = (read_exr if path.suffix.lower() == ".exr" else read_hdr)(path)
    except HdrFileError as e:
        raise NervpError(f"{path}: cannot read it ({e}); give a readable RGB EXR") from e
    rgb = np.nan_to_num(np.asarray(rgb, np.float32), nan=0.0, posinf=0.0, neginf=0.0).clip(0, None)
    _check_size(path, *rgb.shape[:2])
    return Plate(rgb[None], to_srgb8(rgb, percentile_exposure(rgb))[None], float("inf"), "photo", None, str(path))


def _video(path: Path, max_frames: int) -> Plate:
    from nervp.viz.video import read_video

    frames, fps = read_video(path)
    if frames.shape[0] < 2:
        raise NervpError(f"{path}: the video has only one frame; give it as a photo (PNG/JPEG) instead")
    _check_size(path, *frames.shape[1:3])
    if frames.shape[0] > max_frames:
        raise NervpError(f"{path}: {frames.shape[0]} frames is more than --max-frames {max_frames}; "
                         "cut the clip or raise --max-frames")
    fps = float(fps) if np.isfinite(fps) and fps > 0 else 25.0
    return Plate(_decode8(frames), frames, float(_decode8(np.array([250], np.uint8))[0]), "video", fps, str(path))


def load_plate(path: Path | str, max_frames: int = 2000) -> Plate:
    """The photo or video at `path`; NervpError (one line naming the file and the fix) for a
    missing, corrupt, grayscale, 16-bit, too small or one-frame input."""
    path = Path(path)
    if not path.is_file():
        raise NervpError(f"{path}: no such file; give a photo (PNG, JPEG, EXR) or a video with a face in it")
    if path.stat().st_size == 0:
        raise NervpError(f"{path}: the file is empty")
    suffix = path.suffix.lower()
    if suffix in PHOTO_SUFFIXES:
        return _photo(path)
    if suffix in EXR_SUFFIXES:
        return _hdr(path)
    if suffix in VIDEO_SUFFIXES:
        return _video(path, max_frames)
    raise NervpError(f"{path}: unsupported file type {path.suffix or '(none)'}; give a photo "
                     f"({', '.join(PHOTO_SUFFIXES + EXR_SUFFIXES)}) or a video ({', '.join(VIDEO_SUFFIXES)})")
