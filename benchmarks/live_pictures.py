"""The picture of docs/LIVE.md: a real talking-head clip driving a run live with `--pose fixed`
and an environment background; the source frames above the live output at the same instants.

    python benchmarks/live_pictures.py RUN [CLIP] [--size PX] [--light ENV] [--out OUT.mp4]

Runs `nervp live` (unpaced: every source frame rendered) on CLIP (default
../shared/data/videos/d3.mp4), writes OUT.mp4 (default /tmp/nervp_live/live_fixed.mp4), prints
the final line, and writes docs/images/live_fixed_pose.png (8 evenly spaced instants).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from nervp.live.session import LiveSettings, run_live
from nervp.viz.images import grid, label, save_png
from nervp.viz.video import read_video

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "data" / "videos" / "d3.mp4"
ENV = ROOT.parent / "shared" / "data" / "envmaps" / "venice_sunset_1k.hdr"


def main() -> None:
    import cv2

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("clip", type=Path, nargs="?", default=CLIP)
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--light", default=str(ENV))
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--tile", type=int, default=160)
    ap.add_argument("--out", type=Path, default=Path("/tmp/nervp_live/live_fixed.mp4"))
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pictures: dict[int, np.ndarray] = {}
    s = LiveSettings(light=args.light, background="env", pose="fixed", size=args.size, realtime=False,
                     frames=args.frames, overwrite=True)
    rep = run_live(args.run, str(args.clip), str(args.out), s,
                   on_item=lambda it: pictures.__setitem__(it.index, it.frame.picture))
    src, _ = read_video(args.clip)
    n = min(len(src), rep.frames_in)
    pick = np.unique(np.linspace(0, n - 1, 8).round().astype(int)).tolist()
    t = args.tile
    top = [label(cv2.resize(src[i], (t, t), interpolation=cv2.INTER_AREA), f"source {i}") for i in pick]
    bottom = [label(cv2.resize(pictures[i], (t, t), interpolation=cv2.INTER_NEAREST), f"live {i}") for i in pick]
    out = ROOT / "docs" / "images" / "live_fixed_pose.png"
    save_png(out, grid(top + bottom, len(pick)))
    print(f"wrote {out} and {args.out}")


if __name__ == "__main__":
    main()
