"""Every crash the fuzzer (fuzz/run.py) found, as a case: each reader now refuses the input
with a NervpError (one line, naming the file) instead of another exception."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nervp.errors import NervpError
from nervp.store import zstore

KIND = "fuzzcase"


def _dataset(root: Path) -> Path:
    """A two-frame dataset: a frame array `images` (2, 4, 6, 3) float16 and `params` (2, 3)."""
    path = root / "ds"
    manifest = {"kind": KIND, "height": 4, "width": 6, "n_frames": 2}
    with zstore.atomic_dataset(path, manifest) as g:
        zstore.frame_array(g, "images", (2, 4, 6, 3), "float16", "linear RGB")[...] = 0.5
        zstore.small_array(g, "params", np.zeros((2, 3), np.float32), "values")
        manifest["arrays"] = zstore.array_list(g)
    return path


def _read(ds: Path) -> None:
    manifest, group = zstore.open_dataset(ds, KIND)
    for name in manifest["arrays"]:
        zstore.read_chunk(group[name], ..., ds, name)


def _edit_json(path: Path, edit) -> None:
    d = json.loads(path.read_text())
    edit(d)
    path.write_text(json.dumps(d))


def test_the_dataset_reads(tmp_path):
    _read(_dataset(tmp_path))


@pytest.mark.parametrize("edit", [
    pytest.param(lambda d: d["arrays"].__setitem__("images", 7), id="array-entry-not-an-object"),
    pytest.param(lambda d: d["arrays"]["images"].pop("shape"), id="array-entry-without-shape"),
    pytest.param(lambda d: d["arrays"]["images"].__setitem__("shape", "x"), id="shape-not-a-list"),
    pytest.param(lambda d: d.__setitem__("arrays", ["images"]), id="arrays-a-list"),
])
def test_manifest_array_list(tmp_path, edit):
    ds = _dataset(tmp_path)
    _edit_json(ds / "manifest.json", edit)
    with pytest.raises(zstore.DatasetError, match=str(ds)):
        _read(ds)


@pytest.mark.parametrize("doc", ["[]", "7", '"nervp"', "null"])
def test_manifest_not_an_object(tmp_path, doc):
    ds = _dataset(tmp_path)
    (ds / "manifest.json").write_text(doc)
    with pytest.raises(zstore.DatasetError, match="manifest.json"):
        zstore.read_manifest(ds, KIND)


def _set_chunk_shape(value):
    return lambda d: d["chunk_grid"]["configuration"].__setitem__("chunk_shape", value)


@pytest.mark.parametrize("edit", [
    pytest.param(lambda p: p.write_text('{"shape": [2, 4, '), id="truncated-json"),
    pytest.param(lambda p: p.write_bytes(p.read_bytes().replace(b"float16", b"float\xeb\xe1")), id="bad-utf8"),
    pytest.param(lambda p: _edit_json(p, lambda d: d["codecs"][0].__setitem__("name", "byte")), id="unknown-codec"),
    pytest.param(lambda p: _edit_json(p, _set_chunk_shape([1, False, 6, 3])), id="zero-chunk"),
    pytest.param(lambda p: _edit_json(p, _set_chunk_shape([1, 4, "6", 3])), id="chunk-a-string"),
    pytest.param(lambda p: _edit_json(p, _set_chunk_shape([1, 10**6, 6, 3])), id="chunk-larger-than-array"),
    pytest.param(lambda p: _edit_json(p, lambda d: d.__setitem__("data_type", "float17")), id="unknown-dtype"),
    pytest.param(lambda p: _edit_json(p, lambda d: d.__setitem__("shape", [2, 4, 6, 10**30])), id="huge-shape"),
    pytest.param(lambda p: _edit_json(p, lambda d: d.__setitem__("zarr_format", 9)), id="unknown-format"),
])
def test_damaged_array_metadata(tmp_path, edit):
    ds = _dataset(tmp_path)
    edit(ds / "images" / "zarr.json")
    with pytest.raises(zstore.DatasetError, match=str(ds)):
        _read(ds)


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """A run directory of the `tiny` preset with untrained final weights."""
    import torch
    from safetensors.torch import save_file

    from nervp.lightstage.dome import build_dome
    from nervp.model.translator import Translator
    from nervp.presets import train_preset
    from nervp.train.run import COND, CONFIG, RunInfo

    path = tmp_path / "run"
    path.mkdir()
    cfg = train_preset("tiny", steps=2)
    info = RunInfo(cfg, str(tmp_path / "ds"), 1.0, 4, 25.0, build_dome().to_json(), None, 16, 16, {}, (3,))
    (path / CONFIG).write_text(json.dumps(info.to_json()))
    save_file({k: v.contiguous() for k, v in Translator(cfg.model).state_dict().items()}, str(path / "model.safetensors"))
    save_file({"cond": torch.zeros(4, cfg.model.cond_channels, 16, 16), "beta_bar": torch.zeros(10)}, str(path / COND))
    return path


@pytest.mark.parametrize("edit", [
    pytest.param(lambda d: d["train"]["model"].__setitem__("base_channels", "16"), id="channels-a-string"),
    pytest.param(lambda d: d["train"]["model"].__setitem__("max_channels", 0.5), id="channels-a-fraction"),
    pytest.param(lambda d: d["train"]["model"].__setitem__("depth", -1), id="negative-depth"),
    pytest.param(lambda d: d["train"]["model"].__setitem__("head", "banana"), id="unknown-head"),
    pytest.param(lambda d: d["train"]["model"].__setitem__("in_frames", [11]), id="frames-a-list"),
    pytest.param(lambda d: d["train"].__setitem__("steps", "x"), id="steps-not-a-number"),
    # fuzz round 4: json reads 10**400 as an int that float() refuses and 1e999 as inf that int() refuses
    pytest.param(lambda d: d.__setitem__("fps", 10 ** 400), id="fps-beyond-float64"),
    pytest.param(lambda d: d.__setitem__("n_frames", float("inf")), id="n-frames-infinite"),
    pytest.param(lambda d: d.__setitem__("height", float("inf")), id="height-infinite"),
    # fuzz round 6: a depth of 2**31 spent minutes building the layer list
    pytest.param(lambda d: d["train"]["model"].__setitem__("depth", 2 ** 31), id="depth-2-to-31"),
    pytest.param(lambda d: d["train"]["model"].__setitem__("base_channels", 10 ** 9), id="channels-1e9"),
])
def test_run_config_that_builds_no_model(run_dir, edit):
    from nervp.train.run import RunError, load_run

    load_run(run_dir, device="cpu")  # the run itself loads
    _edit_json(run_dir / "config.json", edit)
    with pytest.raises(RunError, match="config.json"):
        load_run(run_dir, device="cpu")


@pytest.mark.parametrize("name,data", [
    ("huge.json", b"[[1e0, 2, 3], [" + b"9" * 400 + b", 1, 1]]"),
    ("empty.npy", b""),
    ("header.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order':\n" + b"\x00" * 80),
    ("literal.npy", b"\x93NUMPY\x01\x00\x16\x00{'descr': __import__}\n"),
    ("void.npy", b"\x93NUMPY\x01\x00\x76\x00" + b"{'descr': '|V4', 'fortran_order': False, 'shape': (96, 3), }"
     .ljust(117) + b"\n" + b"\x00" * 96 * 3 * 4),  # fuzz round 5: np.load accepts it, float64 does not
    ("text.npy", b"\x93NUMPY\x01\x00\x76\x00" + b"{'descr': '|S4', 'fortran_order': False, 'shape': (96,), }"
     .ljust(117) + b"\n" + b"abcd" * 96),
])
def test_led_weights_files(tmp_path, name, data):
    from nervp.relight.envmap import LightingError
    from nervp.relight.lighting import parse_lighting

    (tmp_path / name).write_bytes(data)
    with pytest.raises(LightingError, match=name):
        parse_lighting(str(tmp_path / name))


def test_video_with_undecodable_metadata(tmp_path):
    from nervp.viz.video import read_video, write_mp4

    path = tmp_path / "clip.mp4"
    write_mp4(path, [np.full((16, 16, 3), 40 * t, np.uint8) for t in range(3)], fps=10.0)
    data = path.read_bytes()
    assert b"VideoHandler\x00" in data
    path.write_bytes(data.replace(b"VideoHandler\x00", b"VideoHandl\xeb\xe1\x12\x00"))  # not UTF-8
    with pytest.raises(NervpError, match="clip.mp4"):
        read_video(path)


# --- dome files and capture schedules (fuzz targets dome_json, schedule_json) ---

HUGE = "1" + "0" * 400  # a JSON integer beyond float64


def _dome_doc() -> dict:
    from nervp.lightstage.dome import DomeConfig, build_dome, dome_file_json

    return dome_file_json(build_dome(DomeConfig(n_lights=12)))


@pytest.mark.parametrize("where", ["positions", "rgb"])
def test_dome_file_with_a_number_beyond_float64(tmp_path, where):
    from nervp.lightstage.dome import load_dome_file

    text = json.dumps(_dome_doc())
    load_dome_file(_write(tmp_path / "ok.json", text))  # the unedited file reads
    doc = _dome_doc()
    doc[where][3][1] = "HUGE"
    path = _write(tmp_path / "dome.json", json.dumps(doc).replace('"HUGE"', HUGE))
    with pytest.raises(NervpError, match=rf"dome file .*dome.json: {where} must be numbers"):
        load_dome_file(path)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


SLOTS = [-1, 0, 1, 2, 3, 4, -1, 5, 6, 7, 8, 9]


@pytest.mark.parametrize("doc,match", [
    ({"led": float("nan")}, r'"led" must be a list'),
    ({"led": "0123"}, r'"led" must be a list'),
    ({"led": None, "fps": 1000}, r'"led" must be a list'),
    ({"led": SLOTS, "time": {"t": 0}}, r'"time" must be a list'),
    ({"led": SLOTS, "fps": [1000]}, r'"fps" must be a number'),
    ({"led": SLOTS, "fps": "x"}, r'"fps" must be a number'),
    ({"led": SLOTS, "fps": True}, r'"fps" must be a number'),
    ({"led": SLOTS, "fps": 1000, "time": [k / 1000 if k != 5 else {"v": 1} for k in range(12)]},
     r"times must be numbers"),
    ({"led": SLOTS, "fps": 1000, "time": [k / 1000 if k != 5 else [0.005] for k in range(12)]},
     r"times must be numbers"),
    ({"led": SLOTS, "fps": 1000, "gain": [1.0] * 3 + [{"v": 1.0}] + [1.0] * 8}, r"gains must be numbers"),
    ({"led": SLOTS, "fps": 1000, "gain": "\u0000"}, r'"gain" must be a list'),
], ids=["led-nan", "led-a-string", "led-null", "time-an-object", "fps-a-list", "fps-a-string", "fps-a-bool",
        "time-holds-an-object", "time-holds-a-list", "gain-holds-an-object", "gain-a-string"])
def test_schedule_json_of_the_wrong_types(tmp_path, doc, match):
    from nervp.capture.sync import read_schedule

    assert read_schedule(_write(tmp_path / "ok.json", json.dumps({"led": SLOTS, "fps": 1000})), 12).fps == 1000
    path = _write(tmp_path / "sched.json", json.dumps(doc))
    with pytest.raises(NervpError, match=r"sched\.json.*" + match):
        read_schedule(path, 12)


@pytest.mark.parametrize("field", ["led", "fps"])
def test_schedule_json_with_a_number_beyond_float64(tmp_path, field):
    from nervp.capture.sync import read_schedule

    doc = {"led": [*SLOTS[:5], "HUGE", *SLOTS[6:]], "fps": 1000} if field == "led" else {"led": SLOTS, "fps": "HUGE"}
    path = _write(tmp_path / "sched.json", json.dumps(doc).replace('"HUGE"', HUGE))
    with pytest.raises(NervpError, match=r"sched\.json.*(not an LED index|fps must be a number)"):
        read_schedule(path, 12)
