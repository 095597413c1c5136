"""Catalogue: `nervp view` refuses what it cannot show, with one line and nothing written:
another kind of dataset, a field with no frames, a port already in use, an --export directory
that exists (without --overwrite) or whose parent does not, a rank the page cannot sum.
(Page-side input, dropped files, is checked in tests/view/test_page.py.)"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from tests.bad_input.harness import refused


def _empty_field(field: Path, out: Path) -> Path:
    """A copy of `field` with no frames (arrays cut to length 0, manifest to match)."""
    import zarr

    shutil.copytree(field, out)
    m = json.loads((out / "manifest.json").read_text())
    g = zarr.open_group(str(out), mode="r+")
    for k in ("basis", "alpha"):
        g[k].resize((0, *g[k].shape[1:]))
        m["arrays"][k]["shape"][0] = 0
    del g["time"]
    g.create_array("time", shape=(0,), chunks=(1,), dtype="float64", fill_value=0)
    m["arrays"]["time"]["shape"] = [0]
    m["n_frames"] = 0
    (out / "manifest.json").write_text(json.dumps(m))
    return out


def test_another_kind_of_dataset(capsys, raw_stream, tmp_path):
    """A raw stream (not a field or an OLAT dataset) is named and refused."""
    out = tmp_path / "page"
    refused(capsys, ["view", raw_stream, "--export", out], inputs=[raw_stream], outputs=[out],
            match="holds a 'raw' dataset; relighting needs an OLAT dataset or a low-rank field")


def test_field_with_no_frames(capsys, view_field, tmp_path):
    """A field whose arrays hold no frame: nothing to show."""
    empty = _empty_field(view_field, tmp_path / "empty.field")
    out = tmp_path / "page"
    refused(capsys, ["view", empty, "--export", out], inputs=[empty], outputs=[out], match="has no frames")


def test_port_in_use(capsys, view_field):
    """A port another program listens on: the fix is another --port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        refused(capsys, ["view", view_field, "--port", port], inputs=[view_field],
                match=f"port {port} on 127.0.0.1 is in use: pass --port")


@pytest.mark.parametrize("case", ["exists", "not a page", "no parent", "inside the input"])
def test_export_destination(capsys, view_field, tmp_path, case):
    """An --export directory that exists (without --overwrite), is an ordinary folder (even with
    --overwrite), has no parent directory, or lies inside the field (the store's output rules)."""
    out = {"no parent": tmp_path / "missing" / "page",
           "inside the input": view_field / "page"}.get(case, tmp_path / "page")
    extra = ["--overwrite"] if case == "not a page" else []
    if case in ("exists", "not a page"):
        out.mkdir()
        (out / "mine.txt").write_text("keep me")
    match = {"exists": "already exists: choose another output or pass --overwrite",
             "not a page": "is not a nervp output, not an exported nervp view page",
             "no parent": "does not exist", "inside the input": "is inside the input"}[case]
    refused(capsys, ["view", view_field, "--export", out, *extra], inputs=[view_field], outputs=[out], match=match)


@pytest.mark.parametrize("rank", [0, 33])
def test_rank_out_of_range(capsys, view_field, tmp_path, rank):
    """An OLAT dataset reduced to a rank the page cannot sum (1..32)."""
    olat = view_field.parent / "tiny.olat"
    out = tmp_path / "page"
    refused(capsys, ["view", olat, "--export", out, "--rank", rank], inputs=[olat], outputs=[out],
            match=f"--rank {rank}: the page sums 1..32")
