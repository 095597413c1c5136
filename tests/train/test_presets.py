"""Every training preset builds and trains on CPU: 2 steps on the tiny dataset (64²), final
weights that load, and a second call that resumes into a no-op."""

import dataclasses
import json

import pytest
import torch

from nervp.presets import TRAIN_PRESETS, train_preset
from nervp.train.run import load_run, train_run


@pytest.mark.parametrize("name", list(TRAIN_PRESETS))
def test_preset_trains_two_steps_and_resumes_as_a_no_op(name, tiny_olat, tmp_path):
    # batch 1: the largest preset's U-Net at 64² stays a few seconds per step on one core; no context
    # loss: its regressor (200 steps, the same for every preset, covered by test_train.py) would
    # cost most of the time
    cfg = train_preset(name, params="truth", steps=2, batch=1, ckpt_every=2, log_every=1, device="cpu")
    cfg = dataclasses.replace(cfg, loss=dataclasses.replace(cfg.loss, context=0.0))
    run = tmp_path / name
    train_run(tiny_olat, run, cfg)
    assert (run / "model.safetensors").is_file()
    loaded = load_run(run)
    assert loaded.step == 2
    x = torch.zeros(1, loaded.cfg.model.in_frames * loaded.cfg.model.cond_channels, 64, 64)
    with torch.no_grad():
        assert torch.isfinite(loaded.translator(x).olat).all()
    log = (run / "log.jsonl").read_text()
    weights = (run / "model.safetensors").read_bytes()
    train_run(tiny_olat, run, cfg)  # finished: nothing to do
    assert (run / "log.jsonl").read_text() == log and (run / "model.safetensors").read_bytes() == weights
    assert all(json.loads(line)["step"] <= 2 for line in log.splitlines())
