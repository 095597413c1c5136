"""Scoring a captured OLAT dataset against the virtual light stage's ground truth.

PSNR is measured in the camera's own units: the peak is the radiance that reaches the
white level of an OLAT image (1 / its exposure gain), so 0 dB error = one full 8-bit range.
Regions: `face` = alpha > 0.5 inside the convex hull of the projected head-model landmarks,
`performer` = alpha > 0.5, `image` = every pixel.

The `sensor floor` re-records the truth through the stream's own sensor model (Bayer
mosaic, shot and read noise, 8-bit quantisation) and develops it exactly as capture does,
without motion: what perfect alignment would score. `demosaic floor` does the same without
noise (8-bit quantisation and demosaicing only).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from nervp.capture.align import develop
from nervp.store.olat import OLATDataset
from nervp.store.raw import RawStream
from nervp.synth.raw import SensorConfig, expose

REGIONS = ("face", "performer", "image")
UNCLIPPED = tuple(f"{r}_unclipped" for r in REGIONS)
"""The same regions without the pixels that the truth puts beyond the sensor's white level
(or next to one): what no processing can recover (specular glints of eyes, teeth, skin)."""


def region_masks(alpha: np.ndarray, landmarks: np.ndarray | None) -> dict[str, np.ndarray]:
    """(H, W) bool masks of the scoring regions from a truth frame's alpha and landmarks (P, 2)."""
    performer = alpha > 0.5
    hull = np.zeros(alpha.shape, np.uint8)
    if landmarks is not None:
        pts = cv2.convexHull(np.round(landmarks).astype(np.int32))
        cv2.fillConvexPoly(hull, pts, 1)
    return {"face": performer & (hull > 0), "performer": performer, "image": np.ones_like(performer)}


def stack_masks(regions: dict[str, np.ndarray], olat: np.ndarray, gains: np.ndarray) -> dict[str, np.ndarray]:
    """`regions` (H, W) plus their `_unclipped` (L, H, W) variants for a truth OLAT stack
    (L, H, W, 3) recorded with per-image `gains` (L,)."""
    clipped = (olat.max(-1) * gains[:, None, None]) >= 1.0
    clipped = np.stack([cv2.dilate(c.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0 for c in clipped])
    return {**regions, **{f"{r}_unclipped": m[None] & ~clipped for r, m in regions.items()}}


def psnr(est: np.ndarray, ref: np.ndarray, mask: np.ndarray, peak: float) -> float:
    """PSNR (dB) of `est` against `ref` ((..., H, W, C) linear) over `mask`: (H, W), or one
    mask per image, e.g. (L, H, W) for an OLAT stack."""
    d = est.astype(np.float64) - ref.astype(np.float64)
    d = d[np.broadcast_to(mask, d.shape[:-1])]
    mse = float(np.mean(d * d))
    return float("inf") if mse == 0 else 10 * np.log10(peak * peak / mse)


@dataclass(frozen=True)
class TruthScore:
    """PSNR (dB) per region, one value per scored set (lists in set order).

    Attributes:
        sets: truth set index of each scored set.
        olat: region -> PSNR of the OLAT stack.
        full_lit: region -> PSNR of the full-lit image (sum of the OLAT images; peak: tracking
            white level). tracking: likewise for the measured middle tracking frame.
        low_confidence: fraction of face pixels (over all LEDs) with confidence < 0.5.
    """

    sets: list[int]
    olat: dict[str, list[float]]
    full_lit: dict[str, list[float]]
    tracking: dict[str, list[float]]
    low_confidence: list[float]

    def mean(self) -> dict[str, float]:
        return {r: float(np.mean(v)) for r, v in self.olat.items()}


def score_capture(captured: OLATDataset, raw: RawStream) -> TruthScore:
    """Score every captured set whose middle is a truth set's middle."""
    return _score(captured, raw, lambda t: captured.read("olat", t).astype(np.float32))


def score_naive(captured: OLATDataset, raw: RawStream) -> TruthScore:
    """Score naive unaligned stacking of the very images `captured` used (what --no-align writes)."""
    images, gain = raw.group["images"], raw.small("gain")
    black, white = float(raw.manifest["black_level"]), float(raw.manifest["white_level"])
    bayer = str(captured.manifest.get("capture", {}).get("bayer", raw.bayer))

    def stack(t: int) -> np.ndarray:
        src = captured.read("source_olat", t)
        return np.stack([develop(images[int(i)], bayer, black, white, float(gain[i])) for i in src])

    return _score(captured, raw, stack)


def _score(captured: OLATDataset, raw: RawStream, olat_of: Callable[[int], np.ndarray]) -> TruthScore:
    truth = raw.truth()
    if truth is None:
        raise ValueError(f"{raw.path} carries no ground truth (not a simulated stream)")
    gain = raw.small("gain")
    c_mid = captured.read("source_middle")
    olat: dict[str, list[float]] = {r: [] for r in REGIONS + UNCLIPPED}
    full: dict[str, list[float]] = {r: [] for r in REGIONS}
    track: dict[str, list[float]] = {r: [] for r in REGIONS}
    sets, low = [], []
    for s, m in enumerate(raw.small("sets_middle")):
        hit = np.nonzero(c_mid == m)[0]
        if not hit.size:
            continue
        t = int(hit[0])
        fr = truth.frame(s)
        est = olat_of(t)
        est_track = captured.read("tracking", t) if captured.has("tracking") else None
        masks = region_masks(fr.alpha, fr.landmarks)
        src = captured.read("source_olat", t)
        olat_peak = 1.0 / float(np.median(gain[src]))
        for r, mk in stack_masks(masks, fr.olat, gain[src]).items():
            olat[r].append(psnr(est, fr.olat, mk, olat_peak))
        for r, mk in masks.items():
            full[r].append(psnr(est.sum(0), fr.full_lit, mk, 1.0 / float(gain[m])))
            if est_track is not None:
                track[r].append(psnr(est_track, fr.full_lit, mk, 1.0 / float(gain[m])))
        if captured.has("confidence"):
            low.append(float(np.mean(captured.read("confidence", t)[:, masks["face"]] < 0.5)))
        sets.append(s)
    if not sets:
        raise ValueError("no captured set is centred on a truth set's middle frame")
    return TruthScore(sets, olat, full, track, low)


def sensor_floor(raw: RawStream, noise: bool = True, seed: int = 0) -> dict[str, list[float]]:
    """PSNR per region of the truth re-recorded through the stream's sensor and developed."""
    truth = raw.truth()
    if truth is None:
        raise ValueError(f"{raw.path} carries no ground truth (not a simulated stream)")
    m = raw.manifest
    sensor = SensorConfig(bayer=raw.bayer, black_level=int(m["black_level"]), white_level=int(m["white_level"]),
                          full_well=float(m["sensor"]["full_well_e"]), read_noise_dn=float(m["sensor"]["read_noise_dn"]),
                          noise=noise)
    gain = raw.small("gain")
    sets_olat = raw.small("sets_olat")
    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {r: [] for r in REGIONS + UNCLIPPED}
    for s in range(truth.n_frames):
        fr = truth.frame(s)
        rec = np.empty_like(fr.olat)
        for led in range(truth.n_lights):
            g = float(gain[sets_olat[s, led]])
            dn = expose(torch.from_numpy(fr.olat[led]), g, sensor, rng)
            rec[led] = develop(dn, raw.bayer, sensor.black_level, sensor.white_level, g)
        peak = 1.0 / float(np.median(gain[sets_olat[s]]))
        for r, mk in stack_masks(region_masks(fr.alpha, fr.landmarks), fr.olat, gain[sets_olat[s]]).items():
            out[r].append(psnr(rec, fr.olat, mk, peak))
    return out



def truth_report(captured: OLATDataset, raw: RawStream, floors: bool = True) -> dict:
    """Aligned vs naive vs the sensor floors, mean PSNR (dB) per region, plus per-set values."""
    al, na = score_capture(captured, raw), score_naive(captured, raw)
    rep = {"regions": {"face": "alpha > 0.5 inside the landmarks' convex hull", "performer": "alpha > 0.5",
                       "image": "all pixels", "*_unclipped": "without pixels the truth puts at or beyond the "
                       "OLAT white level (and their 8 neighbours), per LED"},
           "peak": "radiance at the OLAT white level (1 / exposure gain)",
           "aligned": al.mean(), "naive": na.mean(),
           "gain_over_naive": {r: al.mean()[r] - na.mean()[r] for r in REGIONS + UNCLIPPED},
           "full_lit": {r: float(np.mean(v)) for r, v in al.full_lit.items()},
           "tracking": {r: float(np.mean(v)) for r, v in al.tracking.items() if v},
           "low_confidence_face_fraction": float(np.mean(al.low_confidence)) if al.low_confidence else None,
           "per_set": {"truth_set": al.sets, "aligned_face": al.olat["face"], "naive_face": na.olat["face"],
                       "aligned_face_unclipped": al.olat["face_unclipped"],
                       "naive_face_unclipped": na.olat["face_unclipped"]}}
    if floors:
        rep["sensor_floor"] = {r: float(np.mean(v)) for r, v in sensor_floor(raw, noise=True).items()}
        rep["demosaic_floor"] = {r: float(np.mean(v)) for r, v in sensor_floor(raw, noise=False).items()}
    return rep


def format_truth_report(rep: dict) -> str:
    rows = [("aligned", rep["aligned"]), ("naive (unaligned)", rep["naive"])]
    rows += [(k.replace("_", " "), rep[k]) for k in ("sensor_floor", "demosaic_floor") if k in rep]
    rows.append(("aligned - naive", rep["gain_over_naive"]))
    lines = []
    for title, sfx in (("all pixels", ""), ("unclipped pixels", "_unclipped")):
        lines.append(f"PSNR against ground truth, {title} (dB)".ljust(36) + "  face  performer  image")
        lines += [f"  {name:<32}{v['face' + sfx]:6.2f} {v['performer' + sfx]:9.2f} {v['image' + sfx]:6.2f}"
                  for name, v in rows]
    return "\n".join(lines)


def still_stream(src: RawStream, out: Path, seed: int = 7) -> Path:
    """A still-performer copy of simulated stream `src`: the same schedule, gains and sensor, every
    image re-recorded from `src`'s first ground-truth set (so the truth of every set is that set)."""
    from nervp.capture.ingest import write_raw_stream

    truth = src.truth()
    if truth is None:
        raise ValueError(f"{src.path} carries no ground truth (not a simulated stream)")
    m = src.manifest
    frame = truth.frame(0)
    pattern, gain, times = src.small("pattern"), src.small("gain"), src.small("time")
    sensor = SensorConfig(bayer=src.bayer, black_level=int(m["black_level"]), white_level=int(m["white_level"]),
                          full_well=float(m["sensor"]["full_well_e"]),
                          read_noise_dn=float(m["sensor"]["read_noise_dn"]), noise=bool(m["sensor"]["noise"]))
    rng = np.random.default_rng(seed)

    def images() -> Iterator[np.ndarray]:
        for p, g in zip(pattern, gain, strict=True):
            yield expose(torch.from_numpy(frame.full_lit if p < 0 else frame.olat[p]), float(g), sensor, rng)

    mids = src.small("sets_middle")
    return write_raw_stream(out, images(), pattern, times, gain, src.dome, bayer=src.bayer,
                            black_level=sensor.black_level, white_level=sensor.white_level,
                            fps=m["schedule"]["fps"], sets=(mids, src.small("sets_olat")),
                            extra={k: m[k] for k in ("sensor", "camera", "head_model") if k in m},
                            truth=[dataclasses.replace(frame, time=float(times[i])) for i in mids])
