"""`nervp track`, `nervp condition`, `nervp inspect` end to end, on a real clip (skipped when
the shared clips are absent) and on bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nervp.cli import main
from nervp.viz.video import read_video, write_mp4

CLIP = Path(__file__).resolve().parents[3] / "shared" / "data" / "videos" / "d18.mp4"
needs_clip = pytest.mark.skipif(not CLIP.exists(), reason=f"real clip {CLIP} not available")


def run(capsys, *args) -> tuple[int, str]:
    rc = main([str(a) for a in args])
    return rc, capsys.readouterr().err


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory):
    """The first 40 frames of a real talking-head clip, written as a new mp4."""
    if not CLIP.exists():
        pytest.skip(f"real clip {CLIP} not available")
    frames, fps = read_video(CLIP)
    path = tmp_path_factory.mktemp("clip") / "short.mp4"
    write_mp4(path, frames[:40], fps)
    one = path.with_name("one.mp4")
    write_mp4(one, frames[:1], fps)
    return path, one


@pytest.fixture(scope="module")
def tracked(short_clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("params") / "clip.params"
    assert main(["track", str(short_clip[0]), str(out)]) == 0
    return out


@needs_clip
def test_track_real_clip_quality(tracked):
    from nervp.parse.evaluation import smoothing_report
    from nervp.parse.smoothing import SmoothConfig
    from nervp.store.params import load_params

    pf = load_params(tracked)
    assert pf.params.n_frames == 40
    assert pf.track.found.mean() >= 0.98
    s = pf.manifest["summary"]
    assert s["fitting"]["median_residual_iod"] <= 0.03
    assert pf.params.colour is not None and pf.params.colour.shape[1] == 3
    rep = smoothing_report(pf.track.raw, pf.params.fps, SmoothConfig())
    assert rep["still_frames"] >= 5
    assert rep["offline"]["jitter_reduction"] >= 2.0 and abs(rep["offline"]["lag_frames"]) <= 1.0


@needs_clip
def test_condition_and_inspect(tracked, tmp_path, capsys):
    from nervp.store.conditioning import load_conditioning

    rc, err = run(capsys, "condition", tracked, tmp_path / "own.cond", "--maps.size", 64)
    assert rc == 0, err
    ds = load_conditioning(tmp_path / "own.cond")
    assert (ds.n_frames, ds.height, ds.width) == (40, 64, 64)
    m = ds.maps(slice(0, 2))
    assert float(m.mask.float().mean()) > 0.05 and float(m.diffuse.max()) > 0.2
    rc, err = run(capsys, "condition", tracked, tmp_path / "re.cond", "--target", tracked, "--maps.pose", "fixed",
                  "--maps.size", 48)
    assert rc == 0, err
    fixed = load_conditioning(tmp_path / "re.cond").maps()
    assert np.allclose(fixed.theta[:, :3].numpy(), 0.0)
    for path in ("own.cond", "re.cond"):
        rc, err = run(capsys, "inspect", tmp_path / path, "--sheet", tmp_path / f"{path}.png")
        assert rc == 0, err
        assert (tmp_path / f"{path}.png").stat().st_size > 1000
    rc, err = run(capsys, "inspect", tracked, "--sheet", tmp_path / "params.png")
    assert rc == 0, err
    assert (tmp_path / "params.png").stat().st_size > 1000


@needs_clip
def test_single_frame_source_is_refused(short_clip, tracked, tmp_path, capsys):
    rc, err = run(capsys, "track", short_clip[1], tmp_path / "one.params")
    assert rc == 0, err
    rc, err = run(capsys, "condition", tmp_path / "one.params", tmp_path / "x.cond", "--target", tracked)
    assert rc == 2 and "at least 2" in err and "Traceback" not in err
    assert not (tmp_path / "x.cond").exists()
    rc, err = run(capsys, "condition", tmp_path / "one.params", tmp_path / "y.cond", "--target", tracked,
                  "--no-normalize", "--maps.size", 32)
    assert rc == 0, err  # the ablation needs no statistics


def test_unreadable_empty_and_missing_videos(tmp_path, capsys):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    for path, words in ((empty, "empty"), (junk, "cannot read"), (tmp_path / "nope.mp4", "does not exist")):
        rc, err = run(capsys, "track", path, tmp_path / "out.params")
        assert rc == 2 and words in err and "Traceback" not in err, err
    assert not (tmp_path / "out.params").exists()


def test_video_without_a_face(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frames = [np.full((96, 128, 3), 90, np.uint8) + rng.integers(0, 20, (96, 128, 3), dtype=np.uint8)
              for _ in range(5)]
    path = tmp_path / "noface.mp4"
    write_mp4(path, frames, 25.0)
    rc, err = run(capsys, "track", path, tmp_path / "out.params")
    assert rc == 2 and "no face found in any of the 5 frames" in err


def test_mismatched_parameter_files(tmp_path, capsys):
    import torch

    from nervp.face import load_head_model
    from nervp.parse.fit import video_camera
    from nervp.parse.normalize import param_stats
    from nervp.store.params import write_params
    from nervp.structures.face import FaceParams

    m = load_head_model()

    def p(expr_names):
        T = 4
        return FaceParams(torch.zeros(m.n_id), torch.rand(T, 6) * 0.1, torch.rand(T, len(expr_names)),
                          torch.zeros(T), torch.ones(T, dtype=torch.bool), video_camera(32, 32), 25.0,
                          m.id_names, tuple(expr_names))

    a, b = p(m.expr_names), p(m.expr_names[:-2])
    write_params(tmp_path / "a", a, param_stats(a))
    write_params(tmp_path / "b", b, param_stats(b))
    rc, err = run(capsys, "condition", tmp_path / "b", tmp_path / "x.cond", "--target", tmp_path / "a")
    assert rc == 2 and "different expression" in err
    rc, err = run(capsys, "condition", tmp_path / "a", tmp_path / "y.cond", "--maps.size", 4)
    assert rc == 2 and "--maps.size" in err
    rc, err = run(capsys, "condition", tmp_path / "nothing", tmp_path / "z.cond")
    assert rc == 2 and "does not exist" in err
