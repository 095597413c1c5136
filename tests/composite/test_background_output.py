import math

import numpy as np
import pytest
import torch

from nervp.composite import env_view, output_spec, parse_background, write_exr
from nervp.composite.background import BackgroundError, camera_rays, fit_cover
from nervp.composite.output import OutFrame, OutputError, OutputSpec, write_clip
from nervp.errors import NervpError
from nervp.relight import EnvMap, uniform_env
from nervp.render.camera import intrinsics, look_at


def stage_camera(size=32, fov=24.0):
    R, _ = look_at(torch.tensor([[0.0, 0.0, 1.0]]), torch.zeros(1, 3))
    return intrinsics(fov, size, size).double().numpy(), R[0].double().numpy()


def test_camera_rays_look_down_minus_z():
    K, R = stage_camera(32)
    rays = camera_rays(K, R, 32, 32, samples=2)
    np.testing.assert_allclose(np.linalg.norm(rays, axis=-1), 1.0)
    centre = rays[15:17, 15:17].reshape(-1, 3).mean(0)
    np.testing.assert_allclose(centre / np.linalg.norm(centre), [0, 0, -1], atol=1e-3)
    assert rays[16, 31, :, 0].mean() > 0 and rays[0, 16, :, 1].mean() > 0  # right is +x, top is +y
    half = math.degrees(math.atan(rays[16, 0, 0, 0] / -rays[16, 0, 0, 2]))
    assert abs(half) == pytest.approx(12.0 * (1 - 0.5 / 32 / 2) , abs=0.5)


def test_environment_view():
    K, R = stage_camera(16)
    torch.testing.assert_close(env_view(uniform_env(0.7), K, R, 16, 16), torch.full((16, 16, 3), 0.7))
    rad = np.zeros((32, 64, 3), np.float32)
    rad[:, 32:] = 1.0  # right half of the panorama (camera-right of the back direction)
    view = env_view(EnvMap(rad), K, R, 16, 16)
    assert float(view[:, 12:].mean()) > 0.99 and float(view[:, :4].mean()) < 0.01
    turned = env_view(EnvMap(rad).rotated_y(180), K, R, 16, 16)  # the camera now sees the other side
    assert float(turned[:, 12:].mean()) < 0.01


def test_background_specs(tmp_path):
    assert parse_background("env").kind == "env"
    assert parse_background("black").colour == (0.0, 0.0, 0.0)
    c = parse_background("#808080").colour
    assert c[0] == pytest.approx(0.2158, abs=1e-3)  # sRGB 128 decoded
    with pytest.raises(BackgroundError, match="no such file"):
        parse_background(str(tmp_path / "nope.png"))
    (tmp_path / "a.gif").write_bytes(b"GIF89a")
    with pytest.raises(BackgroundError, match="unsupported"):
        parse_background(str(tmp_path / "a.gif"))
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(BackgroundError, match="cannot read"):
        parse_background(str(tmp_path / "bad.png"))
    from PIL import Image

    Image.fromarray(np.full((10, 40, 3), 255, np.uint8)).save(tmp_path / "w.png")
    bg = parse_background(str(tmp_path / "w.png"))
    assert bg.kind == "image" and bg.image.max() == pytest.approx(1.0)
    assert fit_cover(bg.image, 16, 16).shape == (16, 16, 3)


def test_output_paths(tmp_path):
    assert output_spec(tmp_path / "a.mp4").kind == "mp4"
    spec = output_spec(tmp_path / "shot.png")
    assert spec.frame_path(7).name == "shot.0007.png" and spec.strip_path.name == "shot.strip.png"
    assert OutputSpec(tmp_path / "f_####.exr", "exr").frame_path(12).name == "f_0012.exr"
    assert OutputSpec(tmp_path / "f%03d.exr", "exr").frame_path(5).name == "f005.exr"
    assert OutputSpec(tmp_path / "f_####.exr", "exr").strip_path.name == "f.strip.png"
    for bad, needle in ((tmp_path / "x.gif", "unsupported"), (tmp_path / "no" / "x.mp4", "does not exist")):
        with pytest.raises(OutputError, match=needle):
            output_spec(bad)


def frames(n, fail_at=None):
    for i in range(n):
        if i == fail_at:
            raise OSError(5, "I/O error")
        lin = np.full((8, 8, 3), i / 10, np.float32)
        yield OutFrame((lin * 255).astype(np.uint8), lin, np.ones((8, 8), np.float32))


@pytest.mark.parametrize("name", ["c.mp4", "s.png", "e.exr"])
def test_writers_are_all_or_nothing(tmp_path, name):
    spec = output_spec(tmp_path / name)
    with pytest.raises(NervpError, match="cannot write"):
        write_clip(spec, frames(4, fail_at=2), 25)
    assert list(tmp_path.iterdir()) == []
    assert write_clip(spec, frames(4), 25) == 4
    assert len(list(tmp_path.iterdir())) == (1 if name.endswith("mp4") else 4)


def test_exr_round_trip(tmp_path):
    import OpenEXR

    rgb = np.random.default_rng(0).uniform(0, 40, (5, 7, 3)).astype(np.float32)
    write_exr(tmp_path / "x.exr", rgb, np.full((5, 7), 0.5, np.float32))
    with OpenEXR.File(str(tmp_path / "x.exr"), separate_channels=True) as f:
        ch = f.channels()
        back = np.stack([ch[c].pixels for c in "RGB"], -1).astype(np.float32)
        np.testing.assert_allclose(back, rgb, rtol=1e-3)
        np.testing.assert_allclose(ch["A"].pixels.astype(np.float32), 0.5)
