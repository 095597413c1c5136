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
    # the slow-motion light: 0.1 s of the reenactment at 1000 fps, played at 25 fps
    from nervp.store.olat import load_olat
    from nervp.viz.video import read_video

    slow = load_olat(out / "slowmo.olat")
    assert slow.manifest["fps"] == 1000.0 and slow.n_frames == 101
    clip, fps = read_video(out / "slowmo_light.mp4")
    assert clip.shape[0] == 101 and fps == 25.0
    assert "slowmo_light.mp4" in (out / "index.html").read_text()
