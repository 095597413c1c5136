"""The picture of docs/ESTIMATE.md: six photos, their estimated environments, and a target
relit to match each (writes docs/images/estimate_six.png; no JSON).

    python benchmarks/estimate_pictures.py --clips ../shared/data/videos --maps out/eval_maps

Photos: the middle frame of each clip in --clips, then held-out virtual performers under
held-out maps (as in eval_estimate.py) until there are six. Target: held-out performer 900's
OLAT set (benchmarks/eval_estimate.py's cache), relit with each photo's estimated weights (in the
photo's own units, so it appears at the photo's exposure) over mid-grey.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import eval_estimate as E  # noqa: E402

from nervp.colour import srgb_decode, to_srgb8  # noqa: E402
from nervp.estimate.core import EstimateConfig, estimate_light  # noqa: E402
from nervp.estimate.photo import Plate  # noqa: E402
from nervp.estimate.preview import env_display  # noqa: E402
from nervp.lightstage import DomeConfig, build_dome  # noqa: E402
from nervp.relight.weights import led_calibration  # noqa: E402
from nervp.viz.images import grid, label  # noqa: E402

TILE = 192


def _tile(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    s = TILE / max(h, w)
    out = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    pad = np.full((TILE, TILE if w == h else out.shape[1], 3), 32, np.uint8)
    pad[: out.shape[0], : out.shape[1]] = out
    return pad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=Path, default=Path("../shared/data/videos"))
    ap.add_argument("--maps", type=Path, default=Path("out/eval_maps"))
    ap.add_argument("--cache", type=Path, default=Path("out/estimate_eval_olat.npz"))
    ap.add_argument("--out", type=Path, default=Path("docs/images/estimate_six.png"))
    a = ap.parse_args()
    dome = build_dome(DomeConfig())
    cal = led_calibration(dome, E.GAIN)
    data = E.render_held_out(a.cache, 256)
    lut = srgb_decode(np.arange(256) / 255.0).astype(np.float32)
    photos: list[tuple[str, Plate]] = []
    if a.clips.is_dir():
        from nervp.viz.video import read_video

        for clip in sorted(a.clips.glob("*.mp4"))[:3]:
            frames, _ = read_video(clip)
            p8 = frames[len(frames) // 2]
            photos.append((clip.stem, Plate(lut[p8][None], p8[None], float(lut[250]), "photo", None, clip.stem)))
    from nervp.composite.background import env_view
    from nervp.relight.weights import env_weights

    maps = E.lightings(a.maps, False) if a.maps.is_dir() else []
    for k, (name, env) in enumerate(maps[1::5]):
        if len(photos) >= 6:
            break
        p = 1 + k % (len(data["olat"]) - 1)
        olat = torch.from_numpy(data["olat"][p].astype(np.float32))
        bg = env_view(env, data["K"], data["R"], 256, 256).numpy()
        plate, _ = E.photo_of(E.relight(olat, env_weights(env, dome, cal)), data["alpha"][p].astype(np.float32), bg,
                              f"{name} / performer {E.HELD_OUT[p]}")
        photos.append((plate.source, plate))
    target = torch.from_numpy(data["olat"][0].astype(np.float32))
    alpha = data["alpha"][0].astype(np.float32)[..., None]
    tiles = []
    for name, plate in photos:
        est = estimate_light(plate, EstimateConfig(), dome)
        lin = E.relight(target, est.weights[0]) + (1 - alpha) * 0.18
        tiles += [label(_tile(plate.display[0]), name[:30]), label(_tile(env_display(est.sh[0], TILE // 2)), "estimate"),
                  label(_tile(to_srgb8(lin, 1.0)), "target relit")]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    from nervp.viz.images import save_png

    save_png(a.out, grid(tiles, 6))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
