"""Dome files (docs/FORMAT.md "Dome files"): JSON and CSV read to the same dome, solid angles
computed when absent, and every malformed file refused with one line naming it."""

import json

import numpy as np
import pytest

from nervp.errors import ConfigError
from nervp.lightstage import DomeConfig, build_dome, dome_size, fibonacci_directions, load_dome_file


def _write_json(path, **fields):
    path.write_text(json.dumps({k: np.asarray(v).tolist() for k, v in fields.items()}))
    return path


def test_json_and_csv_give_the_same_dome(tmp_path):
    pos = fibonacci_directions(156) * 1.2
    rgb = np.linspace(0.5, 1.5, 156 * 3).reshape(156, 3)
    d_json = load_dome_file(_write_json(tmp_path / "d.json", positions=pos, rgb=rgb))
    lines = ["x,y,z,r,g,b"] + [",".join(repr(float(v)) for v in (*p, *c)) for p, c in zip(pos, rgb, strict=True)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    d_csv = load_dome_file(tmp_path / "d.csv")
    assert d_json.n_lights == d_csv.n_lights == 156
    for a, b in ((d_json.position, d_csv.position), (d_json.intensity, d_csv.intensity),
                 (d_json.solid_angle, d_csv.solid_angle)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(d_json.radius, 1.2, rtol=1e-12)
    # computed solid angles: Voronoi cells of the directions, tiling the sphere
    assert d_json.solid_angle.sum() == pytest.approx(4 * np.pi, rel=1e-9)


def test_paper_dome_written_as_a_file_is_the_paper_dome(tmp_path):
    ref = build_dome()
    path = _write_json(tmp_path / "paper.json", positions=ref.position)
    got = build_dome(DomeConfig(file=path))
    np.testing.assert_allclose(got.position, ref.position, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.solid_angle, ref.solid_angle, rtol=1e-9)
    np.testing.assert_array_equal(got.intensity, ref.intensity)
    assert dome_size(DomeConfig(file=path)) == 96


def test_given_solid_angles_are_kept(tmp_path):
    pos = fibonacci_directions(12) * 1.3
    sa = np.full(12, 4 * np.pi / 12)
    d = load_dome_file(_write_json(tmp_path / "d.json", positions=pos, solid_angles=sa))
    np.testing.assert_array_equal(d.solid_angle, sa)


def _dup(p):
    p = p.copy()
    p[5] = p[2]
    return p


def _nan(p):
    p = p.copy()
    p[3, 1] = np.nan
    return p


@pytest.mark.parametrize(("fields", "match"), [
    ({"positions": _dup(fibonacci_directions(12))}, "LEDs 2 and 5 have the same direction"),
    ({"positions": _nan(fibonacci_directions(12))}, "LED 3 has a non-finite position"),
    ({"positions": fibonacci_directions(12)[:, :2]}, r"shape \(12, 2\), expected \(L, 3\)"),
    ({"positions": fibonacci_directions(12), "rgb": np.ones((11, 3))}, r"rgb has shape \(11, 3\)"),
    ({"positions": fibonacci_directions(12), "solid_angles": -np.ones(12)}, "solid_angles of LED 0"),
    ({"positions": fibonacci_directions(3)}, "at least 4 LEDs"),
])
def test_bad_dome_files_name_the_file(tmp_path, fields, match):
    path = _write_json(tmp_path / "bad.json", **fields)
    with pytest.raises(ConfigError, match=match) as e:
        load_dome_file(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(("text", "match"), [
    ("", "empty"), ("a,b,c\n1,2,3\n", "lacks x, y, z"), ("x,y,z\n1,2\n", "row 2 has 2 fields"),
    ("x,y,z\n1,2,oops\n", "must be a number"), ("{not json", None),
])
def test_bad_csv_and_json_text(tmp_path, text, match):
    path = tmp_path / ("bad.json" if text.startswith("{") else "bad.csv")
    path.write_text(text)
    with pytest.raises(ConfigError, match=match or "not valid JSON"):
        load_dome_file(path)
