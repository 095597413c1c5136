"""The dataset-kind registry: every kind is registered, and `inspect_dataset` validates a small
instance of each, writes its contact sheet and returns its summary."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from nervp.store import conditioning, field, olat, params, raw
from nervp.store.zstore import FORMAT_VERSION, DatasetError
from nervp.viz.kinds import KINDS, inspect_dataset


def test_registry_holds_all_five_kinds():
    assert set(KINDS) == {"olat", "raw", "field", "face_params", "conditioning"}
    assert list(KINDS) == [olat.KIND, raw.KIND, field.KIND, params.KIND, conditioning.KIND]
    for name, kind in KINDS.items():
        assert kind.name == name and kind.version == FORMAT_VERSION


def test_legacy_exposure_is_the_virtual_stage_default():
    from nervp.synth.simulate import SimConfig

    assert SimConfig.exposure == field.VIRTUAL_STAGE_EXPOSURE


@pytest.fixture(scope="module")
def datasets(tmp_path_factory, tiny_olat, tiny_cfg):
    """One small dataset of every kind, by kind name."""
    from nervp.face import load_head_model
    from nervp.parse.conditioning import MapSettings, iter_conditioning_maps
    from nervp.parse.fit import video_camera
    from nervp.parse.normalize import param_stats
    from nervp.presets import RAW_PRESETS
    from nervp.structures.face import FaceParams
    from nervp.synth.raw import simulate_raw

    d = tmp_path_factory.mktemp("kinds")
    rcfg = RAW_PRESETS["tiny"]
    simulate_raw(d / "s.raw", dataclasses.replace(rcfg, sim=dataclasses.replace(rcfg.sim, frames=1, size=32)))
    src = field.open_source(tiny_olat)
    coeffs = torch.linalg.qr(torch.randn(src.n_images, 4, generator=torch.Generator().manual_seed(0)))[0].T
    field.write_field(d / "s.field", src, coeffs.contiguous())
    m, T = load_head_model(), 3
    g = torch.Generator().manual_seed(0)
    fp = FaceParams(beta=torch.randn(m.n_id, generator=g), theta=torch.randn(T, 6, generator=g) * 0.05,
                    phi=torch.rand(T, m.n_expr, generator=g) * 0.3, residual=torch.rand(T, generator=g),
                    valid=torch.ones(T, dtype=torch.bool), camera=video_camera(64, 48, 30.0, 0.5), fps=30.0,
                    id_names=m.id_names, expr_names=m.expr_names)
    params.write_params(d / "s.params", fp, param_stats(fp))
    conditioning.write_conditioning(d / "s.cond", iter_conditioning_maps(fp, MapSettings(size=32, chunk=4)), T, 32, 43,
                                    {"fps": 30.0, "pose": "tracked"})
    return {"olat": tiny_olat, "raw": d / "s.raw", "field": d / "s.field", "face_params": d / "s.params",
            "conditioning": d / "s.cond"}


@pytest.mark.parametrize("kind", ["olat", "raw", "field", "face_params", "conditioning"])
def test_inspect_every_kind(datasets, kind, tmp_path):
    sheet = tmp_path / "sheet.png"
    text = inspect_dataset(datasets[kind], 1, sheet)
    assert str(datasets[kind]) in text and len(text.splitlines()) >= 1
    picture = np.asarray(Image.open(sheet))
    assert picture.ndim == 3 and picture.shape[2] == 3 and picture.dtype == np.uint8
    assert picture.shape[0] > 30 and picture.shape[1] > 30 and picture.std() > 0


def test_frame_out_of_range(datasets, tmp_path):
    with pytest.raises(DatasetError, match="out of range"):
        inspect_dataset(datasets["field"], 99, tmp_path / "s.png")
    assert not (tmp_path / "s.png").exists()


@pytest.mark.parametrize("bad", ["bogus", None, 3])
def test_corrupted_manifest_kind_is_refused(datasets, tmp_path, bad):
    copy = tmp_path / "copy.field"
    shutil.copytree(datasets["field"], copy)
    man = json.loads((copy / "manifest.json").read_text())
    man["kind"] = bad
    (copy / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(DatasetError, match="does not know"):
        inspect_dataset(copy, 0, tmp_path / "s.png")


def test_kind_swapped_for_another_is_refused(datasets, tmp_path):
    copy = tmp_path / "copy.cond"
    shutil.copytree(datasets["conditioning"], copy)
    man = json.loads((copy / "manifest.json").read_text())
    man["kind"] = "field"
    (copy / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(DatasetError):
        inspect_dataset(copy, 0, tmp_path / "s.png")
