"""nervp: relightable neural video portraits from a one-light-at-a-time light-stage capture.

The public API, one entry function per stage (each stage is a subpackage, docs/CONTRIBUTING.md):

    simulate(out, SimConfig)                 virtual light stage -> OLAT dataset
    capture(raw, out, CaptureConfig, ...)    raw 1000 fps stream -> aligned OLAT dataset
    track_clip(source, out, ParseConfig)     video / dataset -> face parameters (TrackReport)
    condition(params, out, target, cfg)      face parameters -> conditioning maps (ConditionReport)
    train_run(dataset, run_dir, TrainConfig) OLAT dataset -> trained translator (a run directory)
    load_run(run_dir)                        the one loader for finished runs (FinishedRun)
    reenact(run_dir, source, out)            a source performer drives the target -> reflectance field
    relight(field, weights)                  linear relighting by LED weights
    run_relight(source, out, RelightSettings) field -> lit, matted, composited video file
    evaluate_run(run, dataset, lightings)    held-out frames against the ground truth
    score_predictions(pred, dataset)         any method's relit predictions against the ground truth
    run_benchmark(out, Suite)                Table 1: nervp and baselines on a suite of performers
    export_page(open_scene(field), out)      field -> a web page relighting it in WebGL (nervp view)
    estimate_light(load_plate(photo))        a photo's / video's lighting as LED weights (LightEstimate)

Names are imported on first use, so `import nervp` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "simulate": "nervp.synth.simulate", "SimConfig": "nervp.synth.simulate",
    "capture": "nervp.capture", "CaptureConfig": "nervp.capture.config",
    "track_clip": "nervp.parse.pipeline", "condition": "nervp.parse.pipeline",
    "ParseConfig": "nervp.parse.pipeline", "ConditionConfig": "nervp.parse.pipeline",
    "MapSettings": "nervp.parse.conditioning", "conditioning_maps": "nervp.parse.conditioning",
    "train_run": "nervp.train.run", "load_run": "nervp.train.run", "RunInfo": "nervp.train.run",
    "FinishedRun": "nervp.train.run", "TrainConfig": "nervp.train.config",
    "reenact": "nervp.reenact", "predict_frames": "nervp.reenact",
    "relight": "nervp.relight.core", "run_relight": "nervp.composite.pipeline",
    "RelightSettings": "nervp.composite.pipeline", "evaluate_run": "nervp.evaluate.reconstruction",
    "load_olat": "nervp.store.olat", "OLATFrame": "nervp.store.olat",
    "SIM_PRESETS": "nervp.presets", "TRAIN_PRESETS": "nervp.presets", "DEMO_PRESETS": "nervp.presets",
    "NervpError": "nervp.errors",
    "score_predictions": "nervp.evaluate.score", "run_benchmark": "nervp.benchmark.run",
    "Suite": "nervp.benchmark.suite", "SUITES": "nervp.presets",
    "open_scene": "nervp.view.app", "export_page": "nervp.view.export",
    "estimate_light": "nervp.estimate.core", "EstimateConfig": "nervp.estimate.core",
    "LightEstimate": "nervp.estimate.core", "load_plate": "nervp.estimate.photo",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'nervp' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
