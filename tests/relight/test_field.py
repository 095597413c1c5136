import numpy as np
import pytest
import torch

from nervp.relight import write_low_rank
from nervp.store.field import KIND as FIELD_KIND
from nervp.store.field import open_source
from nervp.store.zstore import DatasetError


def test_open_olat_dataset(tiny_capture):
    src = open_source(tiny_capture.path)
    assert src.kind == "olat" and src.n_images == 96 and src.has_alpha()
    assert src.gain == pytest.approx(tiny_capture.stage.cfg.exposure)
    f = src.read([1, 0])
    assert f.images.dtype == torch.float16 and f.images.shape == (2, 96, 48, 48, 3)
    np.testing.assert_allclose(f.alpha[0].numpy(), tiny_capture.frames[1].alpha, atol=1e-3)
    assert set(src.camera) == {"K", "R", "t"}


def test_low_rank_field_round_trip(tiny_capture, tmp_path):
    src = open_source(tiny_capture.path)
    out = tmp_path / "f.field"
    write_low_rank(out, src, rank=12)
    lr = open_source(out)
    assert lr.kind == FIELD_KIND and lr.n_images == 12 and lr.coeffs.shape == (12, 96)
    assert lr.camera is not None and lr.has_alpha() and lr.gain == src.gain
    f = lr.read([0])
    full = src.read([0]).images.float()
    rel = (f.olat() - full).norm() / full.norm()
    assert rel < 0.2  # 12 of 96 components of a shadowed, specular face
    with pytest.raises(DatasetError, match="exists"):
        write_low_rank(out, src, rank=12)
    with pytest.raises(DatasetError, match="already a low-rank"):
        write_low_rank(tmp_path / "g.field", lr, rank=4)


def test_wrong_kind_is_refused(tmp_path):
    from nervp.store.zstore import atomic_dataset

    with atomic_dataset(tmp_path / "raw", {"kind": "raw"}):
        pass
    with pytest.raises(DatasetError, match="raw"):
        open_source(tmp_path / "raw")
    with pytest.raises(DatasetError, match="does not exist"):
        open_source(tmp_path / "nothing")


def test_virtual_stage_datasets_without_exposure_use_the_stage_default(tiny_capture, tmp_path):
    from nervp.store.olat import write_olat_dataset
    from nervp.synth.simulate import SimConfig, stage_manifest

    stage = tiny_capture.stage
    write_olat_dataset(tmp_path / "old.olat", iter(tiny_capture.frames[:1]), 1, stage_manifest(stage), stage.dome)
    assert open_source(tmp_path / "old.olat").gain == pytest.approx(SimConfig.exposure)
