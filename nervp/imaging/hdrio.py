"""High-dynamic-range image files, in one place: Radiance .hdr (OpenCV) and OpenEXR (OpenEXR).

Every array here is linear RGB (H, W, 3), channels in R, G, B order (OpenCV's BGR is
swapped on the way in and out), scene-referred, any positive scale. Callers (environment
maps in `nervp.relight.envmap`, clip frames in `nervp.composite.output`) turn `HdrFileError`
into their own errors where they need to.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nervp.errors import NervpError


class HdrFileError(NervpError, ValueError):
    """An HDR file that cannot be read or written (the message names the path)."""


def read_hdr(path: Path) -> np.ndarray:
    """Radiance .hdr -> (H, W, 3) float32 linear RGB."""
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR)
    if bgr is None:
        raise HdrFileError(f"{path}: not a readable Radiance .hdr file")
    return bgr[..., ::-1].astype(np.float32)


def read_exr(path: Path) -> np.ndarray:
    """OpenEXR (R, G, B channels, any layer prefix; or Y only, read as grey) -> (H, W, 3)
    float32 linear RGB."""
    import OpenEXR

    try:
        with OpenEXR.File(str(path), separate_channels=True) as f:
            ch = f.channels()
            names = {k.split(".")[-1]: k for k in ch}
            if not all(c in names for c in "RGB"):
                if "Y" in names:  # luminance-only map: grey
                    y = np.asarray(ch[names["Y"]].pixels, dtype=np.float32)
                    return np.repeat(y[..., None], 3, axis=-1)
                raise HdrFileError(f"{path}: EXR has channels {sorted(ch)}, need R, G and B")
            return np.stack([np.asarray(ch[names[c]].pixels, dtype=np.float32) for c in "RGB"], -1)
    except HdrFileError:
        raise
    except Exception as e:  # OpenEXR raises plain RuntimeError/OSError for damaged files
        raise HdrFileError(f"{path}: not a readable OpenEXR file ({e})") from e


def write_hdr(path: Path, rgb: np.ndarray) -> None:
    """Write linear RGB (H, W, 3) float32 as a Radiance .hdr file."""
    import cv2

    if not cv2.imwrite(str(path), rgb[..., ::-1].copy()):
        raise HdrFileError(f"cannot write {path}")


def write_exr(path: Path, rgb: np.ndarray, alpha: np.ndarray | None = None, half: bool = True) -> None:
    """Write linear RGB (H, W, 3) (and alpha (H, W), channel A) as a ZIP-compressed scanline
    EXR, half-float (or float32 with `half=False`)."""
    import OpenEXR

    dt = np.float16 if half else np.float32
    ch = {c: np.ascontiguousarray(rgb[..., k].astype(dt)) for k, c in enumerate("RGB")}
    if alpha is not None:
        ch["A"] = np.ascontiguousarray(alpha.astype(dt))
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    try:
        with OpenEXR.File(header, ch) as f:
            f.write(str(path))
    except (OSError, RuntimeError) as e:
        raise HdrFileError(f"cannot write {path}: {e}") from e


__all__ = ["HdrFileError", "read_exr", "read_hdr", "write_exr", "write_hdr"]
