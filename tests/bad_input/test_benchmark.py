"""Catalogue: `nervp benchmark` refuses an unknown suite or method, impossible settings and an OUT
it must not write into, in one line, before anything is written."""

from __future__ import annotations

import json

import pytest

from tests.bad_input.harness import refused

CASES = [
    ("unknown-suite", ["--suite", "huge"], r"unknown suite 'huge' \(--suite\)"),
    ("unknown-method", ["--methods", "nervp", "sipr2"], r"unknown method 'sipr2' in --methods"),
    ("repeated-seed", ["--seeds", "0", "0"], r"--seeds repeats"),
    ("seed-is-reference", ["--seeds", "5"], r"reference performer 5 is also a target"),
    ("params-unknown", ["--params", "guess"], r"--params must be fit or truth"),
    ("frames-too-few", ["--frames", "2"], r"at least 3 target frames"),
    ("workers-zero", ["--workers", "0"], r"--workers must be at least 1"),
]


@pytest.mark.parametrize("args,match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_settings(capsys, tmp_path, args, match):
    out = tmp_path / "bench"
    refused(capsys, ["benchmark", out, *args], outputs=[out], match=match)


def test_out_is_a_file(capsys, tmp_path):
    out = tmp_path / "bench"
    out.write_text("mine")
    refused(capsys, ["benchmark", out], inputs=[out], match=r"bench is a file")


def test_out_holds_other_files(capsys, tmp_path):
    out = tmp_path / "bench"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    refused(capsys, ["benchmark", out], inputs=[out], match=r"a folder of other files")


def test_out_holds_another_suite(capsys, tmp_path):
    out = tmp_path / "bench"
    out.mkdir()
    (out / "suite.json").write_text(json.dumps({"name": "standard"}))
    refused(capsys, ["benchmark", out], inputs=[out], match=r"another suite definition")
