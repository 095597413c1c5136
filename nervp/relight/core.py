"""The relighting kernel: ``frame_t = sum_l w_l * OLAT_{t,l}``, one function for every device.

`relight` reads float16 (or float32) images and accumulates in float32. For a low-rank
field the LED weights are first folded into per-basis weights ``v = coeffs @ w`` (K, 3),
so the same kernel runs over K images instead of L.

How it runs. Per frame, the (N, H*W*3) image block is cut into column chunks; each chunk is
converted to float32 into a small scratch buffer that stays in cache and reduced over N by
one matrix product ``(3, N) @ (N, chunk)``, of which the "diagonal" (row c at channel c) is
the result; the products of 32 consecutive chunks share a scratch block whose diagonal is
copied out in one go. The chunk is small on CPU (cache-sized; ops run single-threaded and chunks are
shared among worker threads, which avoids thread-pool barriers per tiny op) and a whole
frame on GPU. On a CPU with AVX2/F16C and a C compiler, float16 fields go through a small
compiled kernel instead (`nervp.relight.native`: conversion in registers, accumulation in L1,
each image read once), with the same column jobs shared among the worker threads.
`relight_reference` is the slow per-light float64 loop both are tested against.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

from nervp.relight import native
from nervp.relight.envmap import LightingError
from nervp.structures.field import ReflectanceField

CPU_CHUNK_BYTES = 1_200_000
"""Float32 scratch per chunk on CPU (N x chunk): 1024 pixels for N = 96, fits in L2."""
CPU_CHUNK_PIXELS = 0
"""Fixed pixels per chunk on CPU (0: from CPU_CHUNK_BYTES); tests set it to probe remainders."""
GPU_CHUNK_BYTES = 1 << 30
"""Largest float32 scratch block on GPU."""


def _weights(field: ReflectanceField, weights: Tensor | np.ndarray) -> Tensor:
    """(T, N, 3) float32 per-image weights on the field's device."""
    dev = field.images.device
    w = torch.as_tensor(np.asarray(weights) if not isinstance(weights, Tensor) else weights,
                        dtype=torch.float32).to(dev)
    T, L = field.n_frames, field.n_lights
    if w.dim() == 2:
        w = w.unsqueeze(0).expand(T, -1, -1)
    if w.dim() != 3 or w.shape[1:] != (L, 3) or w.shape[0] != T:
        raise LightingError(f"LED weights have shape {tuple(w.shape)}; this field needs ({L}, 3) or "
                            f"({T}, {L}, 3): {L} LEDs, {T} frames")
    if not torch.isfinite(w).all():
        raise LightingError("LED weights must be finite")
    if field.coeffs is not None:
        w = torch.einsum("kl,tlc->tkc", field.coeffs.to(dev, torch.float32), w)
    return w


@contextlib.contextmanager
def _single_threaded_ops() -> Iterator[int]:
    """Run torch ops single-threaded inside; yields the thread count to use for workers."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield n
    finally:
        torch.set_num_threads(n)


def relight(field: ReflectanceField, weights: Tensor | np.ndarray, workers: int | None = None,
            out: Tensor | None = None) -> Tensor:
    """Relit frames (T, H, W, 3) float32 linear Rec. 709 radiance on the field's device.

    field: full (N = L OLAT images) or low-rank (N = K basis images + (K, L) coeffs).
    weights: (L, 3) for every frame or (T, L, 3) per frame, linear RGB multipliers of the
        OLAT images (`nervp.relight.weights_for`).
    workers: CPU threads sharing the chunks (default: torch's intra-op thread count).
    out: optional preallocated (T, H, W, 3) float32 result on the field's device.
    """
    w = _weights(field, weights)
    T, N, H, W, _ = field.images.shape
    P3 = H * W * 3
    imgs = field.images.reshape(T, N, P3)
    if not imgs.is_contiguous():
        imgs = imgs.contiguous()
    wt = w.transpose(1, 2).contiguous()  # (T, 3, N)
    if out is None:
        out = torch.empty(T, H, W, 3, dtype=torch.float32, device=imgs.device)
    elif out.shape != (T, H, W, 3) or out.dtype != torch.float32 or not out.is_contiguous():
        raise ValueError(f"out must be a contiguous float32 ({T}, {H}, {W}, 3) tensor")
    flat = out.view(T, P3)
    if T == 0 or P3 == 0:
        return out
    fn = native.kernel() if imgs.device.type == "cpu" and imgs.dtype == torch.float16 else None
    if fn is not None:
        _run_native(fn, imgs, w, flat, workers)
        return out
    if imgs.device.type == "cpu":
        ch = 3 * (CPU_CHUNK_PIXELS or max(256, CPU_CHUNK_BYTES // (12 * N)))
        n_chunks = T * -(-P3 // ch)
        n_workers = max(1, min(workers or torch.get_num_threads(), os.cpu_count() or 1))
        # groups small enough that every worker gets several (a few big jobs leave workers idle)
        group = max(1, min(GROUP_CHUNKS, n_chunks // (4 * n_workers)))
    else:
        ch = max(3, min(P3, (GPU_CHUNK_BYTES // (4 * N)) // 3 * 3))
        group = 1
    # jobs: (frame, first column, its chunks as views); `split` makes all views in one call
    jobs = []
    for t in range(T):
        chunks = imgs[t].split(ch, dim=1)
        jobs += [(t, i * ch, chunks[i:i + group]) for i in range(0, len(chunks), group)]
    if imgs.device.type == "cpu":
        with _single_threaded_ops() as n_threads:
            n = max(1, min(workers or n_threads, os.cpu_count() or 1, len(jobs)))
            if n == 1:
                _run(wt, flat, _Jobs(jobs), ch, group)
            else:  # workers take the next group when free: a stalled core does not hold up the rest
                queue = _Jobs(jobs)
                list(_pool(n).map(lambda _: _run(wt, flat, queue, ch, group), range(n)))
    else:
        _run(wt, flat, _Jobs(jobs), ch, group)
    return out


NATIVE_COLUMNS = 48 * 512
"""Columns (values) per job of the compiled kernel: 8192 pixels, a few dozen jobs per 512² frame."""


def _run_native(fn, imgs: Tensor, w: Tensor, flat: Tensor, workers: int | None) -> None:
    """Relight (T, N, P3) float16 `imgs` with per-frame weights `w` (T, N, 3) into `flat`
    (T, P3) with the compiled kernel; column jobs are shared among worker threads (the call
    releases the GIL)."""
    T, N, P3 = imgs.shape
    wpat = w.repeat(1, 1, 16).contiguous()  # (T, N, 48): RGB weights lined up with 16 pixels
    src, dst, wp = imgs.data_ptr(), flat.data_ptr(), wpat.data_ptr()
    jobs = [(src + 2 * (t * N * P3 + c0), wp + 4 * t * N * 48, dst + 4 * (t * P3 + c0), min(NATIVE_COLUMNS, P3 - c0))
            for t in range(T) for c0 in range(0, P3, NATIVE_COLUMNS)]

    def work(queue: _Jobs) -> None:
        for a, b, c, n in queue:
            fn(a, P3, N, b, c, n)

    n = max(1, min(workers or torch.get_num_threads(), os.cpu_count() or 1, len(jobs)))
    if n == 1:
        work(_Jobs(jobs))
    else:
        queue = _Jobs(jobs)
        list(_pool(n).map(lambda _: work(queue), range(n)))


GROUP_CHUNKS = 32
"""Chunks whose (3, chunk) products share one scratch block before their diagonal is copied out."""

_POOL: tuple[int, ThreadPoolExecutor] | None = None  # (threads, pool)
_POOL_LOCK = threading.Lock()


def _pool(n: int) -> ThreadPoolExecutor:
    """A process-wide worker pool with at least `n` threads (threads cost ~0.1 ms each to start,
    a noticeable share of a 5 ms relight)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL[0] < n:
            if _POOL is not None:
                _POOL[1].shutdown(wait=False)
            _POOL = (n, ThreadPoolExecutor(n, thread_name_prefix="nervp-relight"))
        return _POOL[1]


class _Jobs:
    """A queue of column groups shared by the worker threads (thread-safe `next`)."""

    def __init__(self, jobs: list[tuple]):
        self.first = jobs[0]
        self._it = iter(jobs)
        self._lock = threading.Lock()

    def __iter__(self) -> _Jobs:
        return self

    def __next__(self) -> tuple:
        with self._lock:
            return next(self._it)


def _run(wt: Tensor, out: Tensor, jobs: _Jobs, ch: int, group: int) -> None:
    """Relight column groups taken from `jobs` ((frame, first column, (N, <=ch) chunk views))
    into `out` (T, P3) until none are left. Two torch calls per chunk (convert, multiply) and
    one per group (diagonal): on CPU the Python between them is what limits small chunks."""
    src0 = jobs.first[2][0]
    N, dev = src0.shape[0], src0.device
    convert = src0.dtype != torch.float32
    buf = torch.empty(N, ch, dtype=torch.float32, device=dev) if convert else None
    z = torch.empty(group, 3, ch, dtype=torch.float32, device=dev)
    slots = z.unbind(0)
    for t, s0, chunks in jobs:
        w = wt[t]
        for src, zk in zip(chunks, slots[:len(chunks)], strict=True):
            n = src.shape[1]
            if n < ch:  # the frame's last, short chunk
                zk = zk[:, :n]
            if convert:
                b = buf if n == ch else buf[:, :n]
                b.copy_(src)
                src = b
            torch.mm(w, src, out=zk)
        full = sum(c.shape[1] == ch for c in chunks)
        if full:
            out[t, s0:s0 + full * ch].view(full, ch // 3, 3).copy_(
                torch.diagonal(z[:full].view(full, 3, ch // 3, 3), dim1=1, dim2=3))
        if full < len(chunks):
            rem = chunks[-1].shape[1]
            out[t, s0 + full * ch:s0 + full * ch + rem].view(rem // 3, 3).copy_(
                torch.diagonal(z[full, :, :rem].reshape(3, rem // 3, 3), dim1=0, dim2=2))


def relight_reference(field: ReflectanceField, weights: Tensor | np.ndarray) -> Tensor:
    """Slow, obviously-correct relighting (tests): a float64 loop over frames and LEDs,
    expanding a low-rank field to its OLAT images first. Returns (T, H, W, 3) float32."""
    T, L = field.n_frames, field.n_lights
    w = torch.as_tensor(np.asarray(weights.cpu() if isinstance(weights, Tensor) else weights),
                        dtype=torch.float64)
    if w.dim() == 2:
        w = w.unsqueeze(0).expand(T, -1, -1)
    if tuple(w.shape) != (T, L, 3):
        raise LightingError(f"LED weights have shape {tuple(w.shape)}, expected ({L}, 3) or ({T}, {L}, 3)")
    imgs = field.images.cpu().double()
    coeffs = None if field.coeffs is None else field.coeffs.cpu().double()
    H, W = field.size
    out = torch.zeros(T, H, W, 3, dtype=torch.float64)
    for t in range(T):
        for light in range(L):
            if coeffs is None:
                olat = imgs[t, light]
            else:
                olat = sum(coeffs[k, light] * imgs[t, k] for k in range(coeffs.shape[0]))
            out[t] += olat * w[t, light]
    return out.float()
