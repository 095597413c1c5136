"""Relighting: lighting as data (HDR maps, procedural skies, studio looks), LED weights, and
the one relighting kernel over full or low-rank reflectance fields (docs/RELIGHT.md)."""

from nervp.relight.core import relight, relight_reference
from nervp.relight.envmap import (
    EnvMap,
    LightingError,
    load_envmap,
    rotation_matrix,
    save_envmap,
    uniform_env,
    validate_radiance,
)
from nervp.relight.field import fit_low_rank, low_rank_coeffs, write_low_rank
from nervp.relight.lighting import (
    LEDWeights,
    Lighting,
    background_env,
    parse_lighting,
    rotate_lighting,
    weights_for,
)
from nervp.relight.looks import LOOKS, Look, VirtualLight, light, look_weights
from nervp.relight.procedural import PROCEDURAL, overcast_env, sky_env, studio_env, sunset_env
from nervp.relight.weights import (
    barycentric,
    cell_env,
    env_weights,
    env_weights_reference,
    led_calibration,
    nearest_led,
)

__all__ = [
    "relight", "relight_reference", "EnvMap", "LightingError", "load_envmap", "rotation_matrix",
    "save_envmap", "uniform_env", "validate_radiance", "fit_low_rank", "low_rank_coeffs",
    "write_low_rank", "LEDWeights", "Lighting", "background_env", "parse_lighting",
    "rotate_lighting", "weights_for", "LOOKS", "Look", "VirtualLight", "light", "look_weights",
    "PROCEDURAL", "overcast_env", "sky_env", "studio_env", "sunset_env", "barycentric", "cell_env",
    "env_weights", "env_weights_reference", "led_calibration", "nearest_led",
]
