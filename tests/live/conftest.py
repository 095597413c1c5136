"""Fixtures of the live tests: a tiny run whose translator reacts strongly to its input, and a
short real talking-head clip (from ../shared/data) at a small size."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def live_run(tiny_olat, tmp_path_factory) -> Path:
    """A tiny run (2 steps on `tiny_olat`) with its output layers' weights scaled up 20x: two
    training steps leave a translator whose frames hardly depend on its input, and a test that
    live and offline agree must be able to see a wrong window or a wrong frame."""
    from safetensors.torch import load_file, save_file

    from nervp.presets import train_preset
    from nervp.train.run import train_run

    run = tmp_path_factory.mktemp("liverun") / "r"
    cfg = train_preset("tiny", params="truth", steps=2, ckpt_every=2, device="cpu")
    cfg = dataclasses.replace(cfg, loss=dataclasses.replace(cfg.loss, context=0.0))
    train_run(tiny_olat, run, cfg)
    w = load_file(str(run / "model.safetensors"))
    for k in ("refl.weight", "aux.weight"):
        w[k] = (w[k] * 20.0).contiguous()
    save_file(w, str(run / "model.safetensors"))
    return run


def _clip(shared_data: Path, out: Path, frames: list[int], side: int = 192, black: tuple[int, ...] = ()) -> Path:
    import cv2

    from nervp.viz.video import read_video, write_mp4

    im, fps = read_video(shared_data / "videos" / "d18.mp4")
    pics = [cv2.resize(im[t], (side, side), interpolation=cv2.INTER_AREA) for t in frames]
    pics = [np.zeros_like(p) if k in black else p for k, p in enumerate(pics)]
    write_mp4(out, pics, fps)
    return out


@pytest.fixture(scope="session")
def face_clip(shared_data, tmp_path_factory) -> Path:
    """8 frames of a real talking head (d18), 192², as H.264."""
    return _clip(shared_data, tmp_path_factory.mktemp("clip") / "face.mp4", list(range(0, 16, 2)))


@pytest.fixture(scope="session")
def gap_clip(shared_data, tmp_path_factory) -> Path:
    """10 frames: 4 with the face, 4 black (no face), 2 with the face."""
    return _clip(shared_data, tmp_path_factory.mktemp("clip") / "gap.mp4", list(range(10)), black=(4, 5, 6, 7))
