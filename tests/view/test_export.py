"""`nervp view --export`: the files, their sizes and contents, an OLAT dataset reduced by the
low-rank field's own projection, --overwrite."""

from __future__ import annotations

import json

import numpy as np

from nervp.cli import main
from nervp.relight import low_rank_coeffs
from nervp.store.field import open_source
from nervp.structures.field import ReflectanceField
from nervp.view.export import PAGE_FILES


def test_export_of_a_field_holds_its_frames_bit_for_bit(view_field, tmp_path):
    out = tmp_path / "page"
    assert main(["view", str(view_field), "--export", str(out)]) == 0
    scene = json.loads((out / "scene.json").read_text())
    src = open_source(view_field)
    K, H, W = scene["rank"], scene["height"], scene["width"]
    assert (K, H, W, scene["n_frames"]) == (16, 32, 32, 2) and scene["has_alpha"]
    assert all((out / f).is_file() for f in PAGE_FILES)
    np.testing.assert_array_equal(np.asarray(scene["coeffs"], np.float32), src.coeffs)
    f = src.read([1])
    raw = np.fromfile(out / scene["frames"][1], dtype="<f2")
    assert raw.size == K * H * W * 3 + H * W
    np.testing.assert_array_equal(raw[:K * H * W * 3].reshape(K, H, W, 3), f.images[0].numpy())
    np.testing.assert_array_equal(raw[K * H * W * 3:].reshape(H, W), f.alpha[0].numpy().astype(np.float16))
    env = scene["environments"]["sky"]
    assert (out / env["file"]).stat().st_size == env["height"] * env["width"] * 3 * 4
    assert (out / "scene.js").read_text().startswith("window.NERVP_SCENE = {")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_olat_dataset_is_reduced_by_the_fields_projection(view_field, tmp_path):
    olat = view_field.parent / "tiny.olat"
    out = tmp_path / "page"
    assert main(["view", str(olat), "--export", str(out), "--rank", "8"]) == 0
    scene = json.loads((out / "scene.json").read_text())
    src = open_source(olat)
    coeffs = low_rank_coeffs(src, 8)
    np.testing.assert_array_equal(np.asarray(scene["coeffs"], np.float32), coeffs.numpy())
    want = ReflectanceField.project(src.read([0]).images, coeffs).images[0].numpy()
    got = np.fromfile(out / scene["frames"][0], dtype="<f2")[:want.size].reshape(want.shape)
    np.testing.assert_array_equal(got, want)
    assert scene["kind"] == "olat" and scene["rank"] == 8
    # --overwrite replaces an earlier export whole
    assert main(["view", str(view_field), "--export", str(out), "--overwrite"]) == 0
    assert json.loads((out / "scene.json").read_text())["rank"] == 16
