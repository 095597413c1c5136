"""Small valid inputs for every fuzz target, generated here (nothing is downloaded).

Each builder writes into a scratch folder and returns what the target mutates: the bytes of
the one file it rewrites on every execution, and the folder that file lives in.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

KIND = "fuzz"


def dataset(root: Path) -> Path:
    """A two-frame dataset of kind `fuzz`: a frame array (2, 4, 6, 3) float16 and a small
    (2, 3) float32 array, written through the store like every real kind."""
    from nervp.store import zstore

    path = root / "ds"
    manifest = {"kind": KIND, "height": 4, "width": 6, "n_frames": 2}
    with zstore.atomic_dataset(path, manifest) as g:
        arr = zstore.frame_array(g, "images", (2, 4, 6, 3), "float16", "linear RGB")
        arr[...] = np.linspace(0, 1, arr.size, dtype=np.float16).reshape(arr.shape)
        zstore.small_array(g, "params", np.arange(6, dtype=np.float32).reshape(2, 3), "per-frame values")
        manifest["arrays"] = zstore.array_list(g)
    return path


def run(root: Path) -> Path:
    """A run directory of the `tiny` training preset: config.json, untrained final weights and
    conditioning tensors, enough for `load_run` to finish."""
    import torch
    from safetensors.torch import save_file

    from nervp.lightstage.dome import build_dome
    from nervp.model.translator import Translator
    from nervp.presets import train_preset
    from nervp.train.run import COND, CONFIG, RunInfo

    path = root / "run"
    path.mkdir()
    cfg = train_preset("tiny", steps=2)
    info = RunInfo(cfg, str(root / "ds"), 1.0, 4, 25.0, build_dome().to_json(), None, 16, 16,
                   {"source": "fit"}, (3,))
    (path / CONFIG).write_text(json.dumps(info.to_json(), indent=1))
    model = Translator(cfg.model)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path / "model.safetensors"))
    save_file({"cond": torch.zeros(4, cfg.model.cond_channels, 16, 16), "beta_bar": torch.zeros(10)},
              str(path / COND))
    return path


def envmap_rgb() -> np.ndarray:
    """(4, 8, 3) float32 linear RGB: a sky gradient over a darker floor."""
    rows = np.linspace(2.0, 0.1, 4, dtype=np.float32)[:, None, None]
    cols = np.linspace(0.5, 1.0, 8, dtype=np.float32)[None, :, None]
    return (rows * cols * np.array([0.8, 0.9, 1.0], dtype=np.float32)).astype(np.float32)


def hdr(root: Path) -> Path:
    from nervp.imaging.hdrio import write_hdr

    write_hdr(root / "map.hdr", envmap_rgb())
    return root / "map.hdr"


def exr(root: Path) -> Path:
    from nervp.imaging.hdrio import write_exr

    write_exr(root / "map.exr", envmap_rgb())
    return root / "map.exr"


def weights_json(root: Path) -> list[Path]:
    w = np.linspace(0, 1, 96 * 3).reshape(96, 3).round(3)
    (root / "list.json").write_text(json.dumps(w.tolist()))
    (root / "dict.json").write_text(json.dumps({"weights": w[:, 0].tolist()}))
    return [root / "list.json", root / "dict.json"]


def weights_npy(root: Path) -> list[Path]:
    w = np.linspace(0, 1, 96 * 3, dtype=np.float32).reshape(96, 3)
    np.save(root / "rgb.npy", w)
    np.save(root / "grey.npy", w[:, 0].astype(np.float64))
    return [root / "rgb.npy", root / "grey.npy"]


def video(root: Path) -> Path:
    from nervp.viz.video import write_mp4

    frames = [np.full((16, 16, 3), 40 * t, dtype=np.uint8) for t in range(3)]
    write_mp4(root / "clip.mp4", frames, fps=10.0, crf=30)
    return root / "clip.mp4"


def _small_dome():
    from nervp.lightstage.dome import DomeConfig, build_dome

    return build_dome(DomeConfig(n_lights=12))


def dome_json(root: Path) -> list[Path]:
    """A 12-LED dome file as JSON: with rgb and solid angles, and positions only."""
    from nervp.lightstage.dome import dome_file_json

    d = dome_file_json(_small_dome())
    full = {k: np.round(np.asarray(v), 5).tolist() for k, v in d.items()}
    (root / "dome.json").write_text(json.dumps(full))
    (root / "positions.json").write_text(json.dumps({"positions": full["positions"]}))
    return [root / "dome.json", root / "positions.json"]


def dome_csv(root: Path) -> list[Path]:
    """The same dome as CSV: x,y,z,r,g,b,solid_angle, and x,y,z."""
    dome = _small_dome()
    rows = np.concatenate([dome.position, dome.intensity, dome.solid_angle[:, None]], 1).round(5)
    (root / "dome.csv").write_text("x,y,z,r,g,b,solid_angle\n" + "\n".join(",".join(map(str, r)) for r in rows))
    (root / "xyz.csv").write_text("# positions only\nx,y,z\n" + "\n".join(",".join(map(str, r[:3])) for r in rows))
    return [root / "dome.csv", root / "xyz.csv"]


SCHEDULE_LEDS = 12
"""The dome size the schedule targets read against."""


def _slots() -> list[int]:
    return [-1 if k % 6 == 0 else (k - k // 6 - 1) % SCHEDULE_LEDS for k in range(20)]


def schedule_json(root: Path) -> list[Path]:
    """A 20-slot schedule (a tracking frame every 6th slot) as JSON: with times and gains, and with fps."""
    leds = _slots()
    (root / "sched.json").write_text(json.dumps(
        {"led": leds, "time": [k / 1000 for k in range(20)], "gain": [1.0] * 20}))
    (root / "fps.json").write_text(json.dumps({"led": ["tracking" if v < 0 else v for v in leds], "fps": 1000}))
    return [root / "sched.json", root / "fps.json"]


def schedule_csv(root: Path) -> list[Path]:
    """The same schedule as CSV: led,time,gain, and led alone (read with fps given)."""
    leds = _slots()
    (root / "sched.csv").write_text("led,time,gain\n" + "\n".join(f"{v},{k / 1000},1.0" for k, v in enumerate(leds)))
    (root / "leds.csv").write_text("# the controller's order\nled\n" + "\n".join(
        "tracking" if v < 0 else str(v) for v in leds))
    return [root / "sched.csv", root / "leds.csv"]


TIMESTAMP_NAMES = [f"f{k:03d}.png" for k in range(8)]
"""The frame names the timestamps target matches against."""


def timestamps(root: Path) -> list[Path]:
    """Camera timestamps for 8 frames: file,time and time-only CSVs."""
    (root / "named.csv").write_text("file,time\n" + "\n".join(f"{n},{k * 0.001:.6f}" for k, n in
                                                               enumerate(TIMESTAMP_NAMES)))
    (root / "times.csv").write_text("time\n" + "\n".join(f"{k * 0.001:.6f}" for k in range(8)))
    return [root / "named.csv", root / "times.csv"]


def _face_like() -> np.ndarray:
    """(96, 96, 3) uint8: a lit oval on a coloured background (no real face: the loader is what
    is fuzzed, not the tracker)."""
    y, x = np.mgrid[0:96, 0:96].astype(np.float32)
    oval = (((x - 48) / 26) ** 2 + ((y - 50) / 34) ** 2) < 1
    img = np.empty((96, 96, 3), np.float32)
    img[:] = (40, 70, 110)
    img[oval] = np.stack([200 - x[oval], 150 - 0.5 * y[oval], 120 + 0 * x[oval]], -1)
    return img.clip(0, 255).astype(np.uint8)


def photo_png(root: Path) -> Path:
    import cv2

    cv2.imwrite(str(root / "photo.png"), _face_like()[..., ::-1])
    return root / "photo.png"


def photo_jpeg(root: Path) -> Path:
    import cv2

    cv2.imwrite(str(root / "photo.jpg"), _face_like()[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 80])
    return root / "photo.jpg"


def estimator(root: Path) -> Path:
    """A lighting estimator file (`nervp train --estimator`) of a tiny network (order 1, a few
    channels: same format, a few kB, so mutations reach the header as often as the tensors)."""
    from nervp.estimate.model import LightNet, NetConfig, save_net

    net = LightNet(NetConfig(order=1, width=2, hidden=4))
    save_net(net, root / "estimator.safetensors", {"seed": 0, "steps": 1, "dataset": "target.olat"})
    return root / "estimator.safetensors"
