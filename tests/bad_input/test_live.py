"""Catalogue: `nervp live` refuses what it cannot stream from or to in one line naming the
source, the port or the flag, before any output is written."""

from __future__ import annotations

import socket

import pytest

from tests.bad_input.harness import refused


def test_missing_source(capsys, tiny_run, tmp_path):
    out = tmp_path / "o.mp4"
    refused(capsys, ["live", tiny_run, "--source", tmp_path / "none.mp4", "--out", out], inputs=[tiny_run],
            outputs=[out], match=r"--source .*none\.mp4 does not exist")


def test_unreadable_source(capsys, tiny_run, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    out = tmp_path / "o.mp4"
    refused(capsys, ["live", tiny_run, "--source", bad, "--out", out], inputs=[tiny_run, bad], outputs=[out],
            match=r"--source .*bad\.mp4: cannot read the video")


def test_absent_webcam(capsys, tiny_run, tmp_path):
    out = tmp_path / "o.mp4"
    refused(capsys, ["live", tiny_run, "--source", "webcam:63", "--out", out], inputs=[tiny_run], outputs=[out],
            match=r"webcam:63: no camera answers at index 63")


def test_port_in_use(capsys, tiny_run, tiny_video):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        refused(capsys, ["live", tiny_run, "--source", tiny_video, "--out", f"http://127.0.0.1:{port}"],
                inputs=[tiny_run, tiny_video], match=rf"http://127\.0\.0\.1:{port}: .*in use.*choose another port")


def test_page_only_on_this_machine(capsys, tiny_run, tiny_video):
    refused(capsys, ["live", tiny_run, "--source", tiny_video, "--out", "http://0.0.0.0:8080"],
            inputs=[tiny_run, tiny_video], match=r"--out http://0\.0\.0\.0:8080: give http://127\.0\.0\.1:PORT")


def test_not_a_run(capsys, tiny_video, tmp_path):
    out = tmp_path / "o.mp4"
    (tmp_path / "notrun").mkdir()
    refused(capsys, ["live", tmp_path / "notrun", "--source", tiny_video, "--out", out], inputs=[tiny_video], outputs=[out],
            match="is not a nervp run")


SETTINGS = [
    ("size-not-divisible", ["--size", "20"], "--size 20: .*divisible by"),
    ("source-fps-zero", ["--source-fps", "0"], "--source-fps"),
    ("queue-zero", ["--queue", "0"], "--queue"),
    ("frames-zero", ["--frames", "0"], "--frames"),
    ("offline-smoothing", ["--parse.track.smoothing.mode", "offline"], "smoothing.mode offline"),
    ("light-unknown", ["--light", "nowhere"], "nowhere"),
    ("background-missing", ["--background", "/nonexistent/bg.png"], "background"),
    ("output-type", [], "unsupported output type"),
]


@pytest.mark.parametrize("args,match", [c[1:] for c in SETTINGS], ids=[c[0] for c in SETTINGS])
def test_settings(capsys, tiny_run, tiny_video, tmp_path, args, match):
    out = tmp_path / ("o.avi" if not args else "o.mp4")
    refused(capsys, ["live", tiny_run, "--source", tiny_video, "--out", out, *args], inputs=[tiny_run, tiny_video],
            outputs=[out], match=match)


def test_demo_source_missing(capsys, tmp_path):
    """`nervp demo --source` with no such clip: one line naming it, before any work."""
    out = tmp_path / "demo"
    refused(capsys, ["demo", out, "--preset", "tiny", "--source", tmp_path / "none.mp4"], outputs=[out],
            match=r"--source .*none\.mp4 does not exist")
