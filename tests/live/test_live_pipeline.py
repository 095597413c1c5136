"""`nervp live`: the causal pieces against their offline twins, live against `reenact --causal`
+ `relight`, dropping under a fast source, holding the last frame without a face."""

from __future__ import annotations

import numpy as np
import pytest

from nervp.parse.smoothing import OneEuro, SmoothConfig, one_euro


def test_one_euro_step_is_the_batch_filter():
    """Stepping the causal filter through a track gives `one_euro` of it exactly (same float64 ops)."""
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=(40, 5, 2)), axis=0) * 3.0
    cfg = SmoothConfig(mode="causal", min_cutoff_hz=1.5, beta=4.0)
    f = OneEuro(30.0, cfg, scale=7.0)
    stepped = np.stack([f.step(x[t]) for t in range(len(x))])
    assert np.array_equal(stepped, one_euro(x, 30.0, cfg, 7.0))
    f.reset()
    assert np.array_equal(f.step(x[5]), x[5])  # a reset starts a new run at the sample itself


def test_causal_normalizer_matches_eq6_on_the_frames_so_far():
    """Frame 1 maps onto the target's mean; after the warm-up, frame n is eq. 6 with the mean and
    deviation of frames 1..n (the offline `normalize` on that prefix, last frame)."""
    import torch

    from nervp.parse.normalize import MIN_STD_THETA, THETA_NAMES, CausalNormalizer, _map
    from nervp.structures.face import NormStats

    rng = np.random.default_rng(1)
    E = 3
    names = ("a", "b", "c")
    tgt = NormStats(rng.normal(size=6), rng.uniform(0.1, 0.3, 6), rng.normal(size=E), rng.uniform(0.1, 0.3, E),
                    50, names)
    norm = CausalNormalizer(tgt, clip=False, warmup=5)
    th = rng.normal(size=(12, 6)) * 0.2
    ph = rng.normal(size=(12, E)) * 0.2
    out = [norm(th[t], ph[t]) for t in range(12)]
    assert torch.allclose(out[0][0], torch.from_numpy(tgt.theta_mean).float(), atol=1e-6)
    n = 9  # frames 0..8, past the warm-up
    want = _map(th[n - 1], th[:n].mean(0), th[:n].std(0), tgt.theta_mean, tgt.theta_std, MIN_STD_THETA, THETA_NAMES)[0]
    assert np.allclose(out[n - 1][0].numpy(), want, atol=1e-6)


def test_live_gives_the_frames_of_causal_reenact_and_relight(live_run, face_clip, tmp_path):
    """Nothing dropped (--no-realtime): live's linear composites equal `reenact --causal` relit by
    `nervp relight` (EXR) within 1e-3 (relative above 1). Only the offline path rounds to
    float16, three times, each at most 2^-12 relative: the dataset's OLAT images, its alpha
    (an error of 2^-12 * background in `image + (1 - alpha) background`) and the EXR: about
    7e-4 of max(1, value) for these backgrounds."""
    from nervp.composite.pipeline import RelightSettings, run_relight
    from nervp.imaging.hdrio import read_exr
    from nervp.live.session import LiveSettings, run_live
    from nervp.reenact import reenact_causal

    reenact_causal(live_run, face_clip, tmp_path / "off.olat", device="cpu")
    run_relight(tmp_path / "off.olat", tmp_path / "off.exr",
                RelightSettings(light="sunset", background="env", device="cpu", strip=False))
    got: dict[int, np.ndarray] = {}
    rep = run_live(live_run, str(face_clip), str(tmp_path / "live.mp4"),
                   LiveSettings(light="sunset", background="env", realtime=False, device="cpu"),
                   say=lambda _: None, on_item=lambda it: got.__setitem__(it.index, it.frame.linear))
    assert (rep.frames_in, rep.frames_out, rep.dropped, rep.held) == (8, 8, 0, 0)
    off = [read_exr(tmp_path / f"off.{t:04d}.exr") for t in range(8)]
    for t in range(8):
        err = np.abs(got[t] - off[t]) / np.maximum(1.0, np.abs(off[t]))
        assert err.max() <= 1e-3, f"frame {t}: {err.max():.2e}"
    # the comparison can fail: the frames differ from each other by far more than the tolerance
    assert max(np.abs(off[t] - off[0]).max() / np.abs(off[0]).max() for t in range(8)) > 1e-2
    assert (tmp_path / "live.mp4").stat().st_size > 0


def test_a_fast_source_drops_frames_and_says_so(live_run, face_clip, tmp_path):
    """A file played at 1000 fps outpaces the pipeline: frames are dropped at the source (the
    oldest waiting one gives way), counted, and the rest all come out; the MP4 still has one
    picture per source frame from the first one out (a dropped frame repeats the one before)."""
    from nervp.live.session import LiveSettings, run_live
    from nervp.viz.video import read_video

    lines: list[str] = []
    shown: list[int] = []
    rep = run_live(live_run, str(face_clip), str(tmp_path / "fast.mp4"),
                   LiveSettings(source_fps=1000.0, device="cpu", queue=1), say=lines.append,
                   on_item=lambda it: shown.append(it.index))
    assert rep.frames_in == 8
    assert rep.dropped > 0
    assert rep.frames_out + rep.dropped == rep.frames_in
    assert f"dropped {rep.dropped}" in lines[-1] and "fps mean" in lines[-1] and "latency" in lines[-1]
    frames, _ = read_video(tmp_path / "fast.mp4")
    assert len(frames) == 8 - shown[0] and shown[-1] == 7  # the newest frame is never the one dropped


def test_no_face_holds_the_last_good_frame(live_run, gap_clip, tmp_path):
    from nervp.live.session import LiveSettings, run_live

    lines: list[str] = []
    pics: dict[int, np.ndarray] = {}
    rep = run_live(live_run, str(gap_clip), str(tmp_path / "gap.mp4"),
                   LiveSettings(realtime=False, device="cpu"), say=lines.append,
                   on_item=lambda it: pics.__setitem__(it.index, it.frame.picture))
    assert rep.held == 4 and rep.no_face == ((4, 7),)
    for t in (4, 5, 6, 7):
        assert np.array_equal(pics[t], pics[3])
    assert any("no face from source frame 4: holding the last good frame" in s for s in lines)
    assert any("face back at source frame 8" in s for s in lines)


def test_size_must_suit_the_translator(live_run):
    from nervp.errors import ConfigError
    from nervp.live.engine import LiveRenderer
    from nervp.train.run import load_run

    with pytest.raises(ConfigError, match="divisible by"):
        LiveRenderer(load_run(live_run, "cpu"), size=20)
    r = LiveRenderer(load_run(live_run, "cpu"), size=96)
    assert (r.height, r.width) == (96, 96)


def test_cli_lists_live(capsys):
    from nervp.cli import main

    with pytest.raises(SystemExit):
        main(["live", "--help"])
    out = capsys.readouterr().out
    for flag in ("--source", "--out", "--light", "--background", "--pose", "--size", "--device"):
        assert flag in out


