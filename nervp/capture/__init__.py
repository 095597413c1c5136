"""Capture processing: a raw high-speed light-stage stream -> aligned, overlapping OLAT sets
(paper section 3.1 and supplementary section 6, Fig. 14). Entry point: `capture`."""

from nervp.capture.config import CaptureConfig, ExecConfig
from nervp.capture.plan import CapturePlan, centred_sets, open_stream, plan_capture
from nervp.capture.run import CaptureReport, capture, measure_led_scale

__all__ = ["CaptureConfig", "CapturePlan", "CaptureReport", "ExecConfig", "capture", "centred_sets",
           "measure_led_scale", "open_stream", "plan_capture"]
