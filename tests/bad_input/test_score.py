"""Catalogue: `nervp score` refuses predictions it cannot score in one line naming the file,
and writes no report."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests.bad_input.harness import refused

FRAMES = [1, 2]


@pytest.fixture(scope="module")
def good_pred(tiny_olat, tmp_path_factory):
    """Correct predictions (the truth itself) of frames 1 and 2 under sky and ring-0."""
    from nervp.evaluate.score import truth_relit, write_predictions
    from nervp.store.olat import load_olat

    ds = load_olat(tiny_olat)
    relit = {n: truth_relit(ds, FRAMES, n) for n in ("sky", "ring-0")}
    return write_predictions(tmp_path_factory.mktemp("pred") / "good", relit, FRAMES)


def _damage(case: str, pred):
    import cv2

    from nervp.imaging.hdrio import write_exr

    f = pred / "sky" / "00002.exr"
    if case == "missing-frame":
        f.unlink()
    elif case == "missing-lighting":
        shutil.rmtree(pred / "ring-0")
    elif case == "wrong-size":
        write_exr(f, np.ones((32, 32, 3), np.float32), half=False)
    elif case == "nan-pixels":
        img = np.ones((64, 64, 3), np.float32)
        img[3, 4, 1] = np.nan
        write_exr(f, img, half=False)
    elif case == "stray-file":
        (pred / "sky" / "frame2.exr").write_bytes(b"x")
    elif case == "not-an-exr":
        f.write_bytes(b"not an exr")
    elif case == "eight-bit-png":
        f.unlink()
        cv2.imwrite(str(f.with_suffix(".png")), np.zeros((64, 64, 3), np.uint8))
    elif case == "frame-out-of-range":
        shutil.copy(f, pred / "sky" / "00099.exr")
        shutil.copy(f, pred / "ring-0" / "00099.exr")


CASES = [
    ("missing-frame", [], r"sky/00002\.exr: missing"),
    ("missing-lighting", ["--light", "sky", "ring-0"], r"ring-0: missing"),
    ("wrong-size", [], r"sky/00002\.exr is 32x32 .* 64x64"),
    ("nan-pixels", [], r"sky/00002\.exr has 1 pixels that are NaN"),
    ("stray-file", [], r"sky/frame2\.exr: not a prediction file name"),
    ("not-an-exr", [], r"sky/00002\.exr: not a readable OpenEXR"),
    ("eight-bit-png", [], r"sky/00002\.png: not a 16-bit RGB PNG"),
    ("frame-out-of-range", [], r"frame 99 is outside the dataset's 4 frames"),
    ("unknown-lighting", ["--light", "moonlight"], r"moonlight: missing"),
    ("frames-not-given", ["--frames", "0", "1"], r"00000\.exr: missing"),
    ("png-scale-zero", ["--png-scale", "0"], r"--png-scale"),
]


@pytest.mark.parametrize("case,args,match", CASES, ids=[c[0] for c in CASES])
def test_score(capsys, tiny_olat, good_pred, tmp_path, case, args, match):
    pred = tmp_path / "pred"
    shutil.copytree(good_pred, pred)
    _damage(case, pred)
    refused(capsys, ["score", pred, tiny_olat, *args], inputs=[tiny_olat, pred], outputs=[pred / "score.json"],
            match=match)
