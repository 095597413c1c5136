"""Catalogue: `nervp reenact --fps/--slowmo` refuses rates it cannot make and sources with gaps
in their timestamps, in one line, before anything is written (docs/HFR.md)."""

import dataclasses

import pytest

from nervp.store.olat import load_olat, write_olat_dataset
from tests.bad_input.harness import refused

REENACT_RATE = [
    ("fps-zero", ["--fps", "0"], "--fps must be a positive"),
    ("fps-negative", ["--fps", "-100"], "--fps must be a positive"),
    ("fps-nan", ["--fps", "nan"], "--fps"),
    ("fps-below-source", ["--fps", "10"], "below the source's 25 fps"),
    ("slowmo-below-one", ["--slowmo", "0.5"], "--slowmo"),
    ("fps-and-slowmo", ["--fps", "100", "--slowmo", "4"], "--fps or --slowmo, not both"),
    ("start-without-a-rate", ["--start", "0.1"], "give --fps or --slowmo too"),
    ("seconds-without-a-rate", ["--seconds", "0.1"], "give --fps or --slowmo too"),
    ("start-negative", ["--slowmo", "4", "--start", "-1"], "--start must be"),
    ("seconds-zero", ["--slowmo", "4", "--seconds", "0"], "--seconds must be a positive"),
    ("seconds-nan", ["--slowmo", "4", "--seconds", "nan"], "--seconds must be a positive"),
    ("start-past-the-end", ["--slowmo", "4", "--start", "1000"], "past the end of"),
]


@pytest.mark.parametrize("args,match", [b[1:] for b in REENACT_RATE], ids=[b[0] for b in REENACT_RATE])
def test_reenact_rate(capsys, tiny_run, tiny_olat, tmp_path, args, match):
    out = tmp_path / "r.olat"
    refused(capsys, ["reenact", tiny_run, tiny_olat, out, "--params", "truth", *args],
            inputs=[tiny_run, tiny_olat], outputs=[out], match=match)


@pytest.fixture(scope="module")
def gapped_source(tiny_olat, tmp_path_factory):
    """The tiny dataset with its third frame's instant moved one frame later (a dropped frame)."""
    ds = load_olat(tiny_olat)
    frames = [ds.frame(t) for t in range(ds.n_frames)]
    frames = [dataclasses.replace(f, time=f.time + (0.04 if t >= 2 else 0.0)) for t, f in enumerate(frames)]
    out = tmp_path_factory.mktemp("gap") / "gap.olat"
    man = {k: ds.manifest[k] for k in ("height", "width", "fps", "camera", "head_model", "source", "exposure")}
    write_olat_dataset(out, frames, len(frames), man, ds.dome, beta=ds.read("beta"))
    return out


def test_reenact_source_with_a_timestamp_gap(capsys, tiny_run, gapped_source, tmp_path):
    out = tmp_path / "r.olat"
    refused(capsys, ["reenact", tiny_run, gapped_source, out, "--params", "truth", "--slowmo", "4"],
            inputs=[tiny_run, gapped_source], outputs=[out], match=r"gap\.olat has a gap in its timestamps after frame 1")
