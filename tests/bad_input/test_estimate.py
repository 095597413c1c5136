"""Catalogue: photos and videos `nervp estimate-light` (and `relight --light-from`) cannot read
a lighting from are refused in one line naming the file and the fix; nothing is written."""

from __future__ import annotations

import numpy as np
import pytest

from tests.bad_input.harness import refused


def _png(path, img):
    import cv2

    assert cv2.imwrite(str(path), img)
    return path


def _gray(d):
    return _png(d / "gray.png", np.tile(np.linspace(0, 255, 128, dtype=np.uint8), (128, 1)))


def _gray_rgb(d):
    g = np.tile(np.linspace(0, 255, 128, dtype=np.uint8), (128, 1))
    return _png(d / "gray_rgb.png", np.stack([g, g, g], -1))


def _sixteen(d):
    return _png(d / "deep.png", np.random.default_rng(0).integers(0, 65535, (128, 128, 3)).astype(np.uint16))


def _tiny(d):
    return _png(d / "tiny.png", np.random.default_rng(0).integers(0, 255, (20, 20, 3)).astype(np.uint8))


def _corrupt(d):
    p = d / "broken.jpg"
    p.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)
    return p


def _empty(d):
    p = d / "empty.png"
    p.write_bytes(b"")
    return p


def _noface(d):
    rng = np.random.default_rng(1)
    return _png(d / "noface.png", rng.integers(0, 255, (128, 128, 3)).astype(np.uint8))


def _one_frame(d):
    from nervp.viz.video import write_mp4

    p = d / "one.mp4"
    write_mp4(p, [np.full((96, 96, 3), 128, np.uint8)], fps=25.0)
    return p


def _suffix(d):
    p = d / "notes.txt"
    p.write_text("hello")
    return p


CASES = [
    ("grayscale", _gray, "grayscale"),
    ("grayscale-as-rgb", _gray_rgb, "grayscale"),
    ("16-bit", _sixteen, "16-bit"),
    ("20x20", _tiny, "20x20 pixels is too small"),
    ("corrupt", _corrupt, "cannot decode"),
    ("empty", _empty, "empty"),
    ("no-face", _noface, "no face found"),
    ("one-frame-video", _one_frame, "only one frame"),
    ("unsupported-type", _suffix, "unsupported file type"),
]


@pytest.mark.parametrize("make,match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_estimate_light(capsys, tmp_path, make, match):
    src = make(tmp_path)
    out, pic = tmp_path / "o.json", tmp_path / "o.png"
    refused(capsys, ["estimate-light", src, out, "--preview", pic], inputs=[src], outputs=[out, pic], match=match)


SETTINGS = [
    ("out-not-json", ["o.txt"], "OUT.json"),
    ("preview-not-png", ["o.json", "--preview", "p.jpg"], "OUT.png"),
    ("smooth-nan", ["o.json", "--smooth-s", "nan"], "--smooth-s"),
    ("missing-input", None, "no such file"),
]


@pytest.mark.parametrize("args,match", [c[1:] for c in SETTINGS], ids=[c[0] for c in SETTINGS])
def test_estimate_settings(capsys, tmp_path, args, match):
    src = _noface(tmp_path)
    if args is None:
        src, args = tmp_path / "absent.png", ["o.json"]
    out = tmp_path / args[0]
    refused(capsys, ["estimate-light", src, *[tmp_path / a if i == 0 else a for i, a in enumerate(args)]],
            outputs=[out], match=match)


def test_relight_light_from_no_face(capsys, tmp_path, tiny_olat):
    src = _noface(tmp_path)
    out = tmp_path / "r.mp4"
    refused(capsys, ["relight", tiny_olat, out, "--light-from", src], inputs=[src, tiny_olat], outputs=[out],
            match="no face found")


def test_relight_run_without_estimator(capsys, tmp_path, tiny_olat, tiny_run, stage_portrait):
    """`relight --light-from PHOTO --run RUN` where RUN was trained without --estimator: one line
    naming the run and `nervp train ... --estimator`, no video."""
    photo, _ = stage_portrait
    out = tmp_path / "r.mp4"
    refused(capsys, ["relight", tiny_olat, out, "--light-from", photo, "--run", tiny_run],
            inputs=[photo, tiny_olat, tiny_run], outputs=[out], match="estimator.safetensors.*--estimator")


def test_relight_run_without_light_from(capsys, tmp_path, tiny_olat, tiny_run):
    """`relight --run RUN` without --light-from (the run only names an estimator): one line."""
    out = tmp_path / "r.mp4"
    refused(capsys, ["relight", tiny_olat, out, "--run", tiny_run], inputs=[tiny_olat, tiny_run], outputs=[out],
            match="--light-from")


@pytest.mark.parametrize("content", [b"", b"\x00" * 64, b"{}" * 40], ids=["empty", "zeros", "not-safetensors"])
def test_estimate_light_corrupt_run_estimator(capsys, tmp_path, tiny_run, stage_portrait, content):
    """A run whose estimator.safetensors is damaged: one line naming it, nothing written."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "estimator.safetensors").write_bytes(content)
    photo, _ = stage_portrait
    out = tmp_path / "o.json"
    refused(capsys, ["estimate-light", photo, out, "--run", run], inputs=[photo, run], outputs=[out],
            match="estimator.safetensors is not a nervp lighting estimator")
