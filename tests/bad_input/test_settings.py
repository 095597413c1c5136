"""Catalogue: settings no command can use are refused in one line naming the flag, before
anything is written (train's first 16 cases are in test_train_settings.py)."""

import pytest

from tests.bad_input.harness import refused

TINY = ["--preset", "tiny"]

SIMULATE = [
    ("frames-zero", ["--frames", "0"], "--frames"),
    ("size-odd", ["--size", "17"], "--size"),
    ("size-too-small", ["--size", "8"], "--size"),
    ("size-beyond-limit", ["--size", "8192"], "--size"),
    ("size-beyond-memory", ["--size", "4096", "--dome.n-lights", "4096"], "memory.*GB"),
    ("frames-beyond-disk", ["--frames", "100000000"], r"needs about .* GB, .* GB free"),
    ("fps-zero", ["--fps", "0"], "--fps"),
    ("fps-nan", ["--fps", "nan"], "--fps"),
    ("fps-negative", ["--fps", "-25"], "--fps"),
    ("fps-above-10000", ["--fps", "10001"], "--fps must be at most 10000"),
    ("start-negative", ["--start-s", "-1"], "--start-s"),
    ("take-zero", ["--take-s", "0"], "--take-s"),
    ("exposure-inf", ["--exposure", "inf"], "--exposure"),
    ("lights-too-few", ["--dome.n-lights", "2"], "--dome.n-lights"),
    ("fov-180", ["--camera.fov-y-deg", "180"], "--camera.fov-y-deg"),
    ("distance-negative", ["--camera.distance", "-1"], "--camera.distance"),
    ("supersample-zero", ["--quality.supersample", "0"], "--quality"),
    ("subdivisions-nine", ["--performer.face-subdivisions", "9"], "--performer.face-subdivisions"),
    ("head-period-zero", ["--motion.head-period-s", "0"], "--motion.head-period-s"),
    ("yaw-nan", ["--motion.yaw-deg", "nan"], "--motion.yaw-deg"),
    ("workers-zero", ["--workers", "0"], "--workers"),
    ("raw-start-s", ["--raw", "--start-s", "0.5"], "--start-s"),
    ("raw-bayer-unknown", ["--raw", "--sensor.bayer", "XYZW"], "--sensor.bayer"),
    ("raw-levels-crossed", ["--raw", "--sensor.black-level", "200", "--sensor.white-level", "100"],
     "--sensor.black-level"),
    ("raw-headroom-above-one", ["--raw", "--sensor.headroom", "2"], "--sensor.headroom"),
    ("raw-full-well-nan", ["--raw", "--sensor.full-well", "nan"], "--sensor.full-well"),
    ("raw-schedule-fps-zero", ["--raw", "--schedule.fps", "0"], "--schedule.fps"),
    ("raw-tracking-every-one", ["--raw", "--schedule.tracking-every", "1"], "--schedule.tracking-every"),
    ("raw-led-order-partial", ["--raw", "--schedule.led-order", "0", "1"], "--schedule.led-order"),
]


@pytest.mark.parametrize("args,option", [b[1:] for b in SIMULATE], ids=[b[0] for b in SIMULATE])
def test_simulate(capsys, tmp_path, args, option):
    out = tmp_path / "o.olat"
    refused(capsys, ["simulate", out, *TINY, *args], outputs=[out], match=option)


CAPTURE = [
    ("set-stride-zero", ["--set-stride", "0"], "--set-stride"),
    ("fps-nan", ["--fps", "nan"], "--fps"),
    ("fps-and-stride", ["--fps", "10", "--set-stride", "2"], "--fps or --set-stride"),
    ("confidence-zero", ["--confidence-px", "0"], "--confidence-px"),
    ("confidence-inf", ["--confidence-px", "inf"], "--confidence-px"),
    ("calibration-missing", ["--calibration-file", "/nonexistent/cal.json"], "--calibration-file"),
    ("workers-zero", ["--workers", "0"], "--workers"),
    ("threads-zero", ["--threads", "0"], "--threads"),
]


@pytest.mark.parametrize("args,option", [b[1:] for b in CAPTURE], ids=[b[0] for b in CAPTURE])
def test_capture(capsys, raw_stream, tmp_path, args, option):
    out = tmp_path / "c.olat"
    refused(capsys, ["capture", raw_stream, out, *args], inputs=[raw_stream], outputs=[out], match=option)


PARSE = [
    ("condition", "maps-size-tiny", ["--maps.size", "8"], "--maps.size"),
    ("condition", "maps-chunk-zero", ["--maps.chunk", "0"], "chunk"),
    ("condition", "maps-line-width-nan", ["--maps.line-width", "nan"], "--maps.line-width"),
    ("condition", "maps-device-banana", ["--maps.device", "banana"], "--device 'banana'"),
    ("track", "colour-levels-nine", ["--colour-levels", "9"], "--colour-levels"),
    ("track", "colour-frames-zero", ["--colour-frames", "0"], "--colour-frames"),
]


@pytest.mark.parametrize("cmd,args,option", [(b[0], *b[2:]) for b in PARSE], ids=[f"{b[0]}-{b[1]}" for b in PARSE])
def test_parse(capsys, tiny_olat, tmp_path, cmd, args, option):
    out = tmp_path / "p.out"
    refused(capsys, [cmd, tiny_olat, out, *args], inputs=[tiny_olat], outputs=[out], match=option)


RELIGHT = [
    ("fps-zero", ["--fps", "0"], "--fps"),
    ("fps-huge", ["--fps", "1e9"], "--fps"),
    ("ev-million", ["--ev", "1e6"], "--ev"),
    ("ev-nan", ["--ev", "nan"], "--ev"),
    ("rotate-inf", ["--rotate", "inf"], "--rotate"),
    ("batch-zero", ["--batch", "0"], "--batch"),
    ("frames-zero", ["--frames", "0"], "--frames"),
    ("hold-negative", ["--hold", "-1"], "--hold"),
    ("crf-sixty", ["--crf", "60"], "--crf"),
    ("device-banana", ["--device", "banana"], "--device"),
    ("period-without-spin", ["--period", "0.1"], "--period sets how fast --spin"),
    ("period-zero", ["--spin", "--period", "0"], "--period must be"),
    ("period-nan", ["--spin", "--period", "nan"], "--period must be"),
]


@pytest.mark.parametrize("args,option", [b[1:] for b in RELIGHT], ids=[b[0] for b in RELIGHT])
def test_relight(capsys, tiny_olat, tmp_path, args, option):
    out = tmp_path / "clip.mp4"
    refused(capsys, ["relight", tiny_olat, out, *args], inputs=[tiny_olat], outputs=[out], match=option)


def test_relight_sequence_beyond_disk(capsys, tiny_olat, tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10 ** 9, 10 ** 9 - 10 ** 6, 10 ** 6))  # 1 MB free
    out = tmp_path / "frames.exr"
    refused(capsys, ["relight", tiny_olat, out, "--frames", "1000", "--hold", "0"], inputs=[tiny_olat],
            outputs=[out, tmp_path / "frames.0000.exr"], match=r"needs about .* GB, .* GB free")


TRAIN = [
    ("batch-beyond-frames", ["--batch", "100000"], "--batch 100000 is larger"),
    ("vgg-weights-missing-file", ["--loss.vgg-weights", "/nonexistent/vgg19.safetensors"], "VGG-19"),
    ("vgg-weights-any", ["--loss.vgg-weights", "vgg.pth"], "--loss.vgg-weights"),
    ("device-banana", ["--device", "banana"], "--device"),
    ("minutes-zero", ["--minutes", "0"], "--minutes"),
    ("minutes-negative", ["--minutes", "-3"], "--minutes"),
    ("log-every-zero", ["--log-every", "0"], "--log-every"),
    ("lr-disc-nan", ["--lr-disc", "nan"], "--lr-disc"),
]


@pytest.mark.parametrize("args,option", [b[1:] for b in TRAIN], ids=[b[0] for b in TRAIN])
def test_train(capsys, tiny_olat, tmp_path, args, option):
    run = tmp_path / "run"
    refused(capsys, ["train", tiny_olat, run, *TINY, "--params", "truth", *args],
            inputs=[tiny_olat], outputs=[run], match=option)


DEMO = [
    ("same-performers", ["--target-seed", "1", "--source-seed", "1"], "--source-seed"),
    ("source-frames-zero", ["--source-frames", "0"], "--source-frames"),
    ("stage-frames-two", ["--stage.frames", "2"], "frames"),
    ("train-steps-zero", ["--train.steps", "0"], "--steps"),
    ("stage-size-odd", ["--stage.size", "33"], "--size"),
    ("raw-bayer-unknown", ["--raw.sensor.bayer", "QQQQ"], "bayer"),
]


@pytest.mark.parametrize("args,option", [b[1:] for b in DEMO], ids=[b[0] for b in DEMO])
def test_demo(capsys, tmp_path, args, option):
    out = tmp_path / "demo"
    refused(capsys, ["demo", out, *TINY, *args], outputs=[out], match=option)


def test_reenact_device(capsys, tiny_run, tiny_olat, tmp_path):
    out = tmp_path / "r.olat"
    refused(capsys, ["reenact", tiny_run, tiny_olat, out, "--device", "banana"], inputs=[tiny_run, tiny_olat],
            outputs=[out], match="--device")


def test_evaluate_device(capsys, tiny_run, tiny_olat):
    refused(capsys, ["evaluate", tiny_run, tiny_olat, "--device", "banana"], inputs=[tiny_run, tiny_olat],
            match="--device")
