"""The two kinds of task in the capture graph. Each reads the raw stream, writes its own
chunks of the work directory's zarr arrays, then drops a completion marker; nothing large
travels through the scheduler, so the same tasks run in this process, in local worker
processes or on a Dask cluster whose workers share the file system.

- flow task p: develop tracking frames j and j+1 (j = plan.pairs[p]), DIS flow both ways,
  forward-backward errors -> flows/flow[p], flows/fberr[p].
- set task t: chain the flows of its groups to the middle frame, warp its L OLAT images,
  confidence, full-lit (their sum) and the measured middle tracking frame -> data/olat[t],
  data/confidence[t], data/full_lit[t], data/tracking[t].
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import zarr

from nervp.capture.align import (
    FlowChain,
    confidence,
    develop,
    develop_batch,
    flow_image,
    grid,
    limit_threads,
    pair_flows,
    warp_many,
)
from nervp.capture.config import CaptureConfig
from nervp.capture.plan import CapturePlan
from nervp.store.zstore import read_chunk

DATA, FLOWS, DONE = "data", "flows", "done"
BATCH = 16
"""OLAT images developed together (bounds a set task's memory at high resolution)."""


@dataclass(frozen=True)
class TaskContext:
    """What every task needs, small enough to send with each task.

    led_scale: (L, 3) float32 relative LED RGB intensity to divide out, or None.
    """

    raw: Path
    work: Path
    plan: CapturePlan
    cfg: CaptureConfig
    black: float
    white: float
    led_scale: np.ndarray | None = field(default=None, repr=False)
    threads: int = 1


def marker(work: Path, kind: str, k: int) -> Path:
    """Completion marker of flow pair slot k (`kind` "flow") or output set k ("set")."""
    return Path(work) / DONE / f"{kind}-{k:06d}"


@functools.lru_cache(maxsize=4)
def _stream(raw: Path, stamp: int) -> tuple[zarr.Group, np.ndarray, np.ndarray]:
    g = zarr.open_group(str(raw), mode="r")
    return g, read_chunk(g["time"], slice(None), raw, "time"), read_chunk(g["gain"], slice(None), raw, "gain")


def _open(ctx: TaskContext) -> tuple[zarr.Array, np.ndarray, np.ndarray]:
    g, t, gain = _stream(Path(ctx.raw), (Path(ctx.raw) / "manifest.json").stat().st_mtime_ns)
    return g["images"], t, gain


class _Clock:
    """CPU seconds of this process per step (a task's own cost, whatever else the machine runs;
    zarr's codec threads included)."""

    def __init__(self) -> None:
        self.split: dict[str, float] = {}
        self._t = time.process_time()

    def lap(self, name: str) -> None:
        now = time.process_time()
        self.split[name] = self.split.get(name, 0.0) + now - self._t
        self._t = now


_BUFFERS = threading.local()


def _set_buffers(L: int, H: int, W: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """This thread's OLAT, confidence and full-lit buffers for one set, kept between set tasks
    (a fresh 150 MB array, 96 LEDs at 512^2, costs a page fault per 4 KiB on first touch); per
    thread, as a Dask worker may run several set tasks at once in one process."""
    key = (L, H, W)
    if getattr(_BUFFERS, "key", None) != key:
        _BUFFERS.key = key
        _BUFFERS.arrays = (np.empty((L, H, W, 3), np.float16), np.empty((L, H, W), np.float16),
                           np.empty((H, W, 3), np.float32))
    return _BUFFERS.arrays


def release_buffers() -> None:
    """Free this thread's set buffers (a capture run in this process calls it when done)."""
    _BUFFERS.__dict__.clear()


def _to_half(dst: np.ndarray, src: np.ndarray) -> None:
    """dst (float16) = src (float32), rounded to nearest even as numpy's cast; torch's
    vectorised conversion is about 8x faster on a CPU."""
    torch.from_numpy(dst).copy_(torch.from_numpy(src))


def _add_half(acc: np.ndarray, x: np.ndarray) -> None:
    """acc (float32) += x (float16), exactly as `acc += x` (the float16 -> float32 widening is
    exact), with the widening done by torch (faster than numpy's mixed-type loop)."""
    np.add(acc, torch.from_numpy(x).float().numpy(), out=acc)


def _read(ctx: TaskContext, images: zarr.Array, i: int) -> np.ndarray:
    return read_chunk(images, i, Path(ctx.raw), "images")


def flow_task(ctx: TaskContext, p: int) -> dict[str, float]:
    """Flows between tracking frames j and j+1 (j = plan.pairs[p]); returns CPU seconds per step."""
    clock = _Clock()
    with limit_threads(ctx.threads):
        images, _, gain = _open(ctx)
        j = int(ctx.plan.pairs[p])
        a_i, b_i = int(ctx.plan.tracking[j]), int(ctx.plan.tracking[j + 1])
        a_dn, b_dn = _read(ctx, images, a_i), _read(ctx, images, b_i)
        clock.lap("io")
        dev = functools.partial(develop, bayer=ctx.plan.bayer, black=ctx.black, white=ctx.white)
        a, b = dev(a_dn, gain=float(gain[a_i])), dev(b_dn, gain=float(gain[b_i]))
        scale = float(gain[a_i])  # radiance -> fraction of white for both images of the pair
        a8, b8 = flow_image(a, scale), flow_image(b, scale)
        clock.lap("demosaic")
        flows, errors = pair_flows(a8, b8, ctx.cfg.flow_preset)
        clock.lap("flow")
        g = zarr.open_group(str(Path(ctx.work) / FLOWS), mode="r+")
        g["flow"][p] = flows
        g["fberr"][p] = errors
        marker(ctx.work, "flow", p).touch()
        clock.lap("io")
    return clock.split


def set_task(ctx: TaskContext, t: int, *after: object) -> dict[str, float]:
    """Align output set t and write it; `after` only orders it behind its flow tasks."""
    clock = _Clock()
    plan, cfg = ctx.plan, ctx.cfg
    with limit_threads(ctx.threads):
        images, times, gain = _open(ctx)
        H, W, L = plan.height, plan.width, plan.n_lights
        base = grid(H, W)
        chain = None
        if cfg.align:
            fl = zarr.open_group(str(Path(ctx.work) / FLOWS), mode="r")
            flows, errors = {}, {}
            for j in plan.set_pairs(t):
                p = plan.slot(int(j))
                flows[int(j)], errors[int(j)] = fl["flow"][p], fl["fberr"][p]
            clock.lap("io")
            chain = FlowChain(plan.track_no(int(plan.middles[t])), flows, errors)
            clock.lap("chain")
        olat, conf, full = _set_buffers(L, H, W)
        full[:] = 0.0  # the stored (float16) images summed in LED order
        for lo in range(0, L, BATCH):
            leds = np.arange(lo, min(lo + BATCH, L))
            src = plan.olat[t, leds]
            dn = np.stack([_read(ctx, images, int(i)) for i in src])
            clock.lap("io")
            scale = None if ctx.led_scale is None else ctx.led_scale[leds]
            rgb = develop_batch(dn, plan.bayer, ctx.black, ctx.white, gain[src], scale)
            saturated = (dn >= ctx.white).astype(np.float32)
            clock.lap("demosaic")
            for k, (led, i) in enumerate(zip(leds, src, strict=True)):
                if chain is None:
                    _to_half(olat[led], rgb[k])
                    _to_half(conf[led], 1.0 - saturated[k])
                    _add_half(full, olat[led])
                    continue
                j = plan.track_no(int(i))
                t0, t1 = times[plan.tracking[j]], times[plan.tracking[j + 1]]
                disp, err = chain.at(j, float((times[i] - t0) / (t1 - t0)))
                clock.lap("chain")
                (img, sat), ins = warp_many([rgb[k], saturated[k]], disp, base)
                _to_half(olat[led], img)
                _add_half(full, olat[led])
                c = confidence(err, cfg.confidence_px)
                c[(sat > 0) | ~ins] = 0.0
                _to_half(conf[led], c)
                clock.lap("warp")
            clock.lap("warp")
        m = int(plan.middles[t])
        mdn = _read(ctx, images, m)
        clock.lap("io")
        tracking = develop(mdn, plan.bayer, ctx.black, ctx.white, float(gain[m]))
        clock.lap("demosaic")
        g = zarr.open_group(str(Path(ctx.work) / DATA), mode="r+")
        g["olat"][t] = olat
        g["confidence"][t] = conf
        g["full_lit"][t] = full
        g["tracking"][t] = tracking
        marker(ctx.work, "set", t).touch()
        clock.lap("io")
    return clock.split
