"""`nervp view FIELD --port P` end to end: serves the page on 127.0.0.1, stops on Ctrl-C (SIGINT)
with exit 0 and removes its temporary page; an export interrupted part-way leaves nothing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from nervp.errors import Interrupted

ROOT = Path(__file__).resolve().parents[2]


def test_serves_on_localhost_and_stops_on_sigint(view_field, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path), "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "nervp.cli", "view", str(view_field), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        url, lines, t0 = None, [], time.monotonic()
        while url is None and time.monotonic() - t0 < 120:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"nervp view: (http://127\.0\.0\.1:\d+/)", line)
            url = m.group(1) if m else None
        assert url, "".join(lines)
        assert b"nervp view" in urllib.request.urlopen(url + "index.html", timeout=10).read()
        assert b'"nervp-view 1"' in urllib.request.urlopen(url + "scene.json", timeout=10).read()
        frame = urllib.request.urlopen(url + "frames/0000.bin", timeout=10).read()
        assert len(frame) == (16 * 32 * 32 * 3 + 32 * 32) * 2
        assert [p.name for p in tmp_path.iterdir()] != []  # the page lives in a temporary folder
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        assert list(tmp_path.iterdir()) == []  # and is removed
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()


def test_interrupted_export_leaves_nothing(view_field, tmp_path):
    from nervp.view import export_page, open_scene

    def stop(t: int) -> None:
        if t == 0:
            raise Interrupted(signal.SIGINT)

    with pytest.raises(Interrupted):
        export_page(open_scene(view_field), tmp_path / "page", on_frame=stop)
    assert list(tmp_path.iterdir()) == []
