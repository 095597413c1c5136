"""Performance trajectories: head pose θ(t) and expression φ(t) as smooth functions of time.

A `Motion` is sampled from a seed once and then evaluated at any instant, so the 1000 fps
raw stream and the 25 fps OLAT dataset see the same continuous performance. The head
follows a range-of-motion path (yaw, pitch and roll sweeps with translation), the face a
speech-like pattern: syllable-rate jaw motion, lip shapes, smiles, brow raises, blinks and
gaze shifts (the paper's capture protocol: natural conversation plus range of motion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MotionConfig:
    """Amplitudes of the performance; 0 everywhere = a still performer."""

    yaw_deg: float = 28.0
    """Peak head yaw (turning left/right)."""
    pitch_deg: float = 12.0
    """Peak head pitch (nodding)."""
    roll_deg: float = 7.0
    """Peak head roll (tilting)."""
    translation_m: float = 0.025
    """Peak head translation on each axis, metres."""
    head_period_s: float = 4.0
    """Period of the yaw sweep; pitch and roll use incommensurate multiples."""
    speech: float = 1.0
    """Scale of mouth, brow and smile activity (0 = neutral face)."""
    blink_rate_hz: float = 0.4
    """Mean blinks per second."""
    gaze: float = 1.0
    """Scale of gaze shifts."""
    still: bool = False
    """Hold the neutral pose and expression for the whole take."""
    seed: int | None = None
    """Seed of the performance (None: the performer's seed): one performer can act another's motion."""


_BAND = {  # expression: (lo Hz, hi Hz, mean, amplitude, clip lo, clip hi)
    "jaw_open": (2.5, 6.0, 0.25, 0.35, 0.0, 0.8),
    "pucker": (0.3, 1.2, 0.05, 0.25, 0.0, 0.6),
    "funnel": (0.3, 1.2, 0.05, 0.25, 0.0, 0.6),
    "upper_lip_raise": (1.0, 3.0, 0.05, 0.2, 0.0, 0.5),
    "lower_lip_depress": (1.0, 3.0, 0.08, 0.2, 0.0, 0.5),
    "smile": (0.1, 0.5, 0.2, 0.35, 0.0, 0.8),
    "brow_raise": (0.2, 0.8, 0.1, 0.3, 0.0, 0.8),
    "brow_lower": (0.1, 0.5, 0.0, 0.2, 0.0, 0.5),
    "eye_wide": (0.2, 0.7, 0.0, 0.25, 0.0, 0.5),
}


@dataclass(frozen=True)
class Motion:
    """A sampled performance. Evaluate with `at(times)`.

    Attributes:
        expr_names: names of the expression dimensions, in head-model order.
        freqs, phases, amps: (C, K) sinusoid banks of the smooth channels.
        offsets: (C,) channel means; clip: (C, 2) channel ranges.
        channels: names of the smooth channels (pose and expression).
        blink_times: (M,) blink centres in seconds.
        cfg: the configuration it was drawn from.
    """

    expr_names: tuple[str, ...]
    channels: tuple[str, ...]
    freqs: np.ndarray
    phases: np.ndarray
    amps: np.ndarray
    offsets: np.ndarray
    clip: np.ndarray
    blink_times: np.ndarray
    cfg: MotionConfig

    def _channel(self, name: str, t: np.ndarray) -> np.ndarray:
        c = self.channels.index(name)
        s = (self.amps[c][:, None] * np.sin(2 * np.pi * self.freqs[c][:, None] * t[None] + self.phases[c][:, None])).sum(0)
        return np.clip(self.offsets[c] + s, self.clip[c, 0], self.clip[c, 1])

    def blink(self, t: np.ndarray) -> np.ndarray:
        """Eyelid closure in [0, 1]: raised-cosine bumps 0.16 s wide around each blink time."""
        width = 0.16
        d = np.abs(t[:, None] - self.blink_times[None, :]) / (width / 2)
        return np.clip(np.where(d < 1, 0.5 * (1 + np.cos(np.pi * d)), 0.0).sum(1), 0.0, 1.0)

    def at(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Head pose θ (N, 6) and expression φ (N, E) at `times` (N,) seconds."""
        t = np.asarray(times, dtype=np.float64).reshape(-1)
        theta = np.zeros((t.size, 6))
        phi = np.zeros((t.size, len(self.expr_names)))
        if self.cfg.still:
            return theta.astype(np.float32), phi.astype(np.float32)
        for k, name in enumerate(("rx", "ry", "rz", "tx", "ty", "tz")):
            theta[:, k] = self._channel(name, t)
        blink = self.blink(t)
        for j, name in enumerate(self.expr_names):
            if name in ("blink_left", "blink_right"):
                phi[:, j] = blink
            elif name in ("gaze_yaw", "gaze_pitch"):
                phi[:, j] = self._channel(name, t)
            else:
                base = name.rsplit("_", 1)[0] if name.endswith(("_left", "_right")) else name
                if base in _BAND:
                    v = self._channel(base, t)
                    side = name.endswith("_left") and "asym" in self.channels
                    if side:  # a little left/right asymmetry, as real faces have
                        v = np.clip(v + 0.1 * self._channel("asym", t), 0.0, 1.0)
                    phi[:, j] = v
        return theta.astype(np.float32), phi.astype(np.float32)


def sample_motion(expr_names: tuple[str, ...], duration_s: float, seed: int,
                  cfg: MotionConfig = MotionConfig()) -> Motion:
    """Draw a performance of `duration_s` seconds for a head model with `expr_names`."""
    rng = np.random.default_rng([seed, 0x6D6F74])
    K = 3
    chans: list[str] = []
    f, p, a, o, c = [], [], [], [], []

    def add(name: str, lo: float, hi: float, mean: float, amp: float, clo: float, chi: float) -> None:
        chans.append(name)
        f.append(rng.uniform(lo, hi, K))
        p.append(rng.uniform(0, 2 * np.pi, K))
        w = rng.uniform(0.5, 1.0, K)
        a.append(amp * w / w.sum())
        o.append(mean)
        c.append((clo, chi))

    T = cfg.head_period_s
    deg = math.pi / 180
    for name, amp in (("rx", cfg.pitch_deg * deg), ("ry", cfg.yaw_deg * deg), ("rz", cfg.roll_deg * deg)):
        period = {"rx": 0.77 * T, "ry": T, "rz": 1.31 * T}[name]
        add(name, 0.7 / period, 1.3 / period, 0.0, amp, -amp, amp)
    for name in ("tx", "ty", "tz"):
        add(name, 0.5 / T, 1.5 / T, 0.0, cfg.translation_m, -cfg.translation_m, cfg.translation_m)
    for name, (lo, hi, mean, amp, clo, chi) in _BAND.items():
        add(name, lo, hi, mean * cfg.speech, amp * cfg.speech, clo, chi)
    add("asym", 0.1, 0.4, 0.0, cfg.speech, -1.0, 1.0)
    add("gaze_yaw", 0.2, 0.8, 0.0, 0.4 * cfg.gaze, -0.6, 0.6)
    add("gaze_pitch", 0.2, 0.8, 0.0, 0.25 * cfg.gaze, -0.4, 0.4)
    n_blinks = rng.poisson(max(cfg.blink_rate_hz * duration_s, 0.0)) + (1 if cfg.blink_rate_hz > 0 else 0)
    blinks = np.sort(rng.uniform(0.1, max(duration_s - 0.1, 0.2), n_blinks))
    return Motion(tuple(expr_names), tuple(chans), np.array(f), np.array(p), np.array(a),
                  np.array(o, dtype=np.float64), np.array(c, dtype=np.float64), blinks, cfg)
