"""`nervp live RUN --source ... --out ...`: settings, and one session from source to output."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from nervp.colour import ToneMap
from nervp.composite.display import DisplayConfig
from nervp.errors import ConfigError, NervpError, cooperative
from nervp.live.engine import LiveRenderer, Precision
from nervp.live.pipeline import LiveReport, OutItem, run_pipeline
from nervp.live.sources import open_source
from nervp.parse.stream import CausalConfig, CausalParser
from nervp.relight.weights import Spread


@dataclass(frozen=True)
class LiveSettings:
    """How `nervp live` runs (each field is a command-line option)."""

    light: str = "studio"
    """An environment map (.hdr, .exr), a procedural environment or a look (`nervp relight --light`)."""
    background: str = "env"
    """env (the lighting's own view through the camera), black, grey, none, #RRGGBB, a picture,
    a video (looped) or an equirectangular .hdr/.exr."""
    pose: Literal["tracked", "fixed"] = "tracked"
    """fixed: the head held frontal at the target's mean position (virtual conference)."""
    size: int | None = None
    """Output height in pixels (width keeps the run's aspect; divisible by the translator's
    2^depth); default the run's own size, the one it was trained at."""
    device: str = "auto"
    """auto (CUDA when available), cpu, cuda or cuda:N: where maps, translator and relighting run."""
    precision: Precision = "fp32"
    """Translator arithmetic: fp32, or autocast to bf16 (CPU or GPU) or fp16 (GPU)."""
    normalize: bool = True
    """Normalise the source's pose and expression to the target's (eq. 6, running statistics)."""
    realtime: bool = True
    """A file source plays at its own frame rate, as a camera would (frames are dropped when the
    pipeline is slower); --no-realtime takes its frames as fast as the pipeline goes (none dropped)."""
    source_fps: float | None = None
    """Play a file source at this rate instead of its own (e.g. faster than the pipeline)."""
    loop: bool = False
    """Play a file source again at its end (for the page: --out http://...)."""
    frames: int | None = None
    """Stop after this many source frames (default: the whole source)."""
    queue: int = 2
    """Frames each stage's queue holds (larger: smoother under jitter, more latency)."""
    threads: int = 1
    """Torch intra-op threads on the CPU. The stages already run in parallel (parse and render
    a core each); more threads per op oversubscribe the cores, and OpenMP's spin-waiting then
    slows each op many times (measured: the translator 5-10x slower with 2 threads on 2 busy cores)."""
    ev: float = 0.0
    """Exposure compensation, stops."""
    auto_exposure: bool = True
    """Meter the exposure once on the first frame with a face (off: 2^ev)."""
    tonemap: ToneMap = "filmic"
    """Display tone curve."""
    spread: Spread = "voronoi"
    """How an environment's texels go to LEDs (`nervp relight --spread`)."""
    crf: int = 18
    """H.264 quality of an MP4 output."""
    overwrite: bool = False
    """Replace an existing output file."""
    parse: CausalConfig = field(default_factory=CausalConfig)
    """Causal tracking, smoothing, fitting and eq. 6 (`nervp.parse.stream`)."""

    def validate(self) -> None:
        self.parse.validate()
        if self.size is not None and not 16 <= self.size <= 4096:
            raise ConfigError(f"--size must be in 16..4096 pixels, got {self.size}")
        if self.source_fps is not None and not (math.isfinite(self.source_fps) and 0 < self.source_fps <= 10000):
            raise ConfigError(f"--source-fps must be in (0, 10000], got {self.source_fps}")
        if self.frames is not None and self.frames < 1:
            raise ConfigError(f"--frames must be at least 1, got {self.frames}")
        if self.queue < 1:
            raise ConfigError(f"--queue must be at least 1, got {self.queue}")
        if not 1 <= self.threads <= 256:
            raise ConfigError(f"--threads must be in 1..256, got {self.threads}")
        if not (math.isfinite(self.ev) and abs(self.ev) <= 20):
            raise ConfigError(f"--ev must be within +-20 stops, got {self.ev}")
        if not 0 <= self.crf <= 51:
            raise ConfigError(f"--crf must be in 0..51, got {self.crf}")


def build(run_dir: Path, s: LiveSettings, source_size: tuple[int, int], source_fps: float,
          keep_linear: bool = False, timing: bool = False) -> tuple[CausalParser, LiveRenderer]:
    """The parse and render stages for `run_dir` (loaded once, on `s.device`)."""
    from nervp.train.run import load_run

    run = load_run(run_dir, s.device)
    disp = DisplayConfig(ev=s.ev, auto=s.auto_exposure, tonemap=s.tonemap)
    renderer = LiveRenderer(run, s.size, s.light, s.background, s.spread, disp, s.precision, keep_linear, timing)
    parser = CausalParser(renderer.stats, source_size[0], source_size[1], source_fps, s.parse, s.normalize, s.pose)
    return parser, renderer


def _filled(items: Iterator[OutItem], on_item: Callable[[OutItem], None] | None) -> Iterator:
    """Output pictures in source time: a dropped source frame repeats the picture before it,
    so the file lasts as long as the source did."""
    from nervp.composite.output import OutFrame

    prev: OutItem | None = None
    for it in items:
        if on_item is not None:
            on_item(it)
        f = it.frame
        if prev is not None:
            for _ in range(it.index - prev.index - 1):
                p = prev.frame
                yield OutFrame(p.picture, p.linear, p.alpha)
        yield OutFrame(f.picture, f.linear, f.alpha)
        prev = it


def run_live(run_dir: Path, source: str, out: str, s: LiveSettings = LiveSettings(),
             say: Callable[[str], None] = print, on_item: Callable[[OutItem], None] | None = None,
             server_ready: Callable[[object], None] | None = None, stop=None) -> LiveReport:
    """One live session (module docstring of `nervp.live.pipeline`); `out` is OUT.mp4 (or a
    PNG/EXR sequence) or http://127.0.0.1:PORT. Prints the final line through `say`; `on_item`
    sees every output frame, `server_ready` the page's server once it serves, and setting the
    threading.Event `stop` ends the session as SIGINT does."""
    s.validate()
    n_threads = torch.get_num_threads()
    try:
        if str(s.device).strip().lower() in ("cpu", "auto") and not torch.cuda.is_available():
            torch.set_num_threads(s.threads)
        return _run_live(run_dir, source, out, s, say, on_item, server_ready, stop)
    finally:
        torch.set_num_threads(n_threads)


def _run_live(run_dir, source, out, s: LiveSettings, say, on_item, server_ready, stop) -> LiveReport:
    http = str(out).startswith("http://")
    server = None
    spec = None
    if http:
        from nervp.live.server import LiveServer, parse_address

        host, port = parse_address(str(out))
        server = LiveServer(host, port)  # binds now: a port in use fails before anything loads
    else:
        from nervp.composite.output import output_spec

        spec = output_spec(Path(out), s.overwrite, False, [Path(source), Path(run_dir)])
    src = None
    try:
        src = open_source(source, loop=s.loop)
        info = src.info
        fps = s.source_fps or info.fps
        parser, renderer = build(run_dir, s, (info.width, info.height), info.fps,
                                 keep_linear=(spec is not None and spec.kind == "exr") or on_item is not None)
        paced = s.realtime or s.source_fps is not None or info.kind == "webcam"
        drop = paced
        if server is not None:
            server.attach(renderer, parser)
            say(f"live: open http://{server.host}:{server.port}/ in a browser (Ctrl-C to stop)")
            if server_ready is not None:
                server_ready(server)

            def consume(items: Iterator[OutItem]) -> None:
                for it in items:
                    if on_item is not None:
                        on_item(it)
                    server.publish(it.frame.picture)
        else:
            from nervp.composite.output import write_clip

            def consume(items: Iterator[OutItem]) -> None:
                written = write_clip(spec, _filled(items, on_item), info.fps, s.crf)
                say(f"live: wrote {spec.path} ({written} frames at {info.fps:g} fps, "
                    f"{renderer.width}x{renderer.height})")

        try:
            with cooperative():  # a first SIGINT/SIGTERM ends the stream; the output is finished
                report = run_pipeline(src.frames(), fps, parser, renderer, consume, paced=paced, drop=drop,
                                      queue_size=s.queue, limit=s.frames, say=say, stop=stop)
        finally:
            renderer.close()
    except ValueError as e:
        if isinstance(e, NervpError):
            raise
        raise NervpError(str(e)) from e
    finally:
        if src is not None:
            src.close()
        if server is not None:
            server.close()
    say(report.line())
    return report


__all__ = ["LiveSettings", "build", "run_live"]
