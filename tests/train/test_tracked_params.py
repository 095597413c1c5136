"""Tracking separable from training and reenactment: `nervp track` output given as
`--params TRACKED` (train) or as the SOURCE (reenact) gives exactly what fitting inside those
commands gives, and a track of another capture is refused."""

import dataclasses

import pytest
from safetensors.torch import load_file

from nervp.presets import sim_preset, train_preset
from nervp.train.run import RunError, RunInfo, prepare_run


@pytest.fixture(scope="module")
def face_target(tmp_path_factory):
    """A 128² simulated target (MediaPipe finds its face; 64² is too small) and its track."""
    from nervp.parse.pipeline import track_clip
    from nervp.synth.simulate import simulate

    d = tmp_path_factory.mktemp("tracked")
    cfg = sim_preset("tiny", frames=4, size=128)
    simulate(d / "t.olat", cfg)
    track_clip(d / "t.olat", d / "t.params")
    return d / "t.olat", d / "t.params"


def _cfg(params):
    cfg = train_preset("tiny", params=str(params), steps=2, device="cpu")
    return dataclasses.replace(cfg, loss=dataclasses.replace(cfg.loss, context=0.0))


def test_training_from_a_track_equals_fitting_in_train(face_target, tmp_path):
    olat, tracked = face_target
    fit, trk = prepare_run(olat, tmp_path / "fit", _cfg("fit")), prepare_run(olat, tmp_path / "trk", _cfg(tracked))
    assert isinstance(trk, RunInfo) and trk.train.params == str(tracked)  # the run records its parameters
    a, b = load_file(str(tmp_path / "fit" / "conditioning.safetensors")), \
        load_file(str(tmp_path / "trk" / "conditioning.safetensors"))
    for k in a:  # same tracker, fit and colour settings: the same maps, bit for bit
        assert a[k].equal(b[k]), k
    assert fit.target["norm_stats"] == trk.target["norm_stats"]


def test_a_track_of_another_capture_is_refused(face_target, tmp_path):
    from nervp.synth.simulate import simulate

    _, tracked = face_target
    other = simulate(tmp_path / "o.olat", sim_preset("tiny", frames=3, size=128))
    with pytest.raises(Exception, match="track this capture"):
        prepare_run(other, tmp_path / "r", _cfg(tracked))
    with pytest.raises(RunError, match="neither fit, truth nor a face-parameters dataset"):
        prepare_run(other, tmp_path / "r2", _cfg(tmp_path / "nothing"))
    assert not (tmp_path / "r2").exists()


def test_reenact_takes_a_track_as_its_source(face_target, tmp_path):
    from nervp.reenact import reenact
    from nervp.store.olat import load_olat
    from nervp.train.run import train_run

    olat, tracked = face_target
    run = tmp_path / "run"
    train_run(olat, run, _cfg(tracked))
    out = reenact(run, tracked, tmp_path / "re.olat", device="cpu")
    assert load_olat(out).n_frames == load_olat(olat).n_frames
