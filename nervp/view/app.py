"""What the page shows: K basis images per frame, the (K, L) coefficients, and the lighting
data from which the page computes LED weights the way `nervp relight` does.

A low-rank field is shown as it is. An OLAT dataset is first reduced to K basis images by the
projection the low-rank field uses (`nervp.relight.low_rank_coeffs`, then
`ReflectanceField.project`), one frame at a time.

The lighting maths is written once, in Python (`nervp.relight`), and the page repeats it from
data this module ships (`scene_description`): the LED directions, Voronoi solid angles and
calibration; the Delaunay triangles the looks' lights are spread over; every look's lights;
every procedural environment as the radiance map `weights_for` integrates. tests/view checks
the page's weights against `weights_for`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nervp.lightstage.dome import Dome
from nervp.relight.envmap import EnvMap, uniform_env
from nervp.relight.field import low_rank_coeffs
from nervp.relight.looks import _DISC_SAMPLES, LOOKS, Look
from nervp.relight.procedural import PROCEDURAL
from nervp.relight.weights import led_calibration, triangulation
from nervp.store.field import FieldSource, open_source
from nervp.store.outputs import VIEW_FORMAT
from nervp.store.zstore import DatasetError
from nervp.structures.field import ReflectanceField

DEFAULT_RANK = 16
"""Basis images per frame when an OLAT dataset is reduced for the page."""
MAX_RANK = 32
"""Most basis images the page's shader sums (uniform vectors of a WebGL2 fragment shader)."""
ENV_MAX_WIDTH = 512
"""`env_weights` reduces wider maps by 2x2 averaging first; the page does the same."""


@dataclass(frozen=True)
class ViewScene:
    """A reflectance field ready for the page.

    Attributes:
        source: the field or OLAT dataset on disk (read lazily).
        coeffs: (K, L) float32: OLAT image l = sum_k coeffs[k, l] * basis_k.
        calibration: (L, 3) float64 LED irradiance at the dome centre (`led_calibration`).
    """

    source: FieldSource
    coeffs: np.ndarray
    calibration: np.ndarray

    @property
    def n_frames(self) -> int:
        return self.source.n_frames

    @property
    def rank(self) -> int:
        return int(self.coeffs.shape[0])

    @property
    def height(self) -> int:
        return self.source.height

    @property
    def width(self) -> int:
        return self.source.width

    @property
    def dome(self) -> Dome:
        return self.source.dome

    def frame(self, t: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Frame t: basis (K, H, W, 3) float16 linear radiance (premultiplied by alpha) and
        alpha (H, W) float16 in [0, 1] (None when the source has none)."""
        f = self.source.read([t])
        if self.source.coeffs is None:  # OLAT: the low-rank field's projection
            f = ReflectanceField(ReflectanceField.project(f.images, torch.from_numpy(self.coeffs)).images,
                                 None, f.alpha)
        basis = f.images[0].numpy().astype(np.float16)
        alpha = None if f.alpha is None else f.alpha[0].numpy().astype(np.float16)
        return basis, alpha


def open_scene(path: Path | str, rank: int = DEFAULT_RANK) -> ViewScene:
    """Open a low-rank field or an OLAT dataset for the page; DatasetError names any problem
    (another kind of dataset, no frames, too many basis images)."""
    src = open_source(path)  # DatasetError for any other kind of dataset
    if src.n_frames < 1:
        raise DatasetError(f"{path}: the {src.kind} has no frames: nothing to show (simulate or "
                           "capture it again)")
    if src.coeffs is not None:
        coeffs = np.asarray(src.coeffs, dtype=np.float32)
    else:
        if not 1 <= rank <= min(MAX_RANK, src.dome.n_lights):
            raise DatasetError(f"--rank {rank}: the page sums 1..{min(MAX_RANK, src.dome.n_lights)} "
                               "basis images; pick a rank in that range")
        coeffs = low_rank_coeffs(src, rank).numpy().astype(np.float32)
    if coeffs.shape[0] > MAX_RANK:
        raise DatasetError(f"{path}: a rank-{coeffs.shape[0]} field has more basis images than the page "
                           f"sums ({MAX_RANK}); write a field of rank <= {MAX_RANK} with write_low_rank")
    return ViewScene(src, coeffs, led_calibration(src.dome, src.gain))


def environments() -> dict[str, EnvMap]:
    """The named environments the page offers, as the maps `weights_for` integrates."""
    return {"uniform": uniform_env(), **{name: make() for name, make in PROCEDURAL.items()}}


def _look(look: Look) -> dict:
    return {"lights": [{"name": lt.name, "position": list(lt.position), "size": lt.size,
                        "colour": list(lt.colour), "intensity": lt.intensity} for lt in look.lights],
            "ambient": list(look.ambient), "backdrop": [list(c) for c in look.backdrop]}


def scene_description(scene: ViewScene, frame_files: list[str], env_files: dict[str, str]) -> dict:
    """The page's scene.json: sizes, frame files, LED data, triangles, looks, environments."""
    dome, src = scene.dome, scene.source
    tri = triangulation(dome)
    cam = src.camera
    return {
        "format": VIEW_FORMAT,
        "name": src.path.name, "kind": src.kind,
        "n_frames": scene.n_frames, "rank": scene.rank, "height": scene.height, "width": scene.width,
        "fps": src.fps, "has_alpha": src.has_alpha(),
        "frames": frame_files,
        "frame_layout": "little-endian float16: basis (K, H, W, 3) linear radiance premultiplied, "
                        "then alpha (H, W) when has_alpha",
        "coeffs": scene.coeffs.tolist(),
        "leds": {"direction": np.asarray(dome.direction, dtype=np.float64).tolist(),
                 "solid_angle": np.asarray(dome.solid_angle, dtype=np.float64).tolist(),
                 "calibration": scene.calibration.tolist()},
        "triangles": {"faces": tri.faces.tolist(), "inverse": tri.inverse.tolist(),
                      "incident": tri.incident.tolist()},
        "camera": None if cam is None else {"K": cam["K"].tolist(), "R": cam["R"].tolist()},
        "env_max_width": ENV_MAX_WIDTH, "disc_samples": _DISC_SAMPLES,
        "looks": {name: _look(look) for name, look in LOOKS.items()},
        "environments": {name: {"file": f, "height": h, "width": 2 * h} for name, (f, h) in env_files.items()},
        "display": {"tonemap": "filmic", "key": 0.18, "white": 2.0},
    }
