"""`nervp demo` at its smallest preset (`tiny`: 64², 16 + 12 frames, 20 steps, truth parameters)
runs end to end and writes its page, its scores and its videos."""

import json
import math

from nervp.cli import main
from nervp.presets import DEMO_PRESETS


def test_tiny_demo_end_to_end(tmp_path):
    smallest = min(DEMO_PRESETS, key=lambda k: (DEMO_PRESETS[k].stage.size, DEMO_PRESETS[k].train.steps))
    out = tmp_path / "demo"
    assert main(["demo", str(out), "--preset", smallest]) == 0
    assert (out / "index.html").is_file() and (out / "run" / "model.safetensors").is_file()
    assert math.isfinite(json.loads((out / "eval.json").read_text())["overall"]["psnr_db"])
    videos = list(out.glob("*.mp4"))
    assert videos and all(v.stat().st_size > 0 for v in videos)
