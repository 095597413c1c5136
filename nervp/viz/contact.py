"""Summaries and contact sheets of light-stage datasets: OLAT sets, raw streams, low-rank
fields. Every sheet is an (H', W', 3) uint8 sRGB picture; linear radiance is shown through
`to_srgb8` with one shared exposure per group of images."""

from __future__ import annotations

import numpy as np
import torch

from nervp.colour import percentile_exposure, to_srgb8
from nervp.imaging.bayer import demosaic_bilinear
from nervp.lightstage.dome import Dome
from nervp.store.field import FieldSource
from nervp.store.olat import OLATDataset
from nervp.store.raw import RawStream
from nervp.viz.images import grid, label


def stack(pictures: list[np.ndarray], bg: int = 32) -> np.ndarray:
    """uint8 (H, W, 3) pictures one above the other, narrower ones padded on the right with `bg`."""
    w = max(p.shape[1] for p in pictures)
    return np.concatenate([np.pad(p, ((0, 0), (0, w - p.shape[1]), (0, 0)), constant_values=bg)
                           for p in pictures], axis=0)


def olat_tiles(olat: np.ndarray, dome: Dome) -> list[np.ndarray]:
    """uint8 tiles of OLAT images (L, H, W, 3) linear radiance, in dome order (LED index, top of
    the dome first), labelled with elevation/azimuth in degrees, one shared exposure."""
    exp_olat = percentile_exposure(olat, target=0.9, q=99.7)
    tiles = []
    for l in range(olat.shape[0]):
        d = dome.direction[l]
        elev = np.degrees(np.arcsin(np.clip(d[1], -1, 1)))
        azim = np.degrees(np.arctan2(d[0], d[2]))
        tiles.append(label(to_srgb8(olat[l], exp_olat), f"{l} {elev:+.0f}/{azim:+.0f}"))
    return tiles


def _alpha_tile(alpha: np.ndarray) -> np.ndarray:
    return label((np.repeat(alpha[..., None], 3, -1) * 255).clip(0, 255).astype(np.uint8), "alpha")


def olat_contact_sheet(ds: OLATDataset, frame: int = 0, cols: int = 12) -> np.ndarray:
    """uint8 (H', W', 3) sheet: the frame's OLAT images in dome order (LED index, top of the
    dome first), then full-lit, normals, albedo and alpha, one shared exposure for the OLATs."""
    fr = ds.frame(frame)
    tiles = olat_tiles(fr.olat, ds.dome)
    tiles.append(label(to_srgb8(fr.full_lit, percentile_exposure(fr.full_lit)), "full-lit"))
    if fr.normal is not None:
        n = fr.normal
        a = fr.alpha if fr.alpha is not None else np.ones(n.shape[:2], np.float32)
        tiles.append(label(((n * 0.5 + 0.5) * a[..., None] * 255).clip(0, 255).astype(np.uint8), "normal"))
    if fr.albedo is not None:
        tiles.append(label(to_srgb8(fr.albedo), "albedo"))
    if fr.alpha is not None:
        tiles.append(_alpha_tile(fr.alpha))
    return grid(tiles, cols)


def olat_summary(ds: OLATDataset) -> str:
    """A few human-readable lines about an OLAT dataset."""
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
    """uint8 sheet of `count` raw images from `first`: demosaiced, linearised, labelled by
    pattern; below it, for a simulated stream, the sheet of its first ground-truth OLAT set."""
    pattern, gain = raw.small("pattern"), raw.small("gain")
    m = raw.manifest
    span = m["white_level"] - m["black_level"]
    tiles = []
    for i in range(first, min(first + count, raw.n_images)):
        dn = torch.from_numpy(raw.image(i).astype(np.float32))
        rgb = demosaic_bilinear((dn - m["black_level"]) / span, raw.bayer).numpy() / gain[i]
        name = "track" if pattern[i] < 0 else f"LED {pattern[i]}"
        tiles.append(label(to_srgb8(rgb * gain[i] / 0.85 * 0.8), f"{i} {name}"))
    truth = raw.truth()
    sheet = grid(tiles, cols)
    return sheet if truth is None else stack([sheet, olat_contact_sheet(truth, 0, cols)])


def raw_summary(raw: RawStream) -> str:
    """One line about a raw stream."""
    sched = raw.manifest["schedule"]
    return (f"{raw.path}: raw stream, {raw.n_images} Bayer {raw.bayer} images {raw.width}x{raw.height} "
            f"at {sched['fps']} fps, tracking every {sched['tracking_every']}, {raw.manifest['n_sets']} "
            f"OLAT sets at {sched['output_fps']:.2f} sets/s, ground truth: {'yes' if raw.truth() else 'no'}")


def field_contact_sheet(src: FieldSource, frame: int = 0, cols: int = 12) -> np.ndarray:
    """uint8 sheet of one frame of a low-rank field: the K basis images (magnitude, one shared
    exposure; they are signed), then the L OLAT images they expand to, in dome order, and alpha."""
    f = src.read([frame])
    basis = f.images[0].float().numpy()
    exp = percentile_exposure(np.abs(basis), target=0.9, q=99.7)
    tiles = [label(to_srgb8(np.abs(b), exp), f"|basis {k}|") for k, b in enumerate(basis)]
    tiles += olat_tiles(f.olat()[0].numpy(), src.dome)
    if f.alpha is not None:
        tiles.append(_alpha_tile(f.alpha[0].numpy()))
    return grid(tiles, cols)


def field_summary(src: FieldSource) -> str:
    """A few lines about a low-rank field."""
    m, c = src.manifest, src.coeffs
    ortho = np.abs(c @ c.T - np.eye(c.shape[0])).max()
    return "\n".join([
        f"{src.path}: low-rank reflectance field, format v{m['version']}",
        f"  frames {src.n_frames} at {src.fps:g} fps, {src.width}x{src.height} px, rank {c.shape[0]} of "
        f"{src.dome.n_lights} LEDs, colour {m.get('colour_space', '?')}, fitted from {m.get('fitted_from')}",
        "  arrays: " + ", ".join(f"{k}{tuple(v['shape'])}:{v['dtype']}" for k, v in m["arrays"].items()),
        f"  coefficients: max |C C^T - I| = {ortho:.1e}",
    ])
