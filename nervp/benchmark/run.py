"""`nervp benchmark`: simulate, train every method on the same frames, predict both tracks, score.

OUT/
  suite.json                       the suite definition (a rerun with another one is refused)
  data/target_<seed>.olat          each target's capture (virtual stage)
  data/reference_<seed>.olat       MTP's reference performer (one frame)
  data/source_<seed>.olat          the driving performer of the cross-identity track
  data/cross_<seed>.olat           truth of the cross track: the target posed by the source's
                                   retargeted parameters, rendered by the virtual stage
  units/<seed>/<method>/           one unit of work: run/ (trained methods), self/ and cross/
                                   (predictions, `nervp score` layout), score.json (written last:
                                   a unit with it is done and skipped by a rerun)
  results.json, table.md, figure.png, timings.json   (`report.py`)

Every step is a pure function of the suite, so a rerun after a crash or a stop goes on from the
finished units and datasets, and two runs give the same results.json (timings go to
timings.json, never to results.json).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from nervp.benchmark.baselines import best_gain, mtp
from nervp.benchmark.suite import Suite
from nervp.errors import NervpError, check_stop
from nervp.evaluate.reconstruction import ring_leds
from nervp.evaluate.score import (
    RING,
    is_ring,
    lighting_folder,
    score_predictions,
    truth_relit,
    write_predictions,
)
from nervp.fileio import write_json_atomic
from nervp.store.olat import load_olat

Log = Callable[[str], None]


class BenchmarkError(NervpError):
    """An OUT folder the benchmark cannot use (the message names it and the fix)."""


def _sim(suite: Suite, seed: int, frames: int):
    s = suite.sim
    return dataclasses.replace(s, frames=frames, performer=dataclasses.replace(s.performer, seed=seed))


def _dataset(path: Path, suite: Suite, seed: int, frames: int) -> Path:
    from nervp.synth.simulate import simulate

    if not path.exists():  # a finished dataset is renamed into place: existing means complete
        simulate(path, _sim(suite, seed, frames))
    return path


def check_out(out: Path, suite: Suite) -> None:
    """OUT is new, empty, or a benchmark of this very suite (resumed)."""
    mark = out / "suite.json"
    if out.exists() and not out.is_dir():
        raise BenchmarkError(f"{out} is a file: choose a new folder for the benchmark")
    if mark.is_file():
        have = {k: v for k, v in json.loads(mark.read_text()).items() if k != "methods"}
        if have != suite.identity():
            raise BenchmarkError(f"{out} holds a benchmark of another suite definition ({mark}): choose a new "
                                 "folder, or rerun with the same suite and options to resume it")
    elif out.is_dir() and any(out.iterdir()):
        raise BenchmarkError(f"{out} is a folder of other files, not a benchmark: choose a new or empty folder")


def _specs(suite: Suite) -> list[str]:
    return list(suite.lightings)


def _relit_all(images: np.ndarray, specs: list[str]) -> dict[str, np.ndarray]:
    """A method that cannot relight: the same frames under every lighting."""
    return {lighting_folder(s): images for s in specs}


# ---- trained methods
def _train(target: Path, run_dir: Path, cfg, device: str) -> None:
    from nervp.train.run import train_run

    train_run(target, run_dir, dataclasses.replace(cfg, device=device))


def _reenact(run_dir: Path, source: Path, out: Path, device: str, params: str) -> Path:
    """The run driven by the source, its parameters tracked and fitted (`fit`) unless the suite
    trains on the simulator's truth."""
    from nervp.reenact import reenact

    if not out.exists():
        reenact(run_dir, source, out, params="truth" if params == "truth" else "fit", device=device)
    return out


def _cross_truth(path: Path, suite: Suite, seed: int, reenacted: Path) -> Path:
    """The virtual stage rendering the target with the driven (retargeted) parameters that the
    reenactment recorded per frame."""
    from nervp.store.olat import write_olat_resumable
    from nervp.synth.simulate import make_stage, stage_manifest

    if path.exists():
        return path
    re = load_olat(reenacted)
    theta, phi = re.read("theta").astype(np.float32), re.read("phi").astype(np.float32)
    stage = make_stage(_sim(suite, seed, 3))

    def render(todo):
        return ((t, stage.capture_posed(theta[t], phi[t], t / re.manifest.get("fps", 25.0))) for t in todo)

    write_olat_resumable(path, render, re.n_frames, stage_manifest(stage), stage.dome,
                         settings={"cross_truth": suite.to_json(), "seed": seed,
                                   "theta": theta.tolist(), "phi": phi.tolist()},
                         beta=stage.performer.beta.numpy())
    return path


def _nervp_unit(ctx: dict, unit: Path) -> dict:
    from nervp.evaluate.score import run_predictions
    from nervp.relight.core import relight
    from nervp.relight.lighting import parse_lighting, weights_for
    from nervp.structures.field import ReflectanceField
    from nervp.train.run import load_run

    _train(ctx["target"], unit / "run", ctx["suite"].train, ctx["device"])
    run = load_run(unit / "run", ctx["device"])
    t0 = time.perf_counter()
    frames = list(run.info.val_frames)
    write_predictions(unit / "self", run_predictions(run, frames, ctx["specs"]), frames)
    t_self = time.perf_counter() - t0
    re = _reenact(unit / "run", ctx["source"], unit / "cross.olat", ctx["device"], ctx["suite"].train.params)
    truth = _cross_truth(ctx["cross"], ctx["suite"], ctx["seed"], re)
    ds = load_olat(re)
    P = np.stack([ds.read("olat", t).astype(np.float32) for t in range(ds.n_frames)])
    field = ReflectanceField(torch.from_numpy(P))
    leds = ring_leds(ds.dome)
    relit = {lighting_folder(s): (np.ascontiguousarray(P[:, leds[int(s[len(RING):])]]) if is_ring(s)
                                  else relight(field, weights_for(parse_lighting(s), ds.dome)).numpy())
             for s in ctx["specs"]}
    write_predictions(unit / "cross", relit, list(range(ds.n_frames)))
    return {"frames_self": frames, "cross_truth": str(truth), "predict_s_per_frame": t_self / max(len(frames), 1)}


def _dvp_unit(ctx: dict, unit: Path) -> dict:
    from nervp.reenact import predict_frames
    from nervp.train.run import load_run

    _train(ctx["target"], unit / "run", ctx["suite"].dvp_train(), ctx["device"])
    run = load_run(unit / "run", ctx["device"])
    frames = list(run.info.val_frames)
    t0 = time.perf_counter()
    pred = dict(predict_frames(run, run.cond, frames=frames))
    t_self = time.perf_counter() - t0
    full = np.stack([pred[t].full_lit for t in frames])
    alpha = np.stack([pred[t].alpha for t in frames])
    re = _reenact(unit / "run", ctx["source"], unit / "cross.olat", ctx["device"], ctx["suite"].train.params)
    _cross_truth(ctx["cross"], ctx["suite"], ctx["seed"], re)
    ds = load_olat(re)
    cfull = np.stack([ds.read("full_lit", t).astype(np.float32) for t in range(ds.n_frames)])
    calpha = np.stack([ds.read("alpha", t).astype(np.float32) for t in range(ds.n_frames)])
    np.savez(unit / "fulllit.npz", self_frames=np.array(frames), self_full=full, self_alpha=alpha,
             cross_full=cfull, cross_alpha=calpha)
    write_predictions(unit / "self", _relit_all(full, ctx["specs"]), frames)
    write_predictions(unit / "cross", _relit_all(cfull, ctx["specs"]), list(range(ds.n_frames)))
    return {"frames_self": frames, "predict_s_per_frame": t_self / max(len(frames), 1)}


# ---- baselines on DVP's output
def _dvp_output(ctx: dict) -> dict:
    path = ctx["units"] / "dvp" / "fulllit.npz"
    if not path.is_file():
        raise BenchmarkError(f"{path} is missing: the DVP unit must finish first (rerun the benchmark)")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _mtp_unit(ctx: dict, unit: Path) -> dict:
    d = _dvp_output(ctx)
    ref = load_olat(ctx["reference"])
    ref_alpha = ref.read("alpha", 0).astype(np.float32)
    t0, n = time.perf_counter(), 0
    for track, frames in (("self", [int(t) for t in d["self_frames"]]), ("cross", list(range(len(d["cross_full"]))))):
        full, alpha = d[f"{track}_full"], d[f"{track}_alpha"]
        relit = {}
        for s in ctx["specs"]:
            r = truth_relit(ref, [0], s)[0]
            relit[lighting_folder(s)] = np.stack([mtp(full[i], alpha[i], r, ref_alpha, ctx["suite"].mtp_iterations,
                                                      seed=i) for i in range(len(frames))])
            n += len(frames)
        write_predictions(unit / track, relit, frames)
    return {"transfer_s_per_frame": (time.perf_counter() - t0) / max(n, 1)}


def _weights(spec: str, dome) -> np.ndarray:
    """(L, 3) LED weights of a lighting (a ring lighting: its LED alone at weight 1)."""
    from nervp.relight.lighting import parse_lighting, weights_for

    if is_ring(spec):
        w = np.zeros((dome.n_lights, 3), np.float32)
        w[ring_leds(dome)[int(spec[len(RING):])]] = 1.0
        return w
    return weights_for(parse_lighting(spec), dome)


def _sipr_unit(ctx: dict, unit: Path) -> dict:
    from nervp.benchmark.sipr import lighting_code, load_sipr, sipr_relight

    d = _dvp_output(ctx)
    net = load_sipr()
    dome = load_olat(ctx["target"]).dome
    t0, n = time.perf_counter(), 0
    for track, frames in (("self", [int(t) for t in d["self_frames"]]), ("cross", list(range(len(d["cross_full"]))))):
        relit = {lighting_folder(s): sipr_relight(net, d[f"{track}_full"], lighting_code(_weights(s, dome), dome.direction))
                 for s in ctx["specs"]}
        n += len(frames) * len(relit)
        write_predictions(unit / track, relit, frames)
    return {"transfer_s_per_frame": (time.perf_counter() - t0) / max(n, 1)}


def _unrelit_unit(ctx: dict, unit: Path) -> dict:
    d = _dvp_output(ctx)
    t0, n = time.perf_counter(), 0
    for track, ds_path, frames in (("self", ctx["target"], [int(t) for t in d["self_frames"]]),
                                   ("cross", ctx["cross"], list(range(len(d["cross_full"]))))):
        ds = load_olat(ds_path)
        relit = {lighting_folder(s): best_gain(d[f"{track}_full"], truth_relit(ds, frames, s)) for s in ctx["specs"]}
        n += len(frames) * len(relit)
        write_predictions(unit / track, relit, frames)
    return {"transfer_s_per_frame": (time.perf_counter() - t0) / max(n, 1)}


UNITS = {"nervp": _nervp_unit, "dvp": _dvp_unit, "mtp": _mtp_unit, "sipr": _sipr_unit, "unrelit": _unrelit_unit}


def _run_unit(ctx: dict, method: str, log: Log) -> None:
    unit = ctx["units"] / method
    done = unit / "score.json"
    if done.is_file():
        log(f"performer {ctx['seed']} · {method}: done earlier, kept")
        return
    unit.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    info = UNITS[method](ctx, unit)
    wall = time.perf_counter() - t0
    scores = {"self": score_predictions(unit / "self", ctx["target"], ctx["specs"]),
              "cross": score_predictions(unit / "cross", ctx["cross"], ctx["specs"])}
    write_json_atomic(unit / "timing.json", {"unit_wall_s": wall, **info})
    write_json_atomic(done, scores)
    o = scores["self"]["overall"]
    log(f"performer {ctx['seed']} · {method}: self {o['psnr_db']:.2f} dB / {o['ssim']:.3f} / {o['mae']:.4f}, "
        f"cross {scores['cross']['overall']['psnr_db']:.2f} dB ({wall:.0f} s)")
    check_stop()


def run_performer(out: Path, suite: Suite, seed: int, device: str, threads: int | None = None,
                  log: Log = print) -> list[str]:
    """Every method's unit of work for target performer `seed` (its dataset simulated first);
    the log lines, also passed to `log`. `threads`: torch intra-op threads (None: as set). A
    pure function of its arguments and the shared datasets, so it can run in any process."""
    if threads is not None:
        torch.set_num_threads(threads)
    lines: list[str] = []

    def say(msg: str) -> None:
        lines.append(msg)
        log(msg)

    data = out / "data"
    say(f"performer {seed}: simulating")
    ctx = {"suite": suite, "seed": seed, "device": device, "specs": _specs(suite),
           "target": _dataset(data / f"target_{seed}.olat", suite, seed, suite.sim.frames),
           "reference": data / f"reference_{suite.reference_seed}.olat",
           "source": data / f"source_{suite.source_seed}.olat", "cross": data / f"cross_{seed}.olat",
           "units": out / "units" / str(seed)}
    for method in suite.with_methods():
        _run_unit(ctx, method, say)
    return lines


def run_benchmark(out: Path, suite: Suite, device: str = "cpu", log: Log = print,
                  workers: int = 1, scheduler: str | None = None, threads: int | None = None) -> dict:
    """Run (or resume) `suite` into `out`; returns the results (also OUT/results.json).

    Performers run one after another in this process (`workers` 1), on `workers` local Dask
    worker processes, or on the Dask cluster at `scheduler` (its workers must see `out` at the
    same path); each unit of work is the same pure function wherever it runs."""
    from nervp.benchmark.distribute import run_on_dask
    from nervp.benchmark.report import write_report

    suite.validate()
    out = Path(out)
    check_out(out, suite)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "suite.json", suite.to_json())  # the latest methods list
    data = out / "data"
    data.mkdir(exist_ok=True)
    _dataset(data / f"reference_{suite.reference_seed}.olat", suite, suite.reference_seed, 1)
    _dataset(data / f"source_{suite.source_seed}.olat", suite, suite.source_seed, suite.source_frames)
    if scheduler is None and workers <= 1:
        for seed in suite.seeds:
            run_performer(out, suite, seed, device, threads, log)
    else:
        run_on_dask(out.absolute(), suite, device, log, workers, scheduler, threads)
    return write_report(out, suite)


__all__ = ["BenchmarkError", "check_out", "run_benchmark", "run_performer"]
