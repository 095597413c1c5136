"""The performer's neck and clothed torso, and how much each vertex follows the head pose.

Model space: metres, +y up, +z out of the face. Profiles are rows (y, radius_x, radius_z)
of surfaces of revolution about +y, top first.
"""

from __future__ import annotations

import numpy as np

from nervp.synth.meshes import Mesh, tube

NECK_SEGMENTS = 32
NECK_UNDER_CHIN_M = ((0.06, 0.05, 0.052), (-0.02, 0.052, 0.055))
"""Upper neck rows, y relative to the chin landmark."""
NECK_BASE_M = ((-0.14, 0.057, 0.06), (-0.165, 0.068, 0.066))
"""Lower neck rows, y absolute."""
NECK_BACK_M = 0.02
"""Neck axis behind the cranium centre."""

TORSO_SEGMENTS = 48
TORSO_COLLAR_M = ((-0.145, 0.07, 0.068), (-0.165, 0.125, 0.085))
"""Collar rows, y absolute."""
TORSO_SHOULDERS = ((-0.185, 0.88, 0.105), (-0.215, 1.0, 0.115), (-0.29, 1.04, 0.12), (-0.6, 1.02, 0.12))
"""Shoulder rows: y (m), radius_x as a fraction of the appearance's shoulder half-width, radius_z (m)."""
TORSO_BACK_M = 0.03
"""Torso axis behind the cranium centre."""

NECK_FOLLOW_BOTTOM_Y = TORSO_COLLAR_M[0][0]
"""At and below this height (m) the neck stays with the body..."""
NECK_FOLLOW_ABOVE_CHIN_M = 0.02
"""...and from this far above the chin up it moves with the head..."""
NECK_FOLLOW_EXPONENT = 1.5
"""...with the weight ((y - bottom) / (top - bottom)) ** exponent in between."""


def build_neck(chin_y: float, centre_z: float) -> Mesh:
    """Neck tube below the chin height `chin_y` (m), behind the cranium centre depth `centre_z`."""
    rows = [[chin_y + dy, rx, rz] for dy, rx, rz in NECK_UNDER_CHIN_M] + [list(r) for r in NECK_BASE_M]
    return tube(np.array(rows), NECK_SEGMENTS).transformed(offset=(0, 0, centre_z - NECK_BACK_M))


def build_torso(shoulder_width: float, centre_z: float) -> Mesh:
    """Closed torso (clothing) with shoulders of half-width `shoulder_width` (m)."""
    rows = [list(r) for r in TORSO_COLLAR_M] + [[y, shoulder_width * f, rz] for y, f, rz in TORSO_SHOULDERS]
    return tube(np.array(rows), TORSO_SEGMENTS, cap_top=True, cap_bottom=True).transformed(
        offset=(0, 0, centre_z - TORSO_BACK_M))


def neck_head_weight(neck_y: np.ndarray, chin_y: float) -> np.ndarray:
    """(N,) weight in [0, 1] with which neck vertices at heights `neck_y` (N,) follow the head."""
    bottom = NECK_FOLLOW_BOTTOM_Y
    return np.clip((neck_y - bottom) / (chin_y + NECK_FOLLOW_ABOVE_CHIN_M - bottom), 0, 1) ** NECK_FOLLOW_EXPONENT
