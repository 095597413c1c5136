"""Lighting as data: one type for everything that can light a performer, and its LED weights.

`Lighting` is an `EnvMap` (HDR environment), a `Look` (virtual studio lights) or
`LEDWeights` (weights given directly, e.g. estimated from a photo). `weights_for` turns any
of them into the (L, 3) LED weights `relight` takes; `parse_lighting` reads the names and
files the command line accepts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from tokenize import TokenError  # np.load parses the .npy header as a Python literal

import numpy as np

from nervp.lightstage.dome import Dome
from nervp.relight.envmap import SUPPORTED_SUFFIXES, EnvMap, LightingError, load_envmap, uniform_env
from nervp.relight.looks import LOOKS, Look, look_weights
from nervp.relight.procedural import PROCEDURAL
from nervp.relight.weights import Spread, check_weights, env_weights

WEIGHT_SUFFIXES = (".npy", ".json")


@dataclass(frozen=True)
class LEDWeights:
    """LED weights given directly.

    Attributes:
        weights: (L, 3) float32 linear RGB multipliers of the OLAT images (already calibrated).
        name: label.
    """

    weights: np.ndarray
    name: str = "weights"


Lighting = EnvMap | Look | LEDWeights


def weights_for(lighting: Lighting, dome: Dome, calibration: np.ndarray | None = None,
                spread: Spread = "voronoi") -> np.ndarray:
    """(L, 3) float32 LED weights for any lighting on `dome` (see `nervp.relight.weights`)."""
    if isinstance(lighting, EnvMap):
        return env_weights(lighting, dome, calibration, spread)
    if isinstance(lighting, Look):
        return look_weights(lighting, dome, calibration)
    if isinstance(lighting, LEDWeights):
        return check_weights(lighting.weights, dome.n_lights, lighting.name)
    raise LightingError(f"cannot light with a {type(lighting).__name__}")


def rotate_lighting(lighting: Lighting, degrees: float, axis: tuple[float, float, float] = (0.0, 1.0, 0.0)) -> Lighting:
    """Turn an environment or look about a world axis (LED weights cannot be turned)."""
    if degrees == 0:
        return lighting
    if isinstance(lighting, EnvMap | Look):
        return lighting.rotated(axis, degrees)
    raise LightingError("explicit LED weights cannot be rotated: use an environment map or a look")


def lighting_names() -> list[str]:
    return ["uniform", *PROCEDURAL, *LOOKS]


def parse_lighting(spec: str) -> Lighting:
    """An environment file (.hdr/.exr), LED weights (.npy/.json, (L,) or (L, 3)), or a name
    from `lighting_names()`: a procedural environment (the PROCEDURAL table) or a look (LOOKS)."""
    p = Path(spec)
    suffix = p.suffix.lower()
    if suffix in SUPPORTED_SUFFIXES:
        return load_envmap(p)
    if suffix in WEIGHT_SUFFIXES:
        return _load_weights(p)
    key = spec.strip().lower()
    if key == "uniform":
        return uniform_env()
    if key in PROCEDURAL:
        return PROCEDURAL[key]()
    if key in LOOKS:
        return LOOKS[key]
    if p.suffix:
        raise LightingError(f"{spec}: unsupported lighting file type {p.suffix}; use an environment map "
                            f"({', '.join(SUPPORTED_SUFFIXES)}) or LED weights ({', '.join(WEIGHT_SUFFIXES)})")
    raise LightingError(f"unknown lighting {spec!r}; give a file (.hdr, .exr, .npy, .json) or one of: "
                        + ", ".join(lighting_names()))


def _load_weights(path: Path) -> LEDWeights:
    if not path.is_file():
        raise LightingError(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".npy":
            w = np.load(path, allow_pickle=False)
        else:
            data = json.loads(path.read_text())
            w = np.asarray(data["weights"] if isinstance(data, dict) else data, dtype=np.float64)
    except (ValueError, KeyError, TypeError, OSError, OverflowError, EOFError, SyntaxError, TokenError) as e:
        raise LightingError(f"{path}: cannot read LED weights ({e}); expected an (L,) or (L, 3) array "
                            "(.npy, or JSON list / {\"weights\": [...]})") from e
    if w.dtype.kind not in "biuf":
        raise LightingError(f"{path}: LED weights must be numbers, got dtype {w.dtype}; save a float array "
                            "(np.save(path, weights.astype(np.float32)))")
    w = np.asarray(w, dtype=np.float64)
    if w.ndim not in (1, 2) or (w.ndim == 2 and w.shape[1] != 3):
        raise LightingError(f"{path}: LED weights must have shape (L,) or (L, 3), got {w.shape}")
    if not np.isfinite(w).all():
        raise LightingError(f"{path}: LED weights must be finite")
    return LEDWeights(w.astype(np.float32), name=path.stem)


def background_env(lighting: Lighting) -> EnvMap | None:
    """What the lighting looks like as a background: the map itself, a look's backdrop,
    nothing for bare weights."""
    if isinstance(lighting, EnvMap):
        return lighting
    if isinstance(lighting, Look):
        return lighting.as_env()
    return None
