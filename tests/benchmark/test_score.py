"""`nervp score` gives exactly `nervp evaluate`'s numbers for nervp's own predictions, and reads
both documented file types."""

from __future__ import annotations

import json

import numpy as np

from nervp.cli import main
from nervp.evaluate.reconstruction import evaluate_run
from nervp.evaluate.score import (
    RING_LIGHTINGS,
    run_predictions,
    score_predictions,
    truth_relit,
    write_predictions,
)
from nervp.relight.lighting import parse_lighting
from nervp.store.olat import load_olat
from nervp.train.run import load_run

LIGHTS = ("sky", "studio")


def test_score_is_evaluate_for_nervps_own_predictions(score_run, tiny_olat, tmp_path):
    run = load_run(score_run, "cpu")
    rec = evaluate_run(run, tiny_olat, {n: parse_lighting(n) for n in LIGHTS})
    frames = list(run.info.val_frames)
    assert len(frames) == 2
    pred = write_predictions(tmp_path / "pred", run_predictions(run, frames, [*RING_LIGHTINGS, *LIGHTS]), frames)
    assert main(["score", str(pred), str(tiny_olat)]) == 0
    rep = json.loads((pred / "score.json").read_text())
    m = rec.metrics
    # the same float32 images (EXR float32 round-trips exactly) through the same functions: equal, not close
    assert rep["frames"] == m["frames"]
    assert rep["environments"] == m["environments"]
    assert rep["ring_8_lights"] == m["ring_8_lights"]
    assert rep["overall"] == m["overall"]
    assert rep["lightings"]["sky"]["temporal_change_ratio"] == m["temporal_change_ratio"]


def test_truth_scores_perfectly_and_png_reads_as_linear(tiny_olat, tmp_path):
    import cv2

    ds = load_olat(tiny_olat)
    frames = [1, 2]
    truth = truth_relit(ds, frames, "sky")
    pred = write_predictions(tmp_path / "truth", {"sky": truth}, frames)
    rep = score_predictions(pred, tiny_olat)
    assert rep["overall"]["mae"] == 0 and rep["overall"]["psnr_db"] >= 119
    assert rep["lightings"]["sky"]["temporal_change_ratio"] == 1.0
    # the same images as 16-bit PNGs, scaled to the peak: quantisation error at most 0.5/65535 of the peak
    scale = float(truth.max())
    png = tmp_path / "png" / "sky"
    png.mkdir(parents=True)
    for t, img in zip(frames, truth, strict=True):
        code = np.round(np.clip(img / scale, 0, 1) * 65535).astype(np.uint16)
        assert cv2.imwrite(str(png / f"{t:05d}.png"), code[..., ::-1])
    rep = score_predictions(png.parent, tiny_olat, png_scale=scale)
    assert 0 < rep["overall"]["mae"] <= 0.5 / 65535 + 1e-9
