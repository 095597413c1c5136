"""Contact sheets of OLAT datasets: every OLAT image in dome order plus the per-pixel truths."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nervp.colour import percentile_exposure, to_srgb8
from nervp.store.olat import OLATDataset, load_olat
from nervp.store.raw import RawStream, load_raw
from nervp.viz.images import grid, label, save_png


def olat_contact_sheet(ds: OLATDataset, frame: int = 0, cols: int = 12) -> np.ndarray:
    """uint8 (H', W', 3) sheet: the frame's OLAT images in dome order (LED index, top of the
    dome first), then full-lit, normals, albedo and alpha, one shared exposure for the OLATs."""
    fr = ds.frame(frame)
    exp_olat = percentile_exposure(fr.olat, target=0.9, q=99.7)
    dome = ds.dome
    tiles = []
    for l in range(ds.n_lights):
        d = dome.direction[l]
        elev = np.degrees(np.arcsin(np.clip(d[1], -1, 1)))
        azim = np.degrees(np.arctan2(d[0], d[2]))
        tiles.append(label(to_srgb8(fr.olat[l], exp_olat), f"{l} {elev:+.0f}/{azim:+.0f}"))
    tiles.append(label(to_srgb8(fr.full_lit, percentile_exposure(fr.full_lit)), "full-lit"))
    if fr.normal is not None:
        n = fr.normal
        a = fr.alpha if fr.alpha is not None else np.ones(n.shape[:2], np.float32)
        tiles.append(label(((n * 0.5 + 0.5) * a[..., None] * 255).clip(0, 255).astype(np.uint8), "normal"))
    if fr.albedo is not None:
        tiles.append(label(to_srgb8(fr.albedo), "albedo"))
    if fr.alpha is not None:
        tiles.append(label((np.repeat(fr.alpha[..., None], 3, -1) * 255).clip(0, 255).astype(np.uint8), "alpha"))
    return grid(tiles, cols)


def summary(ds: OLATDataset) -> str:
    """A few human-readable lines about the dataset."""
    m = ds.manifest
    lines = [
        f"{ds.path}: OLAT dataset, format v{m['version']}",
        f"  frames {ds.n_frames} at {m.get('fps', '?')} fps, {ds.width}x{ds.height} px, "
        f"{ds.n_lights} LEDs on a {m['dome']['radius_m']} m dome, colour {m['colour_space']}",
        "  arrays: " + ", ".join(f"{k}{tuple(v['shape'])}:{v['dtype']}" for k, v in m["arrays"].items()),
    ]
    if "performer" in m:
        p = m["performer"]
        lines.append(f"  performer seed {p.get('seed')}: " + ", ".join(f"{k}={v}" for k, v in p.items() if k != "seed"))
    fr = ds.frame(0)
    lines.append(f"  frame 0: full-lit mean {fr.full_lit.mean():.4f}, max {fr.full_lit.max():.4f}; "
                 f"sum-of-OLAT error {np.abs(fr.olat.sum(0) - fr.full_lit).max():.2e}")
    return "\n".join(lines)


def raw_contact_sheet(raw: RawStream, first: int = 0, count: int = 24, cols: int = 12) -> np.ndarray:
    """uint8 sheet of `count` raw images from `first`: demosaiced, linearised, labelled by pattern."""
    import torch

    from nervp.imaging.bayer import demosaic_bilinear

    pattern, gain = raw.small("pattern"), raw.small("gain")
    m = raw.manifest
    span = m["white_level"] - m["black_level"]
    tiles = []
    for i in range(first, min(first + count, raw.n_images)):
        dn = torch.from_numpy(raw.image(i).astype(np.float32))
        rgb = demosaic_bilinear((dn - m["black_level"]) / span, raw.bayer).numpy() / gain[i]
        name = "track" if pattern[i] < 0 else f"LED {pattern[i]}"
        tiles.append(label(to_srgb8(rgb * gain[i] / 0.85 * 0.8), f"{i} {name}"))
    return grid(tiles, cols)


def inspect_dataset(path: Path, kind: str | None, frame: int, sheet: Path) -> str:
    """Validate a dataset, write its contact sheet to `sheet`, return a text summary."""
    from nervp.store.zstore import DatasetError

    if kind == "olat":
        ds = load_olat(path)
        if not 0 <= frame < ds.n_frames:
            raise DatasetError(f"{path} has frames 0..{ds.n_frames - 1}; --frame {frame} is out of range")
        text = summary(ds)
        save_png(sheet, olat_contact_sheet(ds, frame))
        return text
    if kind == "raw":
        raw = load_raw(path)
        sched = raw.manifest["schedule"]
        text = (f"{path}: raw stream, {raw.n_images} Bayer {raw.bayer} images {raw.width}x{raw.height} "
                f"at {sched['fps']} fps, tracking every {sched['tracking_every']}, {raw.manifest['n_sets']} "
                f"OLAT sets at {sched['output_fps']:.2f} sets/s, ground truth: {'yes' if raw.truth() else 'no'}")
        save_png(sheet, raw_contact_sheet(raw))
        truth = raw.truth()
        if truth is not None:
            save_png(sheet.with_name(sheet.stem + ".truth.png"), olat_contact_sheet(truth, 0))
        return text
    raise DatasetError(f"{path} holds a {kind!r} dataset, which inspect does not know")
