"""A benchmark suite: a versioned, frozen definition of what `nervp benchmark` measures.

Changing what a suite measures means a new `version`: results of two versions are never
compared (the runner refuses to resume an OUT made by another definition).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Literal

from nervp.errors import ConfigError
from nervp.synth.simulate import SimConfig
from nervp.train.config import TrainConfig

MethodName = Literal["nervp", "dvp", "mtp", "sipr", "unrelit"]
METHODS: tuple[str, ...] = ("nervp", "dvp", "mtp", "sipr", "unrelit")
"""Every method the benchmark knows: nervp (the reflectance field, trained with tracked
parameters), DVP (the same translator trained to output the full-lit image only, the `fulllit`
head), DVP + MTP (mass-transport colour transfer from a reference portrait under the target
lighting), DVP + SIPR (a single-image relighting network trained on other performers,
`sipr.py`) and DVP + the best single gain (`unrelit`, a floor)."""
LABELS = {"nervp": "nervp (ours)", "dvp": "DVP (full-lit, no relighting)", "mtp": "DVP + MTP", "sipr": "DVP + SIPR",
          "unrelit": "DVP + best gain (unrelit)"}
TRACKS = ("self", "cross")
"""self: held-out frames of the target's own capture; cross: a second performer drives the target
(tracked and fitted), truth rendered by the virtual stage with the retargeted parameters."""


@dataclass(frozen=True)
class Suite:
    """What a benchmark measures. Shapes: every image `sim.size`² pixels, linear Rec. 709.

    Attributes:
        name, version: the suite's identity (results carry both).
        seeds: performer seeds of the targets (each is one row of per-performer results).
        reference_seed: the performer whose portrait, relit by the target lighting, MTP takes as
            its colour reference (a different person, as a user would pick a reference photo).
        source_seed: the performer that drives each target in the cross-identity track.
        sim: the virtual stage of every capture (its `frames`, `size`, quality).
        source_frames: frames of the driving performer (the cross track scores all of them).
        lightings: lightings scored (`ring-0` ... `ring-7`, procedural names, looks).
        train: training of nervp's translator (its `val_fraction` is the held-out split; DVP is
            trained with the same settings and the `fulllit` head).
        mtp_iterations: sliced optimal-transport iterations of MTP.
    """

    name: str
    version: int
    seeds: tuple[int, ...]
    reference_seed: int
    source_seed: int
    sim: SimConfig
    source_frames: int
    train: TrainConfig
    lightings: tuple[str, ...] = ("ring-0", "ring-2", "ring-4", "ring-6", "sky", "sunset", "studio")
    mtp_iterations: int = 20
    methods: tuple[str, ...] = field(default=METHODS)

    def validate(self) -> None:
        """ConfigError naming the flag for a suite that cannot run."""
        self.sim.validate()
        self.train.validate()
        if not self.seeds:
            raise ConfigError("--seeds needs at least one performer seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"--seeds repeats a performer: {list(self.seeds)}")
        for what, s in (("reference", self.reference_seed), ("source", self.source_seed)):
            if s in self.seeds:
                raise ConfigError(f"the suite's {what} performer {s} is also a target (--seeds): choose other seeds")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ConfigError(f"unknown method {unknown[0] if unknown else '(none)'!r} in --methods: choose from "
                              + ", ".join(METHODS))
        if not self.lightings:
            raise ConfigError("--light needs at least one lighting")
        if self.sim.frames < 3 or self.source_frames < 2:
            raise ConfigError("a suite needs at least 3 target frames and 2 source frames")

    def with_methods(self) -> tuple[str, ...]:
        """The methods to run, with what they need first (MTP and unrelit use DVP's output)."""
        need = set(self.methods) | ({"dvp"} if {"mtp", "sipr", "unrelit"} & set(self.methods) else set())
        return tuple(m for m in METHODS if m in need)

    def to_json(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    def identity(self) -> dict:
        """What the results depend on: everything but the list of methods (a method added
        later joins the same benchmark; the others' units are kept)."""
        return {k: v for k, v in self.to_json().items() if k != "methods"}

    def dvp_train(self) -> TrainConfig:
        """DVP's training: nervp's settings with the `fulllit` head; the terms that need a
        reflectance field (per-light MS-SSIM, normals, albedo, context) off."""
        t = self.train
        return dataclasses.replace(t, model=dataclasses.replace(t.model, head="fulllit"),
                                   loss=dataclasses.replace(t.loss, msssim=0.0, normal=0.0, albedo=0.0, context=0.0))


__all__ = ["LABELS", "METHODS", "TRACKS", "MethodName", "Suite"]
