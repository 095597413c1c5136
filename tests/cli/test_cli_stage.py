"""The `nervp simulate` / `nervp inspect` commands: outputs, and one-line errors on bad input."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from nervp.cli import main


def run(argv, capsys):
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_inspect_writes_a_contact_sheet(tiny_olat, tmp_path, capsys):
    sheet = tmp_path / "sheet.png"
    code, _, err = run(["inspect", str(tiny_olat), "--sheet", str(sheet)], capsys)
    assert code == 0
    assert "OLAT dataset" in err and "96 LEDs" in err
    from PIL import Image

    im = np.asarray(Image.open(sheet))
    assert im.shape[0] > 64 * 8 and im.shape[1] > 64 * 12
    assert im.std() > 10  # not blank


@pytest.mark.parametrize("argv,msg", [
    (["--size", "7"], "--size"),
    (["--size", "99999"], "--size"),
    (["--frames", "0"], "--frames"),
    (["--workers", "0"], "--workers"),
    (["--raw", "--workers", "2"], "--workers"),
])
def test_simulate_rejects_impossible_settings(tmp_path, capsys, argv, msg):
    out = tmp_path / "x.olat"
    code, _, err = run(["simulate", str(out), *argv], capsys)
    assert code == 2
    assert err.strip().count("\n") == 0 and msg in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_simulate_refuses_existing_or_unwritable_output(tiny_olat, tmp_path, capsys):
    code, _, err = run(["simulate", str(tiny_olat), "--preset", "tiny"], capsys)
    assert code == 2 and "already exists" in err and "--overwrite" in err
    code, _, err = run(["simulate", str(tmp_path / "no" / "such" / "dir"), "--preset", "tiny"], capsys)
    assert code == 2 and "does not exist" in err


def test_inspect_rejects_truncated_or_corrupted_datasets(tiny_olat, tmp_path, capsys):
    bad = tmp_path / "bad.olat"
    shutil.copytree(tiny_olat, bad)
    chunks = sorted(p for p in (bad / "olat").rglob("*") if p.is_file() and p.name != "zarr.json")
    chunks[-1].unlink()
    code, _, err = run(["inspect", str(bad)], capsys)
    assert code == 2 and "chunks missing" in err and str(bad) in err
    bad2 = tmp_path / "bad2.olat"
    shutil.copytree(tiny_olat, bad2)
    c = sorted(p for p in (bad2 / "olat").rglob("*") if p.is_file() and p.name != "zarr.json")[0]
    c.write_bytes(c.read_bytes()[:100])
    code, _, err = run(["inspect", str(bad2)], capsys)
    assert code == 2 and "corrupted" in err
    (bad2 / "manifest.json").unlink()
    code, _, err = run(["inspect", str(bad2)], capsys)
    assert code == 2 and "interrupted" in err
    # the original is untouched by all this
    code, _, _ = run(["inspect", str(tiny_olat), "--sheet", str(tmp_path / "s.png")], capsys)
    assert code == 0


def test_console_script_help():
    r = subprocess.run([sys.executable, "-m", "nervp.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for cmd in ("simulate", "inspect", "demo"):
        assert cmd in r.stdout
