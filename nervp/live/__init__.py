"""`nervp live`: the virtual-conference mode as a real-time stream (one frame in, one composited
frame out): causal parsing, the translator over a causal window, relighting, matting and
compositing as a pipeline of threads with bounded queues. See docs/LIVE.md."""

from nervp.live.engine import LiveRenderer, RenderedFrame
from nervp.live.pipeline import LiveReport, run_pipeline
from nervp.live.session import LiveSettings, run_live

__all__ = ["LiveReport", "LiveRenderer", "LiveSettings", "RenderedFrame", "run_live", "run_pipeline"]
