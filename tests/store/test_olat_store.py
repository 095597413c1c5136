import json
from pathlib import Path

import numpy as np
import pytest

from nervp.lightstage import DomeConfig, build_dome
from nervp.store.olat import OLATFrame, load_olat, write_olat_dataset
from nervp.store.zstore import DatasetError

L, H, W = 6, 8, 10


def frames(n, rng=None):
    rng = rng or np.random.default_rng(0)
    for t in range(n):
        olat = rng.uniform(0, 1, (L, H, W, 3)).astype(np.float32)
        n_ = rng.normal(size=(H, W, 3))
        yield OLATFrame(olat=olat, full_lit=olat.sum(0), alpha=rng.uniform(0, 1, (H, W)).astype(np.float32),
                        normal=(n_ / np.linalg.norm(n_, axis=-1, keepdims=True)).astype(np.float32),
                        albedo=rng.uniform(0, 1, (H, W, 3)).astype(np.float32),
                        theta=np.full(6, t, np.float32), phi=np.full(4, -t, np.float32),
                        landmarks=np.full((5, 2), t, np.float32), time=t / 25)


def write(path, n=3, **kw):
    write_olat_dataset(path, frames(n), n, {"height": H, "width": W, "fps": 25.0}, build_dome(DomeConfig(n_lights=L)),
                       beta=np.arange(3, dtype=np.float32), **kw)


def test_round_trip(tmp_path):
    p = tmp_path / "d.olat"
    write(p)
    ds = load_olat(p)
    assert (ds.n_frames, ds.n_lights, ds.height, ds.width) == (3, L, H, W)
    ref = list(frames(3))
    for t in range(3):
        fr = ds.frame(t)
        np.testing.assert_allclose(fr.olat, ref[t].olat, rtol=1e-3)  # float16 storage
        np.testing.assert_array_equal(fr.full_lit, ref[t].full_lit)  # float32 storage
        np.testing.assert_array_equal(fr.theta, ref[t].theta)
        assert fr.time == pytest.approx(t / 25)
    np.testing.assert_array_equal(ds.read("beta"), np.arange(3))
    assert ds.dome.n_lights == L
    m = json.loads((p / "manifest.json").read_text())
    assert m["version"] == 1 and m["colour_space"] == "linear-rec709"
    assert m["arrays"]["olat"]["shape"] == [3, L, H, W, 3]


def test_one_chunk_per_frame(tmp_path):
    p = tmp_path / "d.olat"
    write(p)
    ds = load_olat(p)
    assert ds.group["olat"].chunks == (1, L, H, W, 3)
    assert ds.group["olat"].nchunks == 3


def test_interrupted_write_leaves_nothing(tmp_path):
    p = tmp_path / "d.olat"

    def boom():
        yield from frames(1)
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        write_olat_dataset(p, boom(), 3, {"height": H, "width": W, "fps": 25.0}, build_dome(DomeConfig(n_lights=L)))
    assert not p.exists()
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_refused_and_kept(tmp_path):
    p = tmp_path / "d.olat"
    write(p)
    before = sorted(x.name for x in p.rglob("*"))
    with pytest.raises(DatasetError, match="already exists"):
        write(p)
    assert sorted(x.name for x in p.rglob("*")) == before


def test_overwrite_replaces_only_when_complete(tmp_path):
    p = tmp_path / "d.olat"
    write(p, n=2)

    def boom():
        yield from frames(1)
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        write_olat_dataset(p, boom(), 3, {"height": H, "width": W, "fps": 25.0},
                           build_dome(DomeConfig(n_lights=L)), overwrite=True)
    assert load_olat(p).n_frames == 2  # the old dataset survived
    write(p, n=3, overwrite=True)
    assert load_olat(p).n_frames == 3
    assert [x.name for x in tmp_path.iterdir()] == ["d.olat"]


def test_unwritable_output(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        write(tmp_path / "missing" / "d.olat")


def test_missing_chunk_is_detected(tmp_path):
    p = tmp_path / "d.olat"
    write(p)
    chunk = next(x for x in (p / "olat").rglob("*") if x.is_file() and x.name != "zarr.json")
    chunk.unlink()
    with pytest.raises(DatasetError, match="chunks missing"):
        load_olat(p)


def test_corrupted_chunk_is_reported_on_read(tmp_path):
    p = tmp_path / "d.olat"
    write(p)
    chunk = sorted(x for x in (p / "olat").rglob("*") if x.is_file() and x.name != "zarr.json")[0]
    data = chunk.read_bytes()
    chunk.write_bytes(data[: len(data) // 3])
    ds = load_olat(p)
    with pytest.raises(DatasetError, match="corrupted"):
        for t in range(ds.n_frames):
            ds.frame(t)


@pytest.mark.parametrize("damage", ["delete", "garbage", "version"])
def test_bad_manifest(tmp_path, damage):
    p = tmp_path / "d.olat"
    write(p)
    m = p / "manifest.json"
    if damage == "delete":
        m.unlink()
    elif damage == "garbage":
        m.write_text("{not json")
    else:
        d = json.loads(m.read_text())
        d["version"] = 99
        m.write_text(json.dumps(d))
    with pytest.raises(DatasetError):
        load_olat(p)


def test_not_a_dataset(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_olat(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DatasetError, match="not a complete nervp dataset"):
        load_olat(Path(tmp_path / "file"))
