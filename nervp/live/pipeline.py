"""`nervp live`: a pipeline of threads joined by bounded queues, one frame in, one frame out.

    source ──q_in──► parse (CPU: MediaPipe, One-Euro, fit, eq. 6) ──q_parsed──►
      render (device: maps, window, translator, relight, matte, composite) ──q_out──► output

Each stage is a thread; the queues hold `queue` items, so tracking of frame t + 1 on the CPU
overlaps the device's work on frame t, and the output of frame t - 1. Only the source drops:
when `q_in` is full the oldest waiting frame is thrown away (counted) for the new one, so a
slow pipeline shows fresh frames late by a bounded amount instead of falling ever further
behind. A file source plays at its own frame rate (`realtime`, a camera's behaviour) or, with
`realtime=False`, as fast as the pipeline takes it (nothing dropped: the offline equivalence).

Latency (glass to glass) of a frame: from the moment the source handed it over to the moment
its composited picture reaches the output (the encoder or the page's stream).
A frame without a face shows the last good frame again (held, counted, and said once per
stretch). A first SIGINT/SIGTERM ends the stream: the output is finished and playable.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from nervp.errors import NervpError, stop_requested
from nervp.live.engine import LiveRenderer, RenderedFrame
from nervp.parse.stream import CausalParser

STAGES = ("parse", "maps", "translate", "relight", "composite")

_END = object()


@dataclass(frozen=True)
class LiveReport:
    """What a live session did.

    Attributes:
        frames_in: frames the source delivered. frames_out: frames rendered and output.
        dropped: frames thrown away because the pipeline was busy (frames_in - processed).
        held: output frames that repeat the last good frame (no face in the source frame).
        seconds: wall time from the first source frame to the last output.
        fps: frames_out / seconds. latency_ms: mean and 95th percentile glass-to-glass latency.
        stage_ms: mean time per processed frame of each stage (`STAGES`), milliseconds.
        no_face: (first, last) source frame of each stretch without a face.
    """

    frames_in: int
    frames_out: int
    dropped: int
    held: int
    seconds: float
    fps: float
    latency_ms: tuple[float, float]
    stage_ms: dict[str, float]
    no_face: tuple[tuple[int, int], ...] = ()

    def line(self) -> str:
        pct = 100.0 * self.dropped / max(self.frames_in, 1)
        return (f"live: frames in {self.frames_in}, out {self.frames_out}, dropped {self.dropped} ({pct:.1f}%), "
                f"held {self.held} (no face); {self.fps:.1f} fps mean; latency {self.latency_ms[0]:.0f} ms mean, "
                f"{self.latency_ms[1]:.0f} ms p95")

    def to_json(self) -> dict:
        return {"frames_in": self.frames_in, "frames_out": self.frames_out, "dropped": self.dropped,
                "held": self.held, "seconds": self.seconds, "fps": self.fps,
                "latency_ms_mean": self.latency_ms[0], "latency_ms_p95": self.latency_ms[1],
                "stage_ms": self.stage_ms, "no_face": [list(s) for s in self.no_face]}


@dataclass(frozen=True)
class OutItem:
    """One frame reaching the output: source index, capture time (perf_counter), the frame,
    and whether it repeats the last good frame."""

    index: int
    captured: float
    frame: RenderedFrame
    held: bool


@dataclass
class _Shared:
    stop: threading.Event = field(default_factory=threading.Event)
    ready: threading.Event = field(default_factory=threading.Event)
    halt: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)
    frames_in: int = 0
    dropped: int = 0
    held: int = 0
    processed: int = 0
    stage_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    no_face: list[list[int]] = field(default_factory=list)


def _put(q: queue.Queue, item, sh: _Shared) -> bool:
    """Blocking put that gives up when the pipeline stops."""
    while not sh.stop.is_set():
        try:
            q.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue, sh: _Shared):
    while True:
        try:
            return q.get(timeout=0.05)
        except queue.Empty:
            if sh.stop.is_set():
                return _END


def _guard(fn: Callable[..., None], sh: _Shared, out: queue.Queue | None) -> Callable[..., None]:
    def run(*args) -> None:
        try:
            fn(*args)
        except BaseException as e:  # handed to the caller's thread, which raises it
            sh.errors.append(e)
            sh.stop.set()
        finally:
            if out is not None:
                _put(out, _END, sh)  # waits for room (the next stage is still taking frames)
    return run


def _reader(frames: Iterator[np.ndarray], fps: float, paced: bool, drop: bool, limit: int | None,
            q_in: queue.Queue, sh: _Shared) -> None:
    while not sh.ready.wait(0.05):  # the stream starts once the tracker is up, as a call would
        if sh.stop.is_set():
            return
    t0 = time.perf_counter()
    for i, img in enumerate(frames):
        if sh.stop.is_set() or sh.halt.is_set() or stop_requested() or (limit is not None and i >= limit):
            break
        if paced:
            wait = t0 + i / fps - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        item = (i, img, time.perf_counter())
        sh.frames_in += 1
        if not drop:
            if not _put(q_in, item, sh):
                break
            continue
        while True:
            try:
                q_in.put_nowait(item)
                break
            except queue.Full:
                try:
                    q_in.get_nowait()  # the oldest waiting frame makes room for the newest
                    sh.dropped += 1
                except queue.Empty:
                    pass


def _parser(parser: CausalParser, q_in: queue.Queue, q_parsed: queue.Queue, sh: _Shared) -> None:
    with parser:
        sh.ready.set()
        while (item := _get(q_in, sh)) is not _END:
            i, img, captured = item
            t = time.perf_counter()
            driven = parser(img)
            sh.stage_s["parse"] += time.perf_counter() - t
            if not _put(q_parsed, (i, captured, driven), sh):
                return


def _renderer(renderer: LiveRenderer, q_parsed: queue.Queue, q_out: queue.Queue, sh: _Shared,
              say: Callable[[str], None]) -> None:
    last: RenderedFrame | None = None
    while (item := _get(q_parsed, sh)) is not _END:
        i, captured, driven = item
        sh.processed += 1
        if driven is None:
            if not sh.no_face or sh.no_face[-1][1] is not None:
                sh.no_face.append([i, None])
                say(f"live: no face from source frame {i}: holding the last good frame"
                    + ("" if last is not None else " (none yet: black)"))
            sh.held += 1
            frame, held = (last if last is not None else renderer.blank()), True
        else:
            if sh.no_face and sh.no_face[-1][1] is None:
                sh.no_face[-1][1] = i - 1
                a, b = sh.no_face[-1]
                say(f"live: face back at source frame {i} after {b - a + 1} frame(s) without one")
            frame, held = renderer.render(driven), False
            for k, v in frame.seconds.items():
                sh.stage_s[k] = sh.stage_s.get(k, 0.0) + v
            last = frame
        if not _put(q_out, OutItem(i, captured, frame, held), sh):
            return


def run_pipeline(frames: Iterator[np.ndarray], fps: float, parser: CausalParser, renderer: LiveRenderer,
                 consume: Callable[[Iterator[OutItem]], None], *, paced: bool = True, drop: bool = True,
                 queue_size: int = 2, limit: int | None = None,
                 say: Callable[[str], None] = print, stop: threading.Event | None = None) -> LiveReport:
    """Run source -> parse -> render threads and hand the output stream to `consume` (in this
    thread); returns the report once the source ends (or a stop is asked for: SIGINT/SIGTERM,
    or the event `stop` set) and every frame taken in has come out. Raises what a stage raised."""
    if queue_size < 1:
        raise NervpError(f"--queue must be at least 1, got {queue_size}")
    sh = _Shared(halt=stop or threading.Event())
    q_in: queue.Queue = queue.Queue(queue_size)
    q_parsed: queue.Queue = queue.Queue(queue_size)
    q_out: queue.Queue = queue.Queue(queue_size)
    threads = [
        threading.Thread(target=_guard(_reader, sh, q_in), args=(frames, fps, paced, drop, limit, q_in, sh),
                         name="live-source", daemon=True),
        threading.Thread(target=_guard(_parser, sh, q_parsed), args=(parser, q_in, q_parsed, sh),
                         name="live-parse", daemon=True),
        threading.Thread(target=_guard(_renderer, sh, q_out), args=(renderer, q_parsed, q_out, sh, say),
                         name="live-render", daemon=True),
    ]
    latencies: list[float] = []
    t_first: list[float] = []
    t_last = [0.0]

    def stream() -> Iterator[OutItem]:
        while (item := _get(q_out, sh)) is not _END:
            if not t_first:
                t_first.append(item.captured)
            yield item
            now = time.perf_counter()
            latencies.append(now - item.captured)
            t_last[0] = now

    for th in threads:
        th.start()
    try:
        consume(stream())
    except BaseException:
        sh.stop.set()
        raise
    finally:
        sh.stop.set()
        for th in threads:
            th.join(timeout=10.0)
    if sh.errors:
        raise sh.errors[0]
    if sh.no_face and sh.no_face[-1][1] is None:
        sh.no_face[-1][1] = sh.frames_in - 1
    n = len(latencies)
    secs = (t_last[0] - t_first[0]) if t_first else 0.0
    lat = np.asarray(latencies) * 1000.0 if n else np.zeros(1)
    rendered = max(sh.processed - sh.held, 1)
    stage_ms = {k: 1000.0 * v / (max(sh.processed, 1) if k == "parse" else rendered) for k, v in sh.stage_s.items()}
    return LiveReport(sh.frames_in, n, sh.dropped, sh.held, secs, (n - 1) / secs if secs > 0 and n > 1 else 0.0,
                      (float(lat.mean()), float(np.percentile(lat, 95))), stage_ms,
                      tuple((int(a), int(b)) for a, b in sh.no_face))


Output = Literal["file", "http"]

__all__ = ["LiveReport", "OutItem", "STAGES", "run_pipeline"]
