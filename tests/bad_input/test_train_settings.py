"""Catalogue: `nervp train` settings no run can use are refused before anything is written."""

import pytest

from tests.bad_input.harness import refused

BAD = [
    ("steps-zero", ["--steps", "0"], "--steps"),
    ("steps-negative", ["--steps", "-5"], "--steps"),
    ("batch-zero", ["--batch", "0"], "--batch"),
    ("ckpt-every-zero", ["--ckpt-every", "0"], "--ckpt-every"),
    ("lr-negative", ["--lr", "-1"], "--lr"),
    ("lr-nan", ["--lr", "nan"], "--lr"),
    ("lr-inf", ["--lr", "inf"], "--lr"),
    ("rank-zero", ["--model.head", "lowrank", "--model.rank", "0"], "--model.rank"),
    ("rank-negative", ["--model.head", "lowrank", "--model.rank", "-3"], "--model.rank"),
    ("rank-without-lowrank", ["--model.rank", "8"], "--model.head lowrank"),
    ("alpha-margin-half", ["--model.alpha-margin", "0.5"], "--model.alpha-margin"),
    ("lr-decay-above-one", ["--lr-decay", "2"], "--lr-decay"),
    ("val-fraction-one", ["--val-fraction", "1"], "--val-fraction"),
    ("loss-weight-negative", ["--loss.mse", "-1"], "--loss.mse"),
    ("loss-weight-nan", ["--loss.gan", "nan"], "--loss.gan"),
    ("gan-start-above-one", ["--loss.gan-start", "1.5"], "--loss.gan-start"),
]


@pytest.mark.parametrize("args,option", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_setting_is_refused_before_anything_is_written(capsys, tiny_olat, tmp_path, args, option):
    """`train` with this setting: exit 2, one line naming the option, no run directory."""
    run = tmp_path / "run"
    refused(capsys, ["train", tiny_olat, run, "--preset", "tiny", "--params", "truth", *args],
            inputs=[tiny_olat], outputs=[run], match=option)
