"""Catalogue: `nervp ingest` refuses bad recordings in one line naming the file, exits non-zero
and leaves nothing at OUT: a schedule longer or shorter than the frames, a frame of another
size or bit depth, an LED beyond the dome, a dome file with duplicate or non-finite positions,
an unreadable DNG, a folder with no frames. `simulate --dome.file` refuses bad dome files too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

from nervp.lightstage import DomeConfig, build_dome
from nervp.store.raw import load_raw
from nervp.synth.camera_files import write_camera_files
from tests.bad_input.harness import refused
from tests.capture.synthetic_stream import synthetic_stream


@pytest.fixture(scope="module")
def camera(tmp_path_factory):
    """A tiny recording as a camera writes it: 16-bit TIFFs, schedule, timestamps, dome."""
    root = tmp_path_factory.mktemp("cam")
    raw = synthetic_stream(root / "s.raw", build_dome(DomeConfig(n_lights=8)), 2, size=16)
    return write_camera_files(load_raw(raw), root / "cam")


def _args(cam, frames=None, **over):
    a = {"--schedule": cam.schedule, "--dome": cam.dome, "--timestamps": cam.timestamps,
         "--black-level": cam.black_level, "--white-level": cam.white_level, **over}
    out = ["ingest", frames or cam.frames, "OUT"]
    for k, v in a.items():
        if v is not None:
            out += [k, v]
    return out


def _run(capsys, tmp_path, cam, argv, match, inputs=()):
    out = tmp_path / "o.raw"
    argv = [out if a == "OUT" else a for a in argv]
    refused(capsys, argv, inputs=[cam.frames, cam.schedule, *inputs], outputs=[out], match=match)


def _copy(cam, tmp_path) -> Path:
    d = tmp_path / "frames"
    shutil.copytree(cam.frames, d)
    return d


def test_schedule_longer_than_the_frames(capsys, tmp_path, camera):
    lines = camera.schedule.read_text().splitlines()
    sched = tmp_path / "long.csv"
    sched.write_text("\n".join(lines[:1] + lines[1:] * 2) + "\n")  # time must still increase
    body = [ln.split(",") for ln in lines[1:]]
    n, dt = len(body), float(body[1][1]) - float(body[0][1])
    extra = [f"{b[0]},{float(b[1]) + n * dt!r},{b[2]}" for b in body]
    sched.write_text("\n".join([lines[0]] + lines[1:] + extra) + "\n")
    _run(capsys, tmp_path, camera, _args(camera, **{"--schedule": sched}), f"{sched}.*longer than the recording",
         [sched])


def test_schedule_shorter_than_the_frames(capsys, tmp_path, camera):
    lines = camera.schedule.read_text().splitlines()
    sched = tmp_path / "short.csv"
    sched.write_text("\n".join(lines[:-7]) + "\n")
    _run(capsys, tmp_path, camera, _args(camera, **{"--schedule": sched}), "shorter than the recording", [sched])


def test_schedule_shorter_without_timestamps(capsys, tmp_path, camera):
    lines = camera.schedule.read_text().splitlines()
    sched = tmp_path / "short.csv"
    sched.write_text("\n".join(lines[:-7]) + "\n")
    _run(capsys, tmp_path, camera, _args(camera, **{"--schedule": sched, "--timestamps": None}),
         "shorter than the recording", [sched])


def test_frame_of_another_size(capsys, tmp_path, camera):
    d = _copy(camera, tmp_path)
    bad = sorted(d.iterdir())[5]
    tifffile.imwrite(bad, np.zeros((18, 16), np.uint16))
    _run(capsys, tmp_path, camera, _args(camera, frames=d), f"{bad.name}.*16x18.*same size", [d])


def test_frame_of_another_bit_depth(capsys, tmp_path, camera):
    d = _copy(camera, tmp_path)
    bad = sorted(d.iterdir())[3]
    tifffile.imwrite(bad, np.zeros((16, 16), np.uint8))
    _run(capsys, tmp_path, camera, _args(camera, frames=d), f"{bad.name}.*8-bit.*16-bit", [d])


def test_value_beyond_the_bit_depth(capsys, tmp_path, camera):
    _run(capsys, tmp_path, camera, _args(camera, **{"--bits": 12, "--black-level": 0, "--white-level": 4095}),
         r"frame_000000\.tif.*exceeds the 12-bit maximum")


def test_led_beyond_the_dome(capsys, tmp_path, camera):
    lines = camera.schedule.read_text().splitlines()
    row = next(k for k, ln in enumerate(lines) if ln.startswith("3,"))
    lines[row] = "8" + lines[row][1:]
    sched = tmp_path / "s.csv"
    sched.write_text("\n".join(lines) + "\n")
    _run(capsys, tmp_path, camera, _args(camera, **{"--schedule": sched}), f"{sched}.*LED 8.*0..7", [sched])


@pytest.mark.parametrize("damage,match", [("duplicate", "LEDs 1 and 4 have the same direction"),
                                          ("nan", "LED 2 has a non-finite position")])
def test_bad_dome_file(capsys, tmp_path, camera, damage, match):
    d = json.loads(camera.dome.read_text())
    if damage == "duplicate":
        d["positions"][4] = d["positions"][1]
    else:
        d["positions"][2][0] = float("nan")
    dome = tmp_path / "dome.json"
    dome.write_text(json.dumps(d))
    _run(capsys, tmp_path, camera, _args(camera, **{"--dome": dome}), f"dome file {dome}: {match}", [dome])
    out = tmp_path / "sim.raw"
    refused(capsys, ["simulate", out, "--raw", "--preset", "tiny", "--dome.file", dome], inputs=[dome],
            outputs=[out], match=f"dome file {dome}: {match}")


def test_unreadable_dng(capsys, tmp_path, camera):
    d = tmp_path / "dng"
    d.mkdir()
    for k in range(3):
        (d / f"f{k}.dng").write_bytes(b"II*\x00 this is not a DNG")
    _run(capsys, tmp_path, camera, _args(camera, frames=d), r"f0\.dng: cannot be read as a DNG frame", [d])


def test_folder_with_no_frames(capsys, tmp_path, camera):
    d = tmp_path / "empty"
    d.mkdir()
    (d / "notes.txt").write_text("no frames here")
    _run(capsys, tmp_path, camera, _args(camera, frames=d), f"{d}: no frames", [d])
