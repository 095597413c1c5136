"""Catalogue: `nervp inspect` reads every chunk of a small dataset, so a damaged chunk is
found (not reported valid), and says so; --verify forces the same for large datasets."""

import shutil
from pathlib import Path

import pytest

from nervp.cli import main
from tests.bad_input.harness import refused


def _chunks(ds: Path, array: str) -> list[Path]:
    return sorted(p for p in (ds / array).rglob("*") if p.is_file() and p.name != "zarr.json")


@pytest.mark.parametrize("array", ["olat", "normal", "beta", "time"])
@pytest.mark.parametrize("verify", [[], ["--verify"]], ids=["default", "verify"])
def test_corrupt_chunk_is_found(capsys, tiny_olat, tmp_path, array, verify):
    ds = tmp_path / "d.olat"
    shutil.copytree(tiny_olat, ds)
    chunk = _chunks(ds, array)[-1]
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    sheet = tmp_path / "s.png"
    refused(capsys, ["inspect", ds, "--sheet", sheet, *verify], inputs=[ds], outputs=[sheet],
            match=f"'{array}'.*corrupted")


def test_valid_dataset_says_verified(capsys, tiny_olat, tmp_path):
    capsys.readouterr()
    assert main(["inspect", str(tiny_olat), "--sheet", str(tmp_path / "s.png")]) == 0
    cap = capsys.readouterr()
    assert "checksums match" in " ".join((cap.out + cap.err).split())


def test_frame_out_of_range(capsys, tiny_olat, tmp_path):
    sheet = tmp_path / "s.png"
    refused(capsys, ["inspect", tiny_olat, "--frame", "99", "--sheet", sheet], inputs=[tiny_olat],
            outputs=[sheet], match="--frame 99")
