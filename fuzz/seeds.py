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
