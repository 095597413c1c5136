"""The exported page in headless Chromium against `nervp relight`: the same field, frame and
lighting give the same picture; the page's LED weights are the product's; rotation, dropped
maps and bad dropped files behave."""

from __future__ import annotations

import base64
import math

import numpy as np
import pytest
import torch
from PIL import Image

from nervp.cli import main
from nervp.colour import to_display
from nervp.relight import (
    env_weights,
    led_calibration,
    load_envmap,
    parse_lighting,
    rotate_lighting,
    weights_for,
)
from nervp.relight.procedural import sky_env
from nervp.store.field import open_source


def relight_png(field, tmp_path, light: str, rot: float, auto: bool, bg: str = "black",
                extra: tuple[str, ...] = ()) -> np.ndarray:
    """Frame 0 of `nervp relight` (over black by default), as (H, W, 3) uint8."""
    out = tmp_path / "r.png"
    args = ["relight", str(field), str(out), "--light", light, "--rotate", str(rot), "--background", bg,
            "--hold", "0", "--frames", "1", "--no-strip", *extra]
    assert main(args + ([] if auto else ["--no-auto-exposure"])) == 0
    return np.asarray(Image.open(tmp_path / "r.0000.png"))[..., :3]


def product_weights(field, light, rot: float, tilt: float = 0, spread: str = "voronoi") -> np.ndarray:
    src = open_source(field)
    lighting = rotate_lighting(rotate_lighting(parse_lighting(str(light)), tilt, (1.0, 0.0, 0.0)), rot)
    return weights_for(lighting, src.dome, led_calibration(src.dome, src.gain), spread)


@pytest.mark.parametrize(("light", "rot", "auto", "bg", "tilt", "spread"), [
    ("rembrandt", 90, 0, "black", 0, "voronoi"), ("sky", -30, 1, "black", 0, "voronoi"),
    ("top", 45, 0, "black", 0, "voronoi"), ("sunset", 120, 1, "env", 0, "voronoi"),
    ("sky", 60, 1, "black", 25, "smooth"), ("cyberpunk", -20, 0, "black", -30, "voronoi")])
def test_page_matches_nervp_relight(page, view_field, tmp_path, light, rot, auto, bg, tilt, spread):
    page.open(f"look={light}&rot={rot}&tilt={tilt}&spread={spread}&exposure=0&auto={auto}&bg={bg}&play=0&frame=0")
    assert page.js("return nervpView.error") is None, page.message()
    # the page's LED weights are the product's: same float32 values (float64 arithmetic on both
    # sides; 1e-6 allows a last-bit difference in a sum's order)
    want = product_weights(view_field, light, rot, tilt, spread)
    np.testing.assert_allclose(page.led_weights(), want, rtol=1e-6, atol=1e-6 * np.abs(want).max())
    got = page.pixels()
    ref = relight_png(view_field, tmp_path, light, rot, bool(auto), bg, ("--tilt", str(tilt), "--spread", spread))
    assert (got[..., 3] == 255).all()
    diff = np.abs(got[..., :3].astype(np.float64) - ref)
    # float32 sums in a different order, the GPU's pow/exp/atan, the map sampled in float32
    # (background): a rounding step at most, here and there
    assert diff.mean() <= 1.0, diff.mean()
    print(f"page vs nervp relight, {light} rot {rot} tilt {tilt} {spread} auto={auto} bg={bg}: "
          f"mean |diff| {diff.mean():.4f}/255, "
          f"max {diff.max():.0f}/255")
    assert ref.mean() > 5  # not a black picture compared with a black picture


def test_rotation_turns_the_lighting(page):
    page.open("look=key-fill-rim&rot=0&exposure=0&auto=0&bg=black&play=0")
    a = page.pixels().astype(np.float64)
    page.js("nervpView.setState({rot: 90})")
    b = page.pixels().astype(np.float64)
    assert "rot=90" in page.js("return location.hash")
    assert np.abs(a - b).mean() > 3  # the key moved from camera-right-front to behind
    page.js("nervpView.setState({rot: 360})")
    c = page.pixels().astype(np.float64)
    assert np.abs(a - c).max() <= 1  # a full turn: the same weights up to rounding


def test_frames_differ_and_state_is_in_the_url(page):
    page.open("look=studio&rot=10&exposure=-1&auto=0&bg=black&play=0&frame=1")
    page.wait("nervpView.loaded")
    one = page.pixels()
    page.js("nervpView.setState({frame: 0})")
    zero = page.pixels()
    assert not np.array_equal(one, zero)
    h = page.js("return location.hash")
    for kv in ("look=studio", "rot=10", "exposure=-1", "auto=0", "frame=0"):
        assert kv in h, h
    dark = zero.astype(np.float64).mean()
    page.js("nervpView.setState({exposure: 0})")
    assert page.pixels().astype(np.float64).mean() > dark  # one stop brighter


def _drop(page, path, name=None) -> None:
    data = base64.b64encode(path.read_bytes()).decode()
    page.js("""
        const [b64, name] = arguments; const bin = atob(b64); const u = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
        const dt = new DataTransfer(); dt.items.add(new File([u], name));
        document.getElementById('canvas').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
    """, data, name or path.name)
    page.wait("!nervpView.mapBusy")


def test_dropped_hdr_map_is_applied(page, view_field, tmp_path):
    from nervp.relight import save_envmap

    env = sky_env(sun_azimuth=70, sun_elevation=20, height=32, name="drop")
    path = tmp_path / "drop.hdr"
    save_envmap(path, env)  # OpenCV's RLE RGBE, read back below by OpenCV and on the page
    page.open("look=rembrandt&rot=45&exposure=0&auto=0&bg=black&play=0")
    before = page.pixels()
    _drop(page, path)
    assert page.js("return nervpView.error") is None, page.message()
    assert page.js("return nervpView.state.look") == "dropped"
    src = open_source(view_field)
    want = env_weights(load_envmap(path).rotated_y(45), src.dome, led_calibration(src.dome, src.gain))
    np.testing.assert_allclose(page.led_weights(), want, rtol=1e-6, atol=1e-6 * np.abs(want).max())
    after = page.pixels()
    assert np.abs(after.astype(np.float64) - before).mean() > 1
    ref = relight_png(view_field, tmp_path, str(path), 45, False)
    diff = np.abs(after[..., :3].astype(np.float64) - ref)
    assert diff.mean() <= 1.0
    print(f"page vs nervp relight, dropped map: mean |diff| {diff.mean():.4f}/255, max {diff.max():.0f}/255")


def test_exr_map_through_the_file_input(page, view_field, tmp_path):
    from nervp.imaging.hdrio import write_exr

    env = sky_env(sun_azimuth=-100, sun_elevation=40, height=64, name="exr")
    path = tmp_path / "map.exr"
    write_exr(path, env.radiance)  # ZIP-compressed half floats
    page.open("look=studio&rot=0&exposure=0&auto=0&bg=black&play=0")
    page.d.find_element("id", "map-input").send_keys(str(path))
    page.wait("nervpView.state.look === 'dropped' || nervpView.error")
    assert page.js("return nervpView.error") is None, page.message()
    src = open_source(view_field)
    want = env_weights(load_envmap(path), src.dome, led_calibration(src.dome, src.gain))
    np.testing.assert_allclose(page.led_weights(), want, rtol=1e-6, atol=1e-6 * np.abs(want).max())


def _bad_files(tmp_path):
    from nervp.imaging.hdrio import write_exr, write_hdr

    (tmp_path / "notes.txt").write_text("not a map")
    (tmp_path / "junk.hdr").write_bytes(b"\x89PNG\r\n" + bytes(200))
    rad = np.ones((16, 32, 3), np.float32)
    rad[3, 5, 1] = math.nan
    write_exr(tmp_path / "nan.exr", rad, half=False)
    write_hdr(tmp_path / "square.hdr", np.ones((16, 16, 3), np.float32))
    return [("notes.txt", "not an environment map"), ("junk.hdr", "not a Radiance .hdr file"),
            ("nan.exr", "1 texels are NaN or infinite"), ("square.hdr", "twice as wide as high, got 16x16")]


def test_bad_dropped_files_say_why_and_change_nothing(page, tmp_path):
    page.open("look=rim&rot=0&exposure=0&auto=0&bg=black&play=0")
    before = page.pixels()
    for name, says in _bad_files(tmp_path):
        _drop(page, tmp_path / name)
        assert says in page.message(), (name, page.message())
        assert page.js("return document.getElementById('message').className") == "error"
        assert page.js("return nervpView.state.look") == "rim"
        assert np.array_equal(page.pixels(), before)


def test_unknown_look_in_the_url_is_reported(page):
    page.open("look=disco&bg=black&play=0")
    assert "unknown lighting disco" in page.message()


def test_standalone_export_opens_from_disk(page, view_field, tmp_path):
    from nervp.view import export_page, open_scene

    state = "look=cyberpunk&rot=-60&exposure=0.5&auto=1&bg=env&play=0&frame=1"
    page.open(state)
    page.wait("nervpView.loaded")
    served = page.pixels()
    scene = open_scene(view_field)
    disk = export_page(scene, tmp_path / "standalone", standalone=True)
    assert not list(disk.rglob("*.bin"))
    page.url = (disk / "index.html").as_uri()
    page.open(state)
    page.wait("nervpView.loaded")
    assert page.js("return location.protocol") == "file:"
    assert np.array_equal(page.pixels(), served)
    # a plain export (data files) opened from disk says how to open it
    plain = export_page(scene, tmp_path / "plain")
    page.url = (plain / "index.html").as_uri()
    page.open(state)
    assert "--standalone" in page.message()


def test_backgrounds_use_the_fields_alpha(page, view_field, tmp_path):
    page.open("look=studio&rot=0&exposure=0&auto=0&bg=black&play=0&frame=0")
    black = page.pixels().astype(np.float64)
    alpha = open_source(view_field).read([0]).alpha[0].numpy()
    assert alpha.min() == 0 and alpha.max() == 1
    # transparent: the canvas's alpha is the field's, its colour premultiplied (8-bit rounding)
    page.js("nervpView.setState({bg: 'none'})")
    none = page.pixels().astype(np.float64)
    assert np.abs(none[..., 3] - np.round(alpha * 255)).max() <= 1
    assert np.abs(none[..., :3] - black[..., :3] * alpha[..., None]).max() <= 1
    # a picture: shown where the performer is not, hidden where alpha is 1
    Image.new("RGB", (8, 8), (255, 255, 255)).save(tmp_path / "white.png")
    page.d.find_element("id", "image-input").send_keys(str(tmp_path / "white.png"))
    page.wait("nervpView.hasImage && nervpView.state.bg === 'image'")
    shown = page.pixels().astype(np.float64)
    assert np.abs(shown[alpha == 1] - black[alpha == 1]).max() <= 1
    # white keeps its own brightness: linear 1 / exposure, shown through the same display transform
    white = float(to_display(torch.ones(3))[0])
    assert np.abs(shown[alpha == 0][:, :3] - white).max() <= 1
    assert "bg=image" in page.js("return location.hash")


def test_drag_turns_play_plays_and_the_still_is_the_canvas(page):
    import io

    from selenium.webdriver.common.action_chains import ActionChains

    page.open("look=hard&rot=0&exposure=0&auto=0&bg=black&play=0&frame=0")
    before = page.pixels()
    canvas = page.d.find_element("id", "canvas")
    ActionChains(page.d).drag_and_drop_by_offset(canvas, 60, 0).perform()
    rot = page.js("return nervpView.state.rot")
    width = page.js("return document.getElementById('canvas').clientWidth")
    assert rot == pytest.approx(60 * 360 / width, abs=360 / width)  # one picture width = one turn
    assert np.abs(page.pixels().astype(np.float64) - before).mean() > 1
    url = page.js("return document.getElementById('canvas').toDataURL('image/png')")
    still = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"))
    assert np.array_equal(still, page.pixels())
    page.js("nervpView.setState({play: 1})")
    page.wait("nervpView.state.frame !== 0", timeout=10)


def test_real_1k_map_is_reduced_and_weighted_like_the_product(page, view_field, shared_data):
    """A 1024 x 512 Poly Haven map (RLE .hdr): the page reduces it to 512 wide by the same 2 x 2
    area-weighted averaging and gets the product's weights."""
    path = sorted((shared_data / "envmaps").glob("*.hdr"))[0]
    page.open("look=studio&rot=0&exposure=0&auto=1&bg=env&play=0")
    _drop(page, path)
    assert page.js("return nervpView.error") is None, page.message()
    page.js("nervpView.setState({rot: 120})")
    src = open_source(view_field)
    want = env_weights(load_envmap(path).rotated_y(120), src.dome, led_calibration(src.dome, src.gain))
    # the reduction's float64 sums run in another order than numpy's (then rounded to float32)
    np.testing.assert_allclose(page.led_weights(), want, rtol=1e-5, atol=1e-6 * np.abs(want).max())
