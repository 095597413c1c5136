"""The frozen dataclasses that cross stages (layer 2): each field states shape, dtype, units
and colour space. Written by one stage, stored by `nervp.store`, read by later stages."""

from nervp.structures.face import (
    FULL_FRAME,
    INTERPOLATED,
    LOST,
    METHOD_NAMES,
    N_LANDMARKS,
    REDETECTED,
    TRACKED,
    ConditioningMaps,
    FaceParams,
    FaceTrack,
    NormStats,
)
from nervp.structures.field import ReflectanceField

__all__ = [
    "FULL_FRAME", "INTERPOLATED", "LOST", "METHOD_NAMES", "N_LANDMARKS", "REDETECTED", "TRACKED",
    "ConditioningMaps", "FaceParams", "FaceTrack", "NormStats", "ReflectanceField",
]
