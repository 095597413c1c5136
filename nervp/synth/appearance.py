"""Per-performer appearance drawn from a seed: skin tone, hair, eyes, clothing, proportions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_SKIN = np.array([  # linear albedo, light to deep
    [0.78, 0.55, 0.45], [0.66, 0.44, 0.33], [0.52, 0.32, 0.22],
    [0.38, 0.22, 0.14], [0.24, 0.13, 0.08], [0.14, 0.075, 0.05],
])
_HAIR = {
    "black": [0.015, 0.012, 0.010], "dark brown": [0.05, 0.028, 0.016], "brown": [0.12, 0.065, 0.035],
    "auburn": [0.22, 0.07, 0.03], "blonde": [0.45, 0.32, 0.16], "grey": [0.35, 0.34, 0.33],
}
_IRIS = {"brown": [0.12, 0.05, 0.02], "hazel": [0.2, 0.14, 0.05], "green": [0.1, 0.2, 0.1],
         "blue": [0.12, 0.2, 0.35], "grey": [0.22, 0.24, 0.26]}


@dataclass(frozen=True)
class Appearance:
    """What makes one synthetic performer look unlike another (all colours linear RGB albedo).

    Attributes:
        skin: (3,) base skin albedo; lips: (3,) lip albedo; hair: (3,) hair albedo;
        iris: (3,) iris albedo; cloth: (3,) clothing albedo.
        skin_name, hair_name, iris_name: human-readable labels.
        hair_volume: metres the hair stands off the scalp; hair_length: 0 short .. 1 to the shoulders.
        hairline: 0 low .. 1 high (receding) front hairline.
        beta: (n_id,) identity coefficients of the head model.
        head_scale: (3,) scale of the cranium (x, y, z) around its fitted size.
        shoulder_width: metres, half-width of the shoulders.
        seed: the seed it was drawn from.
    """

    skin: np.ndarray
    lips: np.ndarray
    hair: np.ndarray
    iris: np.ndarray
    cloth: np.ndarray
    skin_name: str
    hair_name: str
    iris_name: str
    hair_volume: float
    hair_length: float
    hairline: float
    beta: np.ndarray
    head_scale: np.ndarray
    shoulder_width: float
    seed: int

    def describe(self) -> dict:
        return {"seed": self.seed, "skin": self.skin_name, "hair": self.hair_name, "eyes": self.iris_name,
                "hair_length": round(self.hair_length, 2), "hair_volume_mm": round(self.hair_volume * 1000, 1),
                "cloth_rgb": [round(float(c), 3) for c in self.cloth]}


def sample_appearance(seed: int, n_id: int, beta_scale: float = 1.0) -> Appearance:
    """Draw a performer from `seed` (deterministic)."""
    rng = np.random.default_rng([seed, 0x706572])
    t = rng.uniform(0, len(_SKIN) - 1)
    i = int(np.floor(t))
    skin = _SKIN[i] * (1 - (t - i)) + _SKIN[min(i + 1, len(_SKIN) - 1)] * (t - i)
    skin = skin * rng.uniform(0.92, 1.08, 3) ** 0.5
    skin_name = ["very light", "light", "medium", "tan", "brown", "deep"][int(round(t))]
    lips = skin * np.array([1.0, 0.62, 0.62]) * rng.uniform(0.8, 1.0)
    hair_name = str(rng.choice(list(_HAIR)))
    hair = np.array(_HAIR[hair_name]) * rng.uniform(0.8, 1.2)
    iris_name = str(rng.choice(list(_IRIS)))
    hue = rng.uniform(0, 1)
    cloth = np.clip(0.5 + 0.5 * np.cos(2 * np.pi * (hue + np.array([0, 1 / 3, 2 / 3]))), 0.05, 1) ** 2.2
    cloth = cloth * rng.uniform(0.15, 0.7)
    beta = rng.normal(0, beta_scale, n_id).clip(-2.5, 2.5)
    return Appearance(
        skin=skin, lips=lips, hair=hair, iris=np.array(_IRIS[iris_name]), cloth=cloth,
        skin_name=skin_name, hair_name=hair_name, iris_name=iris_name,
        hair_volume=float(rng.uniform(0.008, 0.025)), hair_length=float(rng.uniform(0, 1)),
        hairline=float(rng.uniform(0, 1)), beta=beta.astype(np.float32),
        head_scale=rng.uniform(0.96, 1.04, 3), shoulder_width=float(rng.uniform(0.17, 0.22)), seed=seed,
    )
