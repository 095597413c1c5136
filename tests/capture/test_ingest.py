"""`nervp ingest`: a simulated stream written out as a camera would (16-bit TIFF or PNG frames,
the controller's schedule CSV, the camera's timestamps CSV) comes back bit for bit, and
capture's output is then identical; dropped frames are all found and the surviving sets
capture exactly as in the undamaged run."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_stream import synthetic_stream

from nervp.capture import CaptureConfig, ExecConfig, capture
from nervp.capture.ingest import IngestConfig, ingest
from nervp.cli import main
from nervp.lightstage import DomeConfig, build_dome
from nervp.store.olat import load_olat
from nervp.store.raw import load_raw
from nervp.synth.camera_files import write_camera_files

ONE = ExecConfig(workers=1)
SMALL = ("pattern", "time", "gain", "sets_middle", "sets_olat")


def _cfg(cam, **kw) -> IngestConfig:
    base = {"schedule": str(cam.schedule), "dome": cam.dome, "timestamps": cam.timestamps,
            "black_level": cam.black_level, "white_level": cam.white_level}
    return IngestConfig(**{**base, **kw})


def _same_stream(a, b):
    for name in SMALL:
        np.testing.assert_array_equal(a.small(name), b.small(name), err_msg=name)
    assert a.n_images == b.n_images
    for i in range(a.n_images):
        np.testing.assert_array_equal(a.image(i), b.image(i), err_msg=f"image {i}")
    for k in ("black_level", "white_level", "bayer", "n_lights"):
        assert a.manifest[k] == b.manifest[k], k
    np.testing.assert_allclose(b.dome.position, a.dome.position, rtol=0, atol=1e-12)


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    """76 images, 22 sets of an 8-LED dome, 32x32."""
    return synthetic_stream(tmp_path_factory.mktemp("syn") / "s.raw", build_dome(DomeConfig(n_lights=8)), 22)


@pytest.fixture(scope="module")
def captured(stream, tmp_path_factory):
    out = tmp_path_factory.mktemp("cap") / "ref.olat"
    capture(stream, out, CaptureConfig(), ONE)
    return load_olat(out)


@pytest.mark.parametrize("fmt", ["tiff", "png", "dng"])
def test_round_trip_of_the_virtual_stage_is_bit_exact(moving_raw, tmp_path, fmt):
    """simulate --raw -> 16-bit files + schedule CSV -> ingest: the same stream, byte for byte.
    DNG frames are read through LibRaw, their CFA pattern and levels taken from the files."""
    raw = load_raw(moving_raw)
    cam = write_camera_files(raw, tmp_path / "cam", fmt=fmt, bits=16)
    levels = {"black_level": None, "white_level": None} if fmt == "dng" else {}
    rep = ingest(cam.frames, tmp_path / "in.raw", _cfg(cam, **levels))
    assert rep.sync.dropped.size == 0 and rep.n_written == raw.n_images
    _same_stream(raw, load_raw(tmp_path / "in.raw"))


def test_round_trip_then_capture_equals_capturing_the_stream(stream, captured, tmp_path, capsys):
    cam = write_camera_files(load_raw(stream), tmp_path / "cam", fmt="tiff", bits=16)
    out = tmp_path / "in.raw"
    assert main(["ingest", str(cam.frames), str(out), "--schedule", str(cam.schedule), "--dome", str(cam.dome),
                 "--timestamps", str(cam.timestamps), "--black-level", str(cam.black_level),
                 "--white-level", str(cam.white_level)]) == 0
    assert "0 frame(s) dropped" in " ".join(capsys.readouterr().err.split())
    _same_stream(load_raw(stream), load_raw(out))
    capture(out, tmp_path / "c.olat", CaptureConfig(), ONE)
    got = load_olat(tmp_path / "c.olat")
    for name in captured.group.array_keys():
        np.testing.assert_array_equal(got.group[name][:], captured.group[name][:], err_msg=name)


def _drops(n_images: int, fraction: float, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    k = max(1, round(fraction * n_images))
    return sorted(rng.choice(np.arange(1, n_images - 1), k, replace=False).tolist())


@pytest.mark.parametrize("fraction", [0.01, 0.05])
def test_dropped_frames_are_all_found_and_surviving_sets_capture_the_same(stream, captured, tmp_path, fraction):
    raw = load_raw(stream)
    drop = _drops(raw.n_images, fraction, seed=int(fraction * 1000))
    cam = write_camera_files(raw, tmp_path / "cam", drop=drop, duplicate=[drop[0] + 1])
    rep = ingest(cam.frames, tmp_path / "in.raw", _cfg(cam))
    assert rep.sync.dropped.tolist() == drop  # every dropped slot, and nothing else
    assert rep.sync.duplicates.size == 1
    got_raw = load_raw(tmp_path / "in.raw")
    t_full, t_got = raw.small("time"), got_raw.small("time")
    orig = np.searchsorted(t_full, t_got)  # each written image's index in the undamaged stream
    np.testing.assert_array_equal(t_full[orig], t_got)
    assert set(orig.tolist()) == set(range(raw.n_images)) - set(drop)
    assert 0 < rep.n_sets < raw.small("sets_middle").size
    capture(tmp_path / "in.raw", tmp_path / "c.olat", CaptureConfig(), ONE)
    got = load_olat(tmp_path / "c.olat")
    rows = np.searchsorted(captured.group["time"][:], got.group["time"][:])
    for name in ("olat", "confidence", "full_lit", "tracking", "time"):
        np.testing.assert_array_equal(got.group[name][:], captured.group[name][:][rows], err_msg=name)
    np.testing.assert_array_equal(orig[got.group["source_olat"][:]], captured.group["source_olat"][:][rows])


def test_drops_without_timestamps_found_by_tracking_frames(stream, tmp_path):
    """No camera timestamps: the tracking frames' brightness re-synchronises the schedule; the
    frames of a group that lost one cannot be told apart and are left out, never mislabelled."""
    raw = load_raw(stream)
    drop = [31, 52]
    cam = write_camera_files(raw, tmp_path / "cam", drop=drop)
    rep = ingest(cam.frames, tmp_path / "in.raw", _cfg(cam, timestamps=None))
    assert rep.sync.n_dropped == 2 and len(rep.sync.resync) == 2
    assert set(drop) <= set(rep.sync.dropped.tolist())
    got = load_raw(tmp_path / "in.raw")
    orig = np.searchsorted(raw.small("time"), got.small("time"))
    np.testing.assert_array_equal(raw.small("time")[orig], got.small("time"))
    np.testing.assert_array_equal(raw.small("pattern")[orig], got.small("pattern"))
    for i in range(got.n_images):  # every kept frame carries the LED that lit it
        np.testing.assert_array_equal(got.image(i), raw.image(int(orig[i])))


def test_8_bit_png_and_12_bit_tiff(stream, tmp_path):
    """8-bit files pass through; 12-bit values (d * 4095 / 255 rounded) come back as d."""
    import tifffile

    raw = load_raw(stream)
    cam = write_camera_files(raw, tmp_path / "cam8", fmt="png", bits=8)
    ingest(cam.frames, tmp_path / "a.raw", _cfg(cam))
    _same_stream(raw, load_raw(tmp_path / "a.raw"))
    d12 = tmp_path / "f12"
    d12.mkdir()
    for p in sorted(cam.frames.iterdir()):
        import cv2

        v = cv2.imread(str(p), cv2.IMREAD_UNCHANGED).astype(np.uint32)
        tifffile.imwrite(d12 / (p.stem + ".tif"), ((v * 4095 + 127) // 255).astype(np.uint16))
    cfg = _cfg(cam, bits=12, black_level=raw.manifest["black_level"] * 4095 / 255,
               white_level=4095, timestamps=None)
    ingest(d12, tmp_path / "b.raw", cfg)
    _same_stream(raw, load_raw(tmp_path / "b.raw"))


def test_capture_records_a_measured_dome_file(stream, tmp_path):
    """`capture --dome FILE` records the measured geometry (same LED count) instead of the
    stream's; a file for another stage is refused naming it."""
    from nervp.errors import ConfigError
    from nervp.lightstage import fibonacci_directions

    good = tmp_path / "measured.csv"
    pos = fibonacci_directions(8) * 1.25
    good.write_text("x,y,z,r,g,b\n" + "\n".join(",".join(map(repr, (*map(float, p), 1.0, 0.9, 1.1))) for p in pos))
    capture(stream, tmp_path / "c.olat", CaptureConfig(set_stride=12, dome=good), ONE)
    ds = load_olat(tmp_path / "c.olat")
    np.testing.assert_allclose(ds.dome.position, pos, atol=1e-9)
    np.testing.assert_allclose(ds.dome.intensity, np.tile([1.0, 0.9, 1.1], (8, 1)))
    bad = tmp_path / "other.csv"
    bad.write_text("x,y,z\n" + "\n".join(",".join(map(repr, map(float, p))) for p in fibonacci_directions(12)))
    with pytest.raises(ConfigError, match=f"dome file {bad}: 12 LEDs but the stream .* lights 8"):
        capture(stream, tmp_path / "d.olat", CaptureConfig(set_stride=12, dome=bad), ONE)
    assert not (tmp_path / "d.olat").exists()


def test_lossless_16_bit_video(stream, tmp_path):
    """A single-channel 16-bit FFV1 video of the mosaics (d * 257) ingests to the same stream."""
    import av

    raw = load_raw(stream)
    cam = write_camera_files(raw, tmp_path / "cam", fmt="png", bits=8)  # for the schedule and dome
    video = tmp_path / "take.mkv"
    with av.open(str(video), "w") as box:
        s = box.add_stream("ffv1", rate=1000)
        s.width, s.height, s.pix_fmt = raw.width, raw.height, "gray16le"
        for i in range(raw.n_images):
            frame = av.VideoFrame.from_ndarray(raw.image(i).astype(np.uint16) * np.uint16(257), format="gray16le")
            for p in s.encode(frame):
                box.mux(p)
        for p in s.encode():
            box.mux(p)
    ingest(video, tmp_path / "v.raw", _cfg(cam, timestamps=None, black_level=cam.black_level * 257,
                                            white_level=65535))
    _same_stream(raw, load_raw(tmp_path / "v.raw"))


def test_interrupted_ingest_resumes_to_the_same_bytes(stream, tmp_path):
    """Stopped after some images, the same ingest again writes only the rest; the stream is
    byte-identical to an uninterrupted ingest's."""
    from capture_streams import tree_bytes

    cam = write_camera_files(load_raw(stream), tmp_path / "cam")
    ingest(cam.frames, tmp_path / "whole.raw", _cfg(cam))

    class Stop(Exception):
        pass

    def stop_at_40(i, n):
        if i == 40:
            raise Stop

    with pytest.raises(Stop):
        ingest(cam.frames, tmp_path / "part.raw", _cfg(cam), on_image=stop_at_40)
    assert not (tmp_path / "part.raw").exists() and (tmp_path / ".part.raw.partial").is_dir()
    seen = []
    ingest(cam.frames, tmp_path / "part.raw", _cfg(cam), on_image=lambda i, n: seen.append(i))
    assert seen[0] > 0 and seen[-1] == load_raw(stream).n_images - 1  # only what was not written before
    whole, part = tree_bytes(tmp_path / "whole.raw"), tree_bytes(tmp_path / "part.raw")
    assert whole.keys() == part.keys()
    diff = [k for k in whole if whole[k] != part[k]]
    assert diff == [], diff
