"""`nervp relight` end to end on the tiny capture: files, round trips and error paths."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from nervp.cli import main
from nervp.composite.output import OutputSpec
from nervp.relight import (
    env_weights,
    led_calibration,
    load_envmap,
    relight,
)
from nervp.store.field import open_source
from nervp.structures.field import ReflectanceField
from nervp.viz.video import read_video, write_mp4


def run(*args) -> int:
    return main(["relight", *map(str, args)])


def leftovers(d):
    return sorted(p.name for p in d.iterdir() if p.name.startswith("."))


def psnr8(a, b):
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def test_mp4_plays_back_like_the_frames(tiny_capture, tmp_path):
    common = ["--light", "sky", "--spin", "--frames", "6", "--no-strip"]
    assert run(tiny_capture.path, tmp_path / "seq.png", *common) == 0
    assert run(tiny_capture.path, tmp_path / "clip.mp4", *common, "--strip") == 0
    video, fps = read_video(tmp_path / "clip.mp4")
    assert video.shape == (6, 48, 48, 3) and fps == pytest.approx(25.0)
    spec = OutputSpec(tmp_path / "seq.png", "png")
    pngs = np.stack([np.asarray(Image.open(spec.frame_path(i))) for i in range(6)])
    # H.264 4:2:0 on a 48-pixel frame smears chroma at every edge; at 256^2 the same
    # check gives > 40 dB (benchmarks/bench_relight.py "playback").
    assert psnr8(video, pngs) >= 33.0
    assert not np.array_equal(pngs[0], pngs[3])  # the sky turned
    strip = np.asarray(Image.open(tmp_path / "clip.strip.png"))
    assert strip.shape[1] > 5 * 48
    assert leftovers(tmp_path) == []


def test_exr_sequence_is_linear_with_the_datasets_alpha(tiny_capture, tmp_path):
    import OpenEXR

    assert run(tiny_capture.path, tmp_path / "f.####.exr", "--light", "uniform", "--background", "none",
               "--hold", "0", "--frames", "2") == 0
    with OpenEXR.File(str(tmp_path / "f.0001.exr"), separate_channels=True) as f:
        ch = {k: v.pixels.astype(np.float32) for k, v in f.channels().items()}
    np.testing.assert_allclose(ch["A"], tiny_capture.frames[0].alpha, atol=1e-3)
    # linear: the uniform environment relit in scene units, over a black background
    src = open_source(tiny_capture.path)
    field = ReflectanceField(torch.from_numpy(tiny_capture.frames[0].olat).half()[None])
    w = env_weights(load_envmap_uniform(), src.dome, led_calibration(src.dome, src.gain))
    expect = relight(field, w)[0].numpy()
    rgb = np.stack([ch[c] for c in "RGB"], -1)
    np.testing.assert_allclose(rgb, expect, rtol=2e-3, atol=1e-4)


def load_envmap_uniform():
    from nervp.relight import uniform_env

    return uniform_env()


def test_low_rank_field_and_estimated_matte(tiny_capture, tmp_path):
    from nervp.relight import write_low_rank

    write_low_rank(tmp_path / "f.field", open_source(tiny_capture.path), rank=16)
    assert run(tmp_path / "f.field", tmp_path / "lr.mp4", "--light", "rembrandt", "--matte", "rim",
               "--background", "grey", "--frames", "2") == 0
    assert (tmp_path / "lr.mp4").stat().st_size > 0


def test_picture_and_video_backgrounds(tiny_capture, tmp_path):
    Image.fromarray(np.full((30, 80, 3), (200, 40, 40), np.uint8)).save(tmp_path / "bg.png")
    write_mp4(tmp_path / "bg.mp4", (np.full((20, 20, 3), v, np.uint8) for v in (0, 128, 255)), 25)
    assert run(tiny_capture.path, tmp_path / "a.png", "--light", "key-fill-rim", "--background", tmp_path / "bg.png",
               "--frames", "1", "--no-strip") == 0
    corner = np.asarray(Image.open(tmp_path / "a.0000.png"))[0, 0]
    assert corner[0] > 100 and corner[1] < 80  # the red picture shows behind the performer
    assert run(tiny_capture.path, tmp_path / "b.mp4", "--light", "top", "--background", tmp_path / "bg.mp4",
               "--frames", "5") == 0  # a 3-frame video loops


@pytest.mark.parametrize("args,needle", [
    (["--light", "nowhere.hdr"], "no such file"),
    (["--light", "map.jpg"], "unsupported lighting file"),
    (["--light", "neon"], "unknown lighting"),
    (["--background", "bg.gif"], "no such file"),
    (["--hold", "7"], "outside"),
    (["--device", "cuda"] if not torch.cuda.is_available() else ["--batch", "0"], "cuda" if not torch.cuda.is_available() else "batch"),
])
def test_bad_options_fail_cleanly(tiny_capture, tmp_path, capsys, args, needle):
    assert run(tiny_capture.path, tmp_path / "o.mp4", *args) == 2
    assert needle in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_bad_maps_and_weights_fail_cleanly(tiny_capture, tmp_path, capsys):
    from nervp.composite.output import write_exr

    bad = np.ones((8, 16, 3), np.float32)
    bad[2, 3, 1] = np.nan
    write_exr(tmp_path / "nan.exr", bad, half=False)
    write_exr(tmp_path / "neg.exr", -np.ones((8, 16, 3), np.float32), half=False)
    write_exr(tmp_path / "square.exr", np.ones((8, 8, 3), np.float32), half=False)
    np.save(tmp_path / "w48.npy", np.ones((48, 3)))
    out = tmp_path / "out"
    out.mkdir()
    for light, needle in (("nan.exr", "NaN"), ("neg.exr", "negative"), ("square.exr", "twice as wide"),
                          ("w48.npy", "48 LED weights but the dataset has 96")):
        assert run(tiny_capture.path, out / "o.mp4", "--light", tmp_path / light, "--background", "black") == 2
        assert needle in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_unwritable_outputs_fail_before_work(tiny_capture, tmp_path, capsys):
    assert run(tiny_capture.path, tmp_path / "missing" / "o.mp4") == 2
    assert "does not exist" in capsys.readouterr().err
    assert run(tiny_capture.path, tmp_path / "o.avi") == 2
    assert "unsupported output" in capsys.readouterr().err
    (tmp_path / "taken.mp4").write_bytes(b"keep me")
    assert run(tiny_capture.path, tmp_path / "taken.mp4") == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "taken.mp4").read_bytes() == b"keep me"
    (tmp_path / "dir.mp4").mkdir()
    assert run(tiny_capture.path, tmp_path / "dir.mp4", "--overwrite") == 2
    assert run(tmp_path / "not-a-dataset", tmp_path / "x.mp4") == 2
    assert "does not exist" in capsys.readouterr().err


def test_failure_while_encoding_leaves_no_partial_video(tiny_capture, tmp_path, monkeypatch):
    import nervp.composite.pipeline as pipeline

    real = pipeline.composite
    calls = {"n": 0}

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(*a, **k)

    monkeypatch.setattr(pipeline, "composite", flaky)
    assert run(tiny_capture.path, tmp_path / "o.mp4", "--light", "sky", "--frames", "5") == 2
    assert list(tmp_path.iterdir()) == []
    calls["n"] = 0
    assert run(tiny_capture.path, tmp_path / "s.png", "--light", "sky", "--frames", "5") == 2
    assert list(tmp_path.iterdir()) == []


def test_every_real_map_loads_and_relights(tiny_capture, tmp_path, envmaps):
    src = open_source(tiny_capture.path)
    cal = led_calibration(src.dome, src.gain)
    field = src.read([0])
    for p in envmaps:
        env = load_envmap(p)
        img = relight(field, env_weights(env, src.dome, cal))
        assert torch.isfinite(img).all() and float(img.max()) > 0, p.name
    assert run(tiny_capture.path, tmp_path / "real.mp4", "--light", envmaps[0], "--rotate", "45",
               "--frames", "3") == 0


def test_spin_period_turns_by_the_fields_clock(tiny_capture, tmp_path):
    """--spin --period P: output frame k is the lighting turned 360 k / (P fps) degrees, the same
    pixels as --rotate by that angle (a light circling once per P seconds of the field's time)."""
    fps = open_source(tiny_capture.path).fps
    period = 4 / fps  # a quarter turn a frame
    common = ["--light", "hard", "--hold", "0", "--background", "black", "--no-auto-exposure", "--no-strip"]
    assert run(tiny_capture.path, tmp_path / "spin.png", *common, "--spin", "--period", period, "--frames", "4") == 0
    spin = OutputSpec(tmp_path / "spin.png", "png")
    frames = [np.asarray(Image.open(spin.frame_path(i))) for i in range(4)]
    for k in (1, 2):
        assert run(tiny_capture.path, tmp_path / f"r{k}.png", *common, "--rotate", 90 * k, "--frames", "1") == 0
        rotated = np.asarray(Image.open(OutputSpec(tmp_path / f"r{k}.png", "png").frame_path(0)))
        np.testing.assert_array_equal(frames[k], rotated)
    assert not np.array_equal(frames[0], frames[1])  # the light moved
    assert leftovers(tmp_path) == []
