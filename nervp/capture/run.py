"""`capture`: a raw high-speed light-stage stream -> an aligned, overlapping OLAT dataset.

The work is a map over flow pairs and output sets (see tasks.py) writing disjoint chunks of
a zarr store in a fixed-name work directory `.OUT.partial/`. A task drops a marker when its
chunks are written; a re-run with the same input and settings reuses the directory and skips
every marked task, so a crashed or killed run resumes and ends byte-identical to an
uninterrupted one. Only when every set is done is the manifest written and the dataset
renamed into place, so nothing at OUT ever loads half-written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from nervp.capture.config import CaptureConfig, ExecConfig
from nervp.capture.plan import CapturePlan, open_stream, plan_capture
from nervp.capture.tasks import (
    DATA,
    DONE,
    FLOWS,
    TaskContext,
    flow_task,
    marker,
    release_buffers,
    set_task,
)
from nervp.errors import ConfigError
from nervp.lightstage.dome import Dome, load_dome_file
from nervp.store.olat import olat_manifest
from nervp.store.raw import RawStream
from nervp.store.space import CAPTURED_RATIO, check_free_space, olat_frame_bytes
from nervp.store.zstore import (
    Compression,
    DatasetError,
    check_output,
    dataset_lock,
    frame_array,
    publish_dataset,
    resumable_dir,
    small_array,
)

CAPTURE_VERSION = 1
"""Bumped whenever a change to the algorithm changes output bytes (invalidates resumes)."""

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class CaptureReport:
    """What a capture run did.

    Attributes:
        out: the OLAT dataset written.
        plan: the sets and flows (see CapturePlan).
        sets_run, sets_skipped: output sets computed now / found complete from an earlier run.
        flows_run, flows_skipped: tracking-frame pairs, likewise.
        seconds: wall-clock time of the whole call.
        split: CPU seconds per kind of task ("flow", "set") and step (io, demosaic, flow,
            chain, warp), summed over the tasks run now (process CPU time: exact when a process
            runs one task at a time, as local runs do; includes zarr's codec threads).
        scheduler: where the tasks ran.
    """

    out: Path
    plan: CapturePlan = field(repr=False)
    sets_run: int
    sets_skipped: int
    flows_run: int
    flows_skipped: int
    seconds: float
    split: dict[str, dict[str, float]]
    scheduler: str

    def reuse(self) -> dict[str, float]:
        """How many sets each raw OLAT image serves (min, median, max over images used)."""
        r = self.plan.reuse_counts()
        r = r[r > 0]
        return {"min": int(r.min()), "median": float(np.median(r)), "max": int(r.max())}

    def steps(self) -> dict[str, float]:
        """Task seconds per step over both kinds of task."""
        out: dict[str, float] = {}
        for kind in self.split.values():
            for k, v in kind.items():
                out[k] = out.get(k, 0.0) + v
        return out

    def summary(self) -> str:
        p = self.plan
        lines = [
            f"{p.n_sets} OLAT sets of {p.n_lights} LEDs, {p.height}x{p.width}, from {p.n_images} raw images "
            f"({p.camera_fps:g} fps camera, {p.tracking_fps:g} tracking frames/s)",
            f"output rate {p.output_fps:.4g} sets/s ({_every(p.set_stride)}); each OLAT image serves "
            f"{self.reuse()['min']}-{self.reuse()['max']} sets",
            f"computed {self.sets_run} sets and {self.flows_run} flow pairs, reused {self.sets_skipped} sets "
            f"and {self.flows_skipped} flow pairs from an interrupted run; {self.seconds:.1f} s on {self.scheduler}",
        ]
        steps = self.steps()
        if steps:
            lines.append("task CPU time: " + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(steps.items())))
        return "\n".join(lines)


def _every(stride: int) -> str:
    if stride == 0:
        return "irregular set spacing"
    nth = {1: "", 2: "2nd ", 3: "3rd "}.get(stride, f"{stride}th ")
    return f"a set on every {nth}tracking frame"


def capture(raw_path: Path | str, out: Path | str, cfg: CaptureConfig | None = None,
            exe: ExecConfig | None = None, overwrite: bool = False,
            on_progress: Progress | None = None) -> CaptureReport:
    """Turn the raw stream at `raw_path` into an aligned OLAT dataset at `out`.

    Resumes from `.OUT.partial/` when an earlier run with the same stream and `cfg` was
    interrupted. Raises DatasetError (bad stream, naming the image) or ConfigError.
    """
    t0 = time.perf_counter()
    raw_path, out = Path(raw_path).absolute(), Path(out).absolute()
    cfg, exe = cfg or CaptureConfig(), exe or ExecConfig()
    cfg.validate()
    exe.validate()
    check_output(out, overwrite, "olat", [raw_path])
    raw = open_stream(raw_path, cfg.bayer)
    plan = plan_capture(raw, cfg)
    flow_bytes = plan.n_pairs * plan.height * plan.width * (16 + 8)  # float32 flow pair + its error, uncompressed
    check_free_space(out, plan.n_sets * olat_frame_bytes(plan.n_lights, plan.height, plan.width) * CAPTURED_RATIO
                     + flow_bytes, "the OLAT dataset (with its flows while it is made)")
    stream_dome(raw, cfg)  # a bad --dome is refused before any work
    led_scale = measure_led_scale(raw, cfg)
    work = resumable_dir(out)
    ctx = TaskContext(raw_path, work, plan, cfg, float(raw.manifest["black_level"]),
                      float(raw.manifest["white_level"]), led_scale, exe.threads)
    with dataset_lock(out, "capture"), _connect(exe.scheduler) as client:
        _prepare(work, _fingerprint(raw, cfg, plan, led_scale), plan, cfg.compression)
        flows = [p for p in range(plan.n_pairs) if not marker(work, "flow", p).exists()]
        sets = [t for t in range(plan.n_sets) if not marker(work, "set", t).exists()]
        try:
            results, where = _execute(ctx, flows, sets, exe, client, on_progress)
        finally:
            release_buffers()  # set tasks run in this thread keep 200 MB at 512^2 otherwise
        missing = [t for t in range(plan.n_sets) if not marker(work, "set", t).exists()]
        if missing:
            raise DatasetError(f"set {missing[0]} reported done but its output is missing; run again to redo it")
        group = zarr.open_group(str(work / DATA), mode="r")
        publish_dataset(work / DATA, out, _manifest(raw, cfg, plan, led_scale, group), overwrite)
        shutil.rmtree(work, ignore_errors=True)
    split: dict[str, dict[str, float]] = {"flow": {}, "set": {}}
    for kind, r in zip(["flow"] * len(flows) + ["set"] * len(sets), results, strict=True):
        for k, v in r.items():
            split[kind][k] = split[kind].get(k, 0.0) + v
    return CaptureReport(out, plan, len(sets), plan.n_sets - len(sets), len(flows), plan.n_pairs - len(flows),
                         time.perf_counter() - t0, split, where)


def stream_dome(raw: RawStream, cfg: CaptureConfig) -> Dome:
    """The dome of the capture: `cfg.dome`'s file when given (its LED count must be the
    stream's), else the stream's own record."""
    if cfg.dome is None:
        if "dome" not in raw.manifest:
            raise DatasetError(f"{raw.path}: manifest has no 'dome' (LED geometry); add it (docs/FORMAT.md) or "
                               "pass --dome")
        return Dome.from_json(raw.manifest["dome"])
    dome = load_dome_file(cfg.dome)
    L = int(raw.manifest["n_lights"])
    if dome.n_lights != L:
        raise ConfigError(f"dome file {cfg.dome}: {dome.n_lights} LEDs but the stream {raw.path} lights {L}: give "
                          "the dome of the stage that recorded it")
    return dome


def measure_led_scale(raw: RawStream, cfg: CaptureConfig) -> np.ndarray | None:
    """(L, 3) float32 LED RGB intensity relative to the dome mean, or None when not calibrating."""
    if not (cfg.calibrate or cfg.calibration_file):
        return None
    L = int(raw.manifest["n_lights"])
    src = cfg.calibration_file
    try:
        if src is None and cfg.dome is not None:
            inten, src = stream_dome(raw, cfg).intensity, f"dome file {cfg.dome} rgb"
        elif src is None:
            inten = np.asarray(raw.manifest["dome"]["intensity_rgb"], np.float64)
            src = f"{raw.path} manifest dome.intensity_rgb"
        elif Path(src).suffix == ".npy":
            inten = np.load(src, allow_pickle=False).astype(np.float64)
        else:
            data = json.loads(Path(src).read_text())
            inten = np.asarray(data["intensity_rgb"] if isinstance(data, dict) else data, np.float64)
    except (OSError, ValueError, KeyError, TypeError, OverflowError) as e:
        raise ConfigError(f"cannot read LED calibration from {src}: {e}") from e
    if inten.shape != (L, 3) or not np.all(np.isfinite(inten) & (inten > 0)):
        raise ConfigError(f"LED calibration from {src} must be {L}x3 positive RGB intensities, "
                          f"got shape {inten.shape}")
    return (inten / inten.mean(0)).astype(np.float32)


def _fingerprint(raw: RawStream, cfg: CaptureConfig, plan: CapturePlan, led_scale: np.ndarray | None) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"version": CAPTURE_VERSION, "raw": raw.manifest, "cfg": cfg.to_json(),
                         "bayer": plan.bayer}, sort_keys=True).encode())
    for a in (plan.middles, plan.olat, plan.pairs, raw.small("gain"), raw.small("time"), raw.small("pattern")):
        h.update(np.ascontiguousarray(a).tobytes())
    if led_scale is not None:
        h.update(led_scale.tobytes())
    return h.hexdigest()


def _prepare(work: Path, fingerprint: str, plan: CapturePlan, compression: Compression) -> None:
    """Reuse `work` when it belongs to this very job, else (re)create it with empty arrays."""
    state = work / "state.json"
    if work.exists():
        try:
            same = json.loads(state.read_text()).get("fingerprint") == fingerprint
        except (OSError, ValueError):
            same = False
        if same and (work / DATA).is_dir():
            return
        shutil.rmtree(work)
    T, L, H, W, P = plan.n_sets, plan.n_lights, plan.height, plan.width, plan.n_pairs
    (work / DONE).mkdir(parents=True)
    g = zarr.open_group(str(work / DATA), mode="w-")
    frame_array(g, "olat", (T, L, H, W, 3), "float16", "OLAT images aligned to the set's middle instant, "
                "linear radiance, (T, L, H, W, 3)", compression)
    frame_array(g, "confidence", (T, L, H, W), "float16", "alignment confidence in [0, 1] of each OLAT pixel "
                "(forward-backward flow consistency, inside-frame, unsaturated), (T, L, H, W)", compression)
    frame_array(g, "full_lit", (T, H, W, 3), "float32", "all LEDs on: the sum of the aligned OLAT images, "
                "linear radiance, (T, H, W, 3)", compression)
    frame_array(g, "tracking", (T, H, W, 3), "float32", "the set's middle tracking frame as measured (all LEDs "
                "on at the set's instant), linear radiance, (T, H, W, 3)", compression)
    small_array(g, "time", plan.time, "instant of each set (its middle tracking frame), s, (T,)")
    small_array(g, "source_middle", plan.middles, "raw image index of each set's middle tracking frame, (T,)")
    small_array(g, "source_olat", plan.olat, "raw image index of LED l's image in set t, (T, L)")
    if P:
        fg = zarr.open_group(str(work / FLOWS), mode="w-")
        frame_array(fg, "flow", (P, 2, H, W, 2), "float32", "DIS flow j->j+1 and j+1->j, pixels (x, y)",
                    compression="none")
        frame_array(fg, "fberr", (P, 2, H, W), "float32", "forward-backward error of each flow, pixels",
                    compression="none")
    state.write_text(json.dumps({"fingerprint": fingerprint, "plan": plan.to_json()}))


@contextlib.contextmanager
def _connect(address: str | None) -> Iterator[Any]:
    """A Dask distributed client for `address` (None: no client), connected before any work."""
    if not address:
        yield None
        return
    from distributed import Client

    try:
        client = Client(address, timeout="20s")
    except OSError as e:
        raise ConfigError(f"cannot reach the Dask scheduler at {address} ({e}): check --scheduler") from e
    try:
        yield client
    finally:
        client.close()


def _execute(ctx: TaskContext, flows: list[int], sets: list[int], exe: ExecConfig, client: Any,
             on_progress: Progress | None) -> tuple[list[dict[str, float]], str]:
    """Run the flow tasks, then each set task once its flows are written."""
    import dask

    plan = ctx.plan
    total = len(flows) + len(sets)
    if total == 0:
        return [], "nothing to do"
    c = dask.delayed(ctx, name="capture-context", traverse=False)
    ftasks = {p: dask.delayed(flow_task, pure=False)(c, p, dask_key_name=f"flow-{p:06d}") for p in flows}
    stasks = []
    for t in sets:
        slots = [plan.slot(int(j)) for j in plan.set_pairs(t)] if plan.n_pairs else []
        deps = [ftasks[p] for p in slots if p in ftasks]  # flows done in an earlier run: no edge
        stasks.append(dask.delayed(set_task, pure=False)(c, t, *deps, dask_key_name=f"set-{t:06d}"))
    tasks = list(ftasks.values()) + stasks
    if on_progress is not None:
        on_progress(0, total)
    if client is not None:
        return _on_cluster(tasks, client, on_progress), f"Dask cluster {exe.scheduler}"
    n = min(exe.workers or os.cpu_count() or 1, total)
    cb = _Progress(total, on_progress)
    with cb:
        if n == 1:
            res = dask.compute(*tasks, scheduler="synchronous", optimize_graph=False)
            return list(res), "this process"
        res = dask.compute(*tasks, scheduler="processes", num_workers=n, optimize_graph=False)
    return list(res), f"{n} local processes"


def _on_cluster(tasks: list[Any], client: Any, on_progress: Progress | None) -> list[dict]:
    from distributed import as_completed

    futures = client.compute(tasks, optimize_graph=False)
    for done, _ in enumerate(as_completed(futures), 1):
        if on_progress is not None:
            on_progress(done, len(futures))
    return client.gather(futures)


class _Progress:
    """Dask local-scheduler callback that counts finished capture tasks."""

    def __init__(self, total: int, fn: Progress | None) -> None:
        from dask.callbacks import Callback

        self.total, self.done, self.fn = total, 0, fn

        def post(key: Any, *_: Any) -> None:
            name = key if isinstance(key, str) else str(key)
            if name.startswith(("flow-", "set-")):
                self.done += 1
                if self.fn is not None:
                    self.fn(self.done, self.total)

        self.cb = Callback(posttask=post)

    def __enter__(self) -> _Progress:
        self.cb.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cb.__exit__(*exc)


def _manifest(raw: RawStream, cfg: CaptureConfig, plan: CapturePlan, led_scale: np.ndarray | None,
              group: zarr.Group) -> dict:
    m = raw.manifest
    dome = stream_dome(raw, cfg)
    if led_scale is not None:  # every LED now reads as the dome's mean LED
        dome = Dome(dome.position, dome.direction, dome.solid_angle,
                    np.broadcast_to(dome.intensity.mean(0), dome.intensity.shape).copy(), dome.radius)
    extra = {k: m[k] for k in ("camera", "head_model", "performer") if k in m}
    man = olat_manifest(dome, plan.n_sets, {
        "height": plan.height, "width": plan.width, "fps": plan.output_fps, **extra,
        "source": f"capture of raw stream {raw.path.name}",
        "capture": {"version": CAPTURE_VERSION, "config": cfg.to_json(), **plan.to_json(),
                    "bayer": plan.bayer, "black_level": m["black_level"], "white_level": m["white_level"],
                    "n_raw_images": plan.n_images, "calibrated": led_scale is not None,
                    "full_lit": "sum of the aligned OLAT images; 'tracking' is the measured middle frame",
                    "confidence": f"exp(-e^2 / (2 * {cfg.confidence_px}^2)), e = forward-backward flow error "
                                  "(px, root-sum-square along the chain); 0 outside the frame or saturated"},
    })
    arrays = {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in group.arrays()}
    man["arrays"] = dict(sorted(arrays.items()))
    return man
