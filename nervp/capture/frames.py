"""A camera's recording as it lands on disk: a folder of PNG/TIFF (8, 12 or 16 bit) or DNG
images, or a video of single-channel Bayer frames, read one image at a time.

Every image is a Bayer mosaic of digital numbers (DN). The raw kind stores 8-bit DN, so a
frame of `bits` significant bits is requantised exactly as `round(v * 255 / (2**bits - 1))`
(integer arithmetic): an 8-bit value d written as d * 257 in a 16-bit file (the usual 8 -> 16
bit expansion) comes back as d, bit for bit. Black and white levels scale the same way.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from nervp.errors import ConfigError

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".dng")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".nut")


def _natural(name: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


@dataclass(frozen=True)
class FrameSource:
    """The frames of one recording.

    Attributes:
        path: the folder or video file.
        files: image files in recording order (natural sort of the names); empty for a video.
        n_frames: number of frames.
        height, width: frame size in pixels.
        dtype: numpy dtype of the stored values (uint8 or uint16).
        bits: significant bits of each value (8 for uint8; for uint16 16 unless told, DNG: from
            its white level).
        bayer: the DNG's colour-filter pattern ("RGGB", ...), None when the files do not say.
        black_level, white_level: the DNG's own levels in stored DN, None when the files do not say.
    """

    path: Path
    files: tuple[Path, ...]
    n_frames: int
    height: int
    width: int
    dtype: np.dtype
    bits: int
    bayer: str | None = None
    black_level: float | None = None
    white_level: float | None = None

    @property
    def is_video(self) -> bool:
        return not self.files

    def name(self, i: int) -> str:
        """How frame i is named in messages: its file, or the video and frame number."""
        return str(self.files[i]) if self.files else f"{self.path} frame {i}"

    def to8(self, value: float) -> float:
        """A level in stored DN -> 8-bit DN (the same scale as `read8`)."""
        return float(value) * 255.0 / float(2 ** self.bits - 1)

    def read(self, i: int) -> np.ndarray:
        """(H, W) stored DN of frame i (folders only; videos are read in order with `frames`)."""
        f = self.files[i]
        img = _read_image(f)
        if img.shape != (self.height, self.width):
            raise ConfigError(f"{f}: frame is {img.shape[1]}x{img.shape[0]} but the first frame "
                              f"({self.files[0].name}) is {self.width}x{self.height}; every frame must be the same size")
        if img.dtype != self.dtype:
            raise ConfigError(f"{f}: frame is {img.dtype.itemsize * 8}-bit but the first frame ({self.files[0].name}) is "
                              f"{self.dtype.itemsize * 8}-bit; every frame must have the same bit depth")
        return img

    def frames(self) -> Iterator[np.ndarray]:
        """Every frame's stored DN (H, W), in order, one at a time."""
        if self.files:
            for i in range(self.n_frames):
                yield self.read(i)
            return
        import av

        with av.open(str(self.path)) as box:
            for k, fr in enumerate(box.decode(video=0)):
                img = fr.to_ndarray(format="gray16le" if self.dtype == np.uint16 else "gray")
                if img.shape != (self.height, self.width):
                    raise ConfigError(f"{self.path}: frame {k} is {img.shape[1]}x{img.shape[0]}, the first is "
                                      f"{self.width}x{self.height}")
                yield img

    def check_range(self, img: np.ndarray, index: int) -> None:
        """ConfigError naming frame `index` when a value exceeds `bits` bits."""
        top = 2 ** self.bits - 1
        if img.dtype != np.uint8 and top < 65535:
            hi = int(img.max())
            if hi > top:
                raise ConfigError(f"{self.name(index)}: value {hi} exceeds the {self.bits}-bit maximum {top}: pass "
                                  "--bits with the camera's bit depth")

    def requantise(self, img: np.ndarray, index: int) -> np.ndarray:
        """Stored DN -> (H, W) uint8 8-bit DN, exact for 8-bit data; ConfigError naming the
        frame when a value exceeds `bits` bits."""
        if self.bits == 8 and img.dtype == np.uint8:
            return img
        self.check_range(img, index)
        return _lut(self.bits)[img]


@functools.lru_cache(maxsize=4)
def _lut(bits: int) -> np.ndarray:
    """(2**16,) uint8: value v of `bits` bits -> round(v * 255 / (2**bits - 1)) (one gather per
    image instead of integer arithmetic; entries past the top are never read: `check_range`)."""
    top = 2 ** bits - 1
    v = np.minimum(np.arange(65536, dtype=np.uint64), top)
    return ((v * 255 + top // 2) // top).astype(np.uint8)


def _read_image(f: Path) -> np.ndarray:
    suf = f.suffix.lower()
    try:
        if suf == ".dng":
            import rawpy

            with rawpy.imread(str(f)) as r:
                img = np.array(r.raw_image_visible, copy=True)
        elif suf in (".tif", ".tiff"):
            import tifffile

            img = tifffile.imread(f)
        else:
            img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
            if img is None:
                raise ValueError("not a readable image")
    except ConfigError:
        raise
    except Exception as e:  # each decoder raises its own types; all mean "this file is not a frame"
        raise ConfigError(f"{f}: cannot be read as a {suf[1:].upper()} frame ({e.__class__.__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else 'no detail'}); replace or remove it") from None
    img = np.asarray(img)
    if img.ndim != 2:
        raise ConfigError(f"{f}: frame has shape {img.shape}; a Bayer frame is one channel (H, W): export the "
                          "camera's raw mosaic, not a developed colour image")
    if img.dtype not in (np.uint8, np.uint16):
        raise ConfigError(f"{f}: frame holds {img.dtype} values; frames must be 8- to 16-bit unsigned integers")
    return img


def open_frames(path: Path | str, bits: int | None = None) -> FrameSource:
    """The frames of a folder of PNG/TIFF/DNG images or of a video file; reads the first frame
    (and a DNG's metadata). ConfigError naming the path for a missing folder, a folder with no
    frames, mixed image types, or an unreadable first frame."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} does not exist: give a folder of PNG/TIFF/DNG frames or a video file")
    if bits is not None and not 8 <= bits <= 16:
        raise ConfigError(f"--bits must be 8..16, got {bits}")
    if path.is_file():
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            raise ConfigError(f"{path}: not a folder of frames or a video ({', '.join(VIDEO_SUFFIXES)})")
        return _open_video(path, bits)
    files = sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                   key=lambda p: _natural(p.name))
    if not files:
        raise ConfigError(f"{path}: no frames ({', '.join(IMAGE_SUFFIXES)} files) in the folder")
    kinds = {".tiff" if p.suffix.lower() == ".tif" else p.suffix.lower() for p in files}
    if len(kinds) > 1:
        raise ConfigError(f"{path}: mixes {', '.join(sorted(kinds))} files; one recording is one file type")
    first = _read_image(files[0])
    bayer = black = white = None
    if files[0].suffix.lower() == ".dng":
        bayer, black, white = _dng_sensor(files[0])
    if bits is None:
        bits = 8 if first.dtype == np.uint8 else (int(white).bit_length() if white else 16)
    if first.dtype == np.uint8 and bits != 8:
        raise ConfigError(f"{files[0]}: 8-bit frames but --bits {bits}")
    return FrameSource(path, tuple(files), len(files), first.shape[0], first.shape[1], first.dtype, bits,
                       bayer, black, white)


def _dng_sensor(f: Path) -> tuple[str | None, float | None, float | None]:
    import rawpy

    with rawpy.imread(str(f)) as r:
        desc = r.color_desc.decode()
        pat = np.asarray(r.raw_pattern)
        bayer = "".join(desc[int(k)] for k in pat.ravel()[:4]).replace("G2", "G") if pat.shape == (2, 2) else None
        bayer = bayer if bayer and set(bayer) <= set("RGB") else None
        blacks = list(r.black_level_per_channel)
        return bayer, float(np.mean(blacks)), float(r.white_level)


def _open_video(path: Path, bits: int | None) -> FrameSource:
    import av

    try:
        with av.open(str(path)) as box:
            stream = box.streams.video[0]
            fr = next(box.decode(video=0))
            deep = "16" in (stream.codec_context.pix_fmt or "") or "12" in (stream.codec_context.pix_fmt or "")
            n = stream.frames or 0
            img = fr.to_ndarray(format="gray16le" if deep else "gray")
    except (av.error.FFmpegError, StopIteration, IndexError) as e:
        raise ConfigError(f"{path}: cannot be decoded as a video ({e.__class__.__name__}); give a folder of frames "
                          "or a lossless single-channel video") from None
    if not n:
        with av.open(str(path)) as box:
            n = sum(1 for _ in box.decode(video=0))
    b = bits or (16 if deep else 8)
    return FrameSource(path, (), int(n), img.shape[0], img.shape[1], img.dtype, b)
