"""Bad raw streams: a clear error naming the frame, a non-zero exit, and nothing at OUT."""

import json
import shutil

import numpy as np
import pytest
import zarr

from nervp.capture import CaptureConfig, ExecConfig, capture
from nervp.capture.ingest import write_raw_stream
from nervp.cli import main
from nervp.errors import NervpError
from nervp.store.olat import load_olat
from nervp.store.raw import load_raw
from nervp.store.zstore import DatasetError, resumable_dir, small_array

ONE = ExecConfig(workers=1)


@pytest.fixture
def copy(moving_raw, tmp_path):
    dst = tmp_path / "bad.raw"
    shutil.copytree(moving_raw, dst)
    return dst


def image_chunk(raw, i):
    return raw / "images" / "c" / str(i) / "0" / "0"


def replace_small(raw, name, data):
    g = zarr.open_group(str(raw), mode="r+")
    del g[name]
    small_array(g, name, data, name)


def fails(raw, tmp_path, match, cfg=None):
    out = tmp_path / "out.olat"
    with pytest.raises(NervpError, match=match):
        capture(raw, out, cfg or CaptureConfig(), ONE)
    assert not out.exists()
    with pytest.raises(DatasetError):
        load_olat(out)
    return out


def test_missing_frames_are_named(copy, tmp_path):
    image_chunk(copy, 7).unlink()
    image_chunk(copy, 12).unlink()
    out = fails(copy, tmp_path, r"raw image 7 of 0\.\.18 is missing \(and 1 more: 7, 12\)")
    assert not resumable_dir(out).exists()  # refused before any work


def test_dropped_frames_show_as_a_timestamp_gap(copy, tmp_path):
    t = load_raw(copy).small("time")
    t[10:] += 2 / 1000  # the camera skipped two frames after image 9
    replace_small(copy, "time", t)
    fails(copy, tmp_path, r"2 frame\(s\) missing after image 9")


def test_schedule_longer_than_the_images(copy, tmp_path):
    p = load_raw(copy).small("pattern")
    replace_small(copy, "pattern", np.concatenate([p, p[:3]]))
    fails(copy, tmp_path, r"'pattern' has shape \(22,\), manifest says \(19,\)")


def test_manifest_image_count_disagrees(copy, tmp_path):
    m = json.loads((copy / "manifest.json").read_text())
    m["schedule"]["n_images"] = 25
    (copy / "manifest.json").write_text(json.dumps(m))
    fails(copy, tmp_path, "schedule describes 25 images but the stream holds 19")


@pytest.mark.parametrize("field,value", [("n_images", float("inf")), ("fps", 10 ** 400), ("n_images", "many")],
                         ids=["n-images-infinite", "fps-beyond-float64", "n-images-a-word"])
def test_manifest_schedule_numbers_that_are_not_numbers(copy, tmp_path, field, value):
    m = json.loads((copy / "manifest.json").read_text())
    m["schedule"][field] = value  # json writes inf as Infinity and 10**400 as an int beyond float64
    (copy / "manifest.json").write_text(json.dumps(m))
    fails(copy, tmp_path, "schedule.n_images and schedule.fps must be numbers")


def test_set_pointing_past_the_last_image(copy, tmp_path):
    s = load_raw(copy).small("sets_olat")
    s[2, 5] = 40
    replace_small(copy, "sets_olat", s)
    fails(copy, tmp_path, r"set 2 uses image 40 but the stream has images 0\.\.18")


def test_set_whose_led_disagrees_with_the_pattern(copy, tmp_path):
    s = load_raw(copy).small("sets_olat")
    s[1, [2, 3]] = s[1, [3, 2]]
    replace_small(copy, "sets_olat", s)
    fails(copy, tmp_path, r"set 1 takes image \d+ for LED 2, but the pattern says image \d+ is lit by LED 3")


def test_odd_bayer_size(moving_raw, tmp_path):
    raw = load_raw(moving_raw)
    images = [raw.image(i)[:, :63] for i in range(raw.n_images)]
    odd = write_raw_stream(tmp_path / "odd.raw", images, raw.small("pattern"), raw.small("time"), raw.small("gain"),
                           raw.dome, black_level=6)
    fails(odd, tmp_path, r"images are 64x63; a RGGB Bayer image needs an even height and width")


def test_unknown_bayer_pattern(moving_raw, tmp_path):
    fails(moving_raw, tmp_path, "Bayer pattern 'RGBG' is unknown", CaptureConfig(bayer="RGBG"))


def test_truncated_image_file_names_the_frame_and_keeps_no_dataset(copy, tmp_path):
    f = image_chunk(copy, 9)
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    out = fails(copy, tmp_path, r"'images' at 9 cannot be decoded")
    work = resumable_dir(out)  # work so far is kept for a re-run, hidden and without a manifest
    assert work.name.startswith(".") and not (work / "data" / "manifest.json").exists()


def test_truncated_manifest(copy, tmp_path):
    m = copy / "manifest.json"
    m.write_text(m.read_text()[:100])
    fails(copy, tmp_path, "manifest.json is corrupted")


def test_cli_reports_one_line_and_exits_2(copy, tmp_path, capsys):
    image_chunk(copy, 4).unlink()
    out = tmp_path / "cli.olat"
    assert main(["capture", str(copy), str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nervp: error:") and "raw image 4" in err and err.count("\n") == 0
    assert not out.exists()
    assert main(["capture", str(copy), str(out), "--set-stride", "0"]) == 2
    assert "--set-stride must be >= 1" in capsys.readouterr().err
