"""Face tracking: MediaPipe FaceMesh (refined, 478 landmarks) on every frame of a clip.

Per frame the face mesh runs on a square crop around the previous frame's face (tracking);
where that finds nothing, MediaPipe FaceDetection (full-range model) looks for the face in
the whole frame and the mesh runs on a crop around the detection (re-detection); as a last
resort the mesh runs on the whole frame. Frames without a face are flagged, short gaps are
interpolated linearly, and the landmarks are smoothed in time (`smoothing.py`).

Frames come from a video file (sRGB) or an OLAT dataset's full-lit frames (linear radiance,
tone-mapped to sRGB with one exposure for the whole clip, as a camera would).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nervp.errors import ConfigError, NervpError
from nervp.parse.reports import TrackSummary
from nervp.parse.smoothing import SmoothConfig, fill_gaps, smooth_track
from nervp.render.camera import Camera
from nervp.structures import face as codes  # per-frame tracking codes and landmark count
from nervp.structures.face import FaceTrack

LEFT_IRIS, RIGHT_IRIS = 473, 468


@dataclass(frozen=True)
class TrackConfig:
    """Settings of the face tracker."""

    smoothing: SmoothConfig = field(default_factory=SmoothConfig)
    max_gap_s: float = 0.25
    """Gaps without a face up to this long (seconds) are interpolated; longer ones stay flagged."""
    crop_scale: float = 1.8
    """Side of the tracking crop over the side of the previous frame's landmark box."""
    min_confidence: float = 0.5
    """Minimum detection confidence of the face detector and the face mesh."""

    def validate(self) -> None:
        self.smoothing.validate()
        if self.max_gap_s < 0:
            raise ConfigError(f"--max-gap-s must be >= 0, got {self.max_gap_s}")
        if not 1.0 <= self.crop_scale <= 4.0:
            raise ConfigError(f"--crop-scale must be in 1..4, got {self.crop_scale}")
        if not 0.0 < self.min_confidence < 1.0:
            raise ConfigError(f"--min-confidence must be in (0, 1), got {self.min_confidence}")


@dataclass(frozen=True)
class Frames:
    """A clip ready for the tracker.

    Attributes:
        images: (T, H, W, 3) uint8 sRGB-encoded frames.
        fps: frames per second.
        source: the path they came from.
        kind: "video" or "olat".
        camera: the dataset's camera (batch 1) for OLAT datasets that record one, else None.
        exposure: the scale applied to linear radiance before sRGB encoding (OLAT), else None.
    """

    images: np.ndarray
    fps: float
    source: str
    kind: str
    camera: Camera | None = None
    exposure: float | None = None

    @property
    def n_frames(self) -> int:
        return int(self.images.shape[0])

    @property
    def height(self) -> int:
        return int(self.images.shape[1])

    @property
    def width(self) -> int:
        return int(self.images.shape[2])


def camera_from_manifest(cam: dict, width: int, height: int) -> Camera:
    """The camera recorded in a dataset manifest (K, R, t) as a batch-1 `Camera`."""
    import torch

    f32 = torch.float32
    return Camera(torch.tensor([cam["R"]], dtype=f32), torch.tensor([cam["t"]], dtype=f32),
                  torch.tensor([cam["K"]], dtype=f32), width, height)


def load_frames(path: Path | str) -> Frames:
    """Frames of a video file or of an OLAT dataset directory (its full-lit images)."""
    path = Path(path)
    if not path.exists():
        raise NervpError(f"{path} does not exist: give a video file or an OLAT dataset directory")
    if path.is_dir():
        return _olat_frames(path)
    if path.stat().st_size == 0:
        raise NervpError(f"cannot read video {path}: the file is empty")
    from nervp.viz.video import read_video  # PyAV only where a video is read

    images, fps = read_video(path)
    if not (np.isfinite(fps) and fps > 0):
        fps = 25.0
    return Frames(images, float(fps), str(path), "video")


def _olat_frames(path: Path) -> Frames:
    from nervp.colour import percentile_exposure, to_srgb8
    from nervp.store.olat import load_olat

    ds = load_olat(path)
    full = ds.read("full_lit").astype(np.float32)
    pick = np.unique(np.linspace(0, ds.n_frames - 1, min(16, ds.n_frames)).round().astype(int))
    exposure = percentile_exposure(full[pick], target=0.85)
    images = np.stack([to_srgb8(f, exposure) for f in full])
    cam = ds.manifest.get("camera")
    camera = camera_from_manifest(cam, ds.width, ds.height) if cam else None
    return Frames(images, float(ds.manifest.get("fps", 25.0)), str(path), "olat", camera, exposure)


# --------------------------------------------------------------------------- MediaPipe


@contextlib.contextmanager
def _quiet_stderr():
    """Silence the C++ logging MediaPipe prints when its graphs start (file descriptor 2)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _square(cx: float, cy: float, side: float) -> tuple[int, int, int]:
    side = max(int(round(side)), 16)
    return int(round(cx - side / 2)), int(round(cy - side / 2)), side


def _crop(img: np.ndarray, box: tuple[int, int, int]) -> np.ndarray:
    """The square `box` (x0, y0, side) of `img`, zero-padded where it leaves the image."""
    x0, y0, s = box
    H, W = img.shape[:2]
    out = np.zeros((s, s, 3), np.uint8)
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + s, W), min(y0 + s, H)
    if xb > xa and yb > ya:
        out[ya - y0:yb - y0, xa - x0:xb - x0] = img[ya:yb, xa:xb]
    return out


class FaceTracker:
    """MediaPipe FaceMesh + FaceDetection with the crop logic of the module docstring.

    Use as a context manager; `__call__(image)` returns ((478, 2) float32 pixels or None,
    method code).

    `streaming=True` is MediaPipe's video mode for live use (`nervp live`): the face mesh runs
    on whole frames in order and tracks the face itself, running its detector only when the
    face is lost (method TRACKED or LOST); cheaper per frame, and a frame's result depends on
    the frames before it.
    """

    def __init__(self, cfg: TrackConfig, streaming: bool = False):
        self.cfg = cfg
        self.streaming = streaming
        self.box: tuple[int, int, int] | None = None

    def __enter__(self) -> FaceTracker:
        import mediapipe as mp

        # protobuf's deprecation notice on MediaPipe's result messages says nothing to a user
        warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype", category=UserWarning)

        with _quiet_stderr():
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=not self.streaming, refine_landmarks=True, max_num_faces=1,
                min_detection_confidence=self.cfg.min_confidence,
                **({"min_tracking_confidence": self.cfg.min_confidence} if self.streaming else {}))
            self._det = mp.solutions.face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=self.cfg.min_confidence)
            with warnings.catch_warnings():  # protobuf deprecation noise on the first call
                warnings.simplefilter("ignore")
                blank = np.zeros((64, 64, 3), np.uint8)
                if not self.streaming:  # video mode: the first frame a caller gives starts the stream
                    self._mesh.process(blank)
                self._det.process(blank)
        return self

    def __exit__(self, *exc) -> None:
        self._mesh.close()
        self._det.close()

    def _mesh_on(self, img: np.ndarray, box: tuple[int, int, int] | None) -> np.ndarray | None:
        sub = img if box is None else _crop(img, box)
        res = self._mesh.process(np.ascontiguousarray(sub))
        if not res.multi_face_landmarks:
            return None
        pts = res.multi_face_landmarks[0].landmark
        if len(pts) != codes.N_LANDMARKS:
            raise NervpError(f"MediaPipe returned {len(pts)} landmarks, expected {codes.N_LANDMARKS} "
                             "(refine_landmarks): check the mediapipe version (0.10.14)")
        xy = np.array([(p.x, p.y) for p in pts], np.float64)
        if box is None:
            xy *= (img.shape[1], img.shape[0])
        else:
            xy = xy * box[2] + (box[0], box[1])
        return xy.astype(np.float32)

    def _detect(self, img: np.ndarray) -> tuple[int, int, int] | None:
        res = self._det.process(np.ascontiguousarray(img))
        if not res.detections:
            return None
        best = max(res.detections, key=lambda d: d.score[0])
        b = best.location_data.relative_bounding_box
        H, W = img.shape[:2]
        w, h = b.width * W, b.height * H
        # the detector's box spans brows to mouth; the mesh wants the whole head with margin
        return _square((b.xmin + b.width / 2) * W, (b.ymin + b.height / 2) * H, 2.0 * max(w, h))

    def __call__(self, img: np.ndarray) -> tuple[np.ndarray | None, int]:
        if self.streaming:
            lm = self._mesh_on(img, None)
            return lm, (codes.LOST if lm is None else codes.TRACKED)
        lm, method = None, codes.LOST
        if self.box is not None:
            lm, method = self._mesh_on(img, self.box), codes.TRACKED
        if lm is None:
            box = self._detect(img)
            if box is not None:
                lm, method = self._mesh_on(img, box), codes.REDETECTED
        if lm is None:
            lm, method = self._mesh_on(img, None), codes.FULL_FRAME
        if lm is None:
            self.box = None
            return None, codes.LOST
        lo, hi = lm.min(0), lm.max(0)
        c = (lo + hi) / 2
        self.box = _square(c[0], c[1], self.cfg.crop_scale * float((hi - lo).max()))
        return lm, method


def inter_ocular(lm: np.ndarray) -> np.ndarray:
    """(...,) 2-D distance between the iris centres of landmarks (..., 478, 2)."""
    return np.linalg.norm(lm[..., LEFT_IRIS, :] - lm[..., RIGHT_IRIS, :], axis=-1)


def track_frames(frames: Frames, cfg: TrackConfig = TrackConfig(),
                 on_frame: Callable[[int], None] | None = None) -> FaceTrack:
    """Track the face through `frames`; raises NervpError if no frame shows a face."""
    cfg.validate()
    T = frames.n_frames
    if T == 0:
        raise NervpError(f"{frames.source} has no frames")
    raw = np.full((T, codes.N_LANDMARKS, 2), np.nan, np.float32)
    method = np.zeros(T, np.int8)
    with FaceTracker(cfg) as tracker:
        for t in range(T):
            lm, m = tracker(frames.images[t])
            if lm is not None:
                raw[t] = lm
            method[t] = m
            if on_frame is not None:
                on_frame(t)
    return finish_track(raw, method, frames.width, frames.height, frames.fps, frames.source, cfg)


def finish_track(raw: np.ndarray, method: np.ndarray, width: int, height: int, fps: float,
                 source: str, cfg: TrackConfig = TrackConfig()) -> FaceTrack:
    """Flag, interpolate and smooth raw landmarks (T, 478, 2) (NaN = no face) into a FaceTrack."""
    found = np.isfinite(raw).all(axis=(1, 2))
    if not found.any():
        raise NervpError(f"no face found in any of the {len(found)} frames of {source or 'the input'}: "
                         "check that the clip shows a face (frontal to profile, not too small)")
    max_gap = int(round(cfg.max_gap_s * fps))
    filled, interp = fill_gaps(raw, found, max_gap)
    method = method.copy()
    method[interp] = codes.INTERPOLATED
    valid = found | interp
    scale = float(np.median(inter_ocular(raw[found])))
    lm = smooth_track(np.where(valid[:, None, None], filled, np.nan), fps, cfg.smoothing, max(scale, 1e-6))
    smoothing = {**cfg.smoothing.to_json(), "scale_px": scale, "max_gap_frames": max_gap}
    return FaceTrack(lm, raw.astype(np.float32), found, valid, method, int(width), int(height),
                     float(fps), source, smoothing)


def track_summary(track: FaceTrack) -> TrackSummary:
    """Numbers a user wants: tracked fraction, gaps, how frames were found."""
    return TrackSummary(
        frames=track.n_frames, found=int(track.found.sum()), found_fraction=float(track.found.mean()),
        valid_fraction=float(track.valid.mean()),
        methods={codes.METHOD_NAMES[k]: int((track.method == k).sum()) for k in range(len(codes.METHOD_NAMES))},
        gaps=tuple((int(a), int(b)) for a, b in track.gaps()),
        interpolated_frames=int((track.method == codes.INTERPOLATED).sum()),
        unfilled_frames=int((~track.valid).sum()),
        median_iod_px=track.smoothing.get("scale_px"))


__all__ = ["FaceTracker", "Frames", "TrackConfig", "camera_from_manifest",
           "finish_track", "inter_ocular", "load_frames", "track_frames", "track_summary"]
