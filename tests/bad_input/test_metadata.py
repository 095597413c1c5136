"""Catalogue: malformed metadata (manifests, zarr array metadata, a run directory's files,
checkpoints) and a run used with another dataset fail in one line naming the file."""

import json
import shutil
from pathlib import Path

import pytest

from tests.bad_input.harness import refused


def _copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def _edit_manifest(ds: Path, change) -> None:
    m = json.loads((ds / "manifest.json").read_text())
    (ds / "manifest.json").write_text(json.dumps(change(m)))


def _without(key):
    return lambda m: {k: v for k, v in m.items() if k != key}


DATASET = [
    ("manifest-bad-json", lambda d: (d / "manifest.json").write_text('{"format": "nervp",'), "manifest.json"),
    ("manifest-list", lambda d: (d / "manifest.json").write_text("[]"), r"manifest.json .*list"),
    ("manifest-binary", lambda d: (d / "manifest.json").write_bytes(b"\xff\xfe\x00"), "manifest.json"),
    ("manifest-lacks-n-frames", lambda d: _edit_manifest(d, _without("n_frames")), "'n_frames'"),
    ("manifest-lacks-dome", lambda d: _edit_manifest(d, _without("dome")), "'dome'"),
    ("manifest-height-string", lambda d: _edit_manifest(d, lambda m: {**m, "height": "64"}), "'height'"),
    ("manifest-frames-negative", lambda d: _edit_manifest(d, lambda m: {**m, "n_frames": -1}), "'n_frames'"),
    ("manifest-arrays-list", lambda d: _edit_manifest(d, lambda m: {**m, "arrays": []}), "'arrays'"),
    ("manifest-array-entry-garbled",
     lambda d: _edit_manifest(d, lambda m: {**m, "arrays": {**m["arrays"], "olat": {"shape": "big"}}}), "'olat'"),
    ("group-metadata-bad-json", lambda d: (d / "zarr.json").write_text("{oops"), "zarr.json"),
    ("group-metadata-missing", lambda d: (d / "zarr.json").unlink(), "zarr.json"),
    ("array-metadata-bad-json", lambda d: (d / "olat" / "zarr.json").write_text("{oops"), r"olat/zarr.json"),
    ("array-metadata-list", lambda d: (d / "alpha" / "zarr.json").write_text("[]"), r"alpha/zarr.json"),
    ("zarr-v2-group", lambda d: (d / "zarr.json").rename(d / ".zgroup"), "zarr v2"),
    ("zarr-v2-array", lambda d: (d / "olat" / "zarr.json").rename(d / "olat" / ".zarray"), "zarr v2"),
]


@pytest.mark.parametrize("damage,match", [c[1:] for c in DATASET], ids=[c[0] for c in DATASET])
def test_damaged_dataset_metadata(capsys, tiny_olat, tmp_path, damage, match):
    ds = _copy(tiny_olat, tmp_path / "d.olat")
    damage(ds)
    sheet = tmp_path / "s.png"
    refused(capsys, ["inspect", ds, "--sheet", sheet], inputs=[ds], outputs=[sheet], match=match)


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: max(8, p.stat().st_size // 3)])


RUN = [
    ("config-missing", lambda r: (r / "config.json").unlink(), "config.json"),
    ("config-bad-json", lambda r: (r / "config.json").write_text('{"train": '), "config.json"),
    ("config-list", lambda r: (r / "config.json").write_text("[]"), "config.json"),
    ("config-lacks-height", lambda r: _edit_manifest_file(r / "config.json", _without("height")), "config.json"),
    ("config-train-garbled", lambda r: _edit_manifest_file(r / "config.json", lambda m: {**m, "train": 3}),
     "config.json"),
    ("conditioning-missing", lambda r: (r / "conditioning.safetensors").unlink(), "conditioning.safetensors"),
    ("conditioning-truncated", lambda r: _truncate(r / "conditioning.safetensors"), "conditioning.safetensors"),
    ("conditioning-garbage", lambda r: (r / "conditioning.safetensors").write_bytes(b"not tensors"),
     "conditioning.safetensors"),
    ("model-truncated", lambda r: _truncate(r / "model.safetensors"), "model.safetensors"),
    ("checkpoint-json-bad", lambda r: _no_final_and(r, lambda j: j.write_text("{")), r"step_\d+"),
    ("checkpoint-json-list", lambda r: _no_final_and(r, lambda j: j.write_text("[]")), r"step_\d+"),
    ("checkpoint-tensors-truncated",
     lambda r: _no_final_and(r, lambda j: _truncate(j.with_suffix(".safetensors"))), r"step_\d+"),
]


def _edit_manifest_file(p: Path, change) -> None:
    p.write_text(json.dumps(change(json.loads(p.read_text()))))


def _no_final_and(run: Path, damage) -> None:
    (run / "model.safetensors").unlink()
    damage(sorted((run / "checkpoints").glob("step_*.json"))[-1])


@pytest.mark.parametrize("damage,match", [c[1:] for c in RUN], ids=[c[0] for c in RUN])
def test_damaged_run_directory(capsys, tiny_run, tiny_olat, tmp_path, damage, match):
    run = _copy(tiny_run, tmp_path / "run")
    damage(run)
    out = tmp_path / "e.json"
    refused(capsys, ["evaluate", run, tiny_olat, "--device", "cpu", "--light", "sky", "--out", out],
            inputs=[run, tiny_olat], outputs=[out], match=match)


TARGET = [
    ("target-json-missing", lambda r: (r / "target_params.json").unlink(), "target_params.json"),
    ("target-json-bad", lambda r: (r / "target_params.json").write_text("{"), "target_params.json"),
    ("target-json-lacks-stats", lambda r: _edit_manifest_file(r / "target_params.json", _without("stats")),
     "target_params.json"),
    ("target-tensors-truncated", lambda r: _truncate(r / "target_params.safetensors"),
     "target_params.safetensors"),
]


@pytest.mark.parametrize("damage,match", [c[1:] for c in TARGET], ids=[c[0] for c in TARGET])
def test_damaged_target_params(capsys, tiny_run, tiny_olat, tmp_path, damage, match):
    run = _copy(tiny_run, tmp_path / "run")
    damage(run)
    out = tmp_path / "r.olat"
    refused(capsys, ["reenact", run, tiny_olat, out, "--params", "truth", "--device", "cpu"],
            inputs=[run, tiny_olat], outputs=[out], match=match)


@pytest.fixture(scope="module")
def other_olat(tmp_path_factory) -> Path:
    """Another performer (seed 1) at another size (32 px), 3 frames."""
    import dataclasses

    from nervp.presets import sim_preset
    from nervp.synth.simulate import simulate

    cfg = sim_preset("tiny")
    cfg = dataclasses.replace(cfg, frames=3, size=32, performer=dataclasses.replace(cfg.performer, seed=1))
    return simulate(tmp_path_factory.mktemp("other") / "other.olat", cfg)


def test_evaluate_with_another_dataset(capsys, tiny_run, other_olat, tmp_path):
    out = tmp_path / "e.json"
    refused(capsys, ["evaluate", tiny_run, other_olat, "--device", "cpu", "--out", out],
            inputs=[tiny_run, other_olat], outputs=[out], match=r"trained on .* but .*other.olat")


@pytest.mark.parametrize("extra", [[], ["--steps", "4", "--extend"]], ids=["resume", "extend"])
def test_train_existing_run_with_another_dataset(capsys, tiny_run, other_olat, tmp_path, extra):
    run = _copy(tiny_run, tmp_path / "run")
    refused(capsys, ["train", other_olat, run, "--preset", "tiny", "--params", "truth", "--steps", "2",
                     "--ckpt-every", "2", "--device", "cpu", "--loss.context", "0", *extra],
            inputs=[run, other_olat], match=r"trained on .* but .*other.olat")
