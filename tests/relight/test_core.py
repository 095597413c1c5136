import numpy as np
import pytest
import torch

from nervp.lightstage import DomeConfig, build_dome
from nervp.relight import (
    EnvMap,
    LightingError,
    cell_env,
    env_weights,
    fit_low_rank,
    relight,
    relight_reference,
    uniform_env,
)
from nervp.structures.field import ReflectanceField

DOME = build_dome(DomeConfig(n_lights=96))


def olat(T=2, L=96, H=6, W=10, seed=0, dtype=torch.float16):
    g = torch.Generator().manual_seed(seed)
    scale = torch.rand(1, L, 1, 1, 1, generator=g)  # lights of different strength
    return (torch.rand(T, L, H, W, 3, generator=g) * scale).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32])
def test_batched_path_equals_per_light_reference(dtype, kernel_path):
    f = ReflectanceField(olat(dtype=dtype))
    w = torch.rand(96, 3, generator=torch.Generator().manual_seed(1))
    out = relight(f, w)
    assert out.dtype == torch.float32 and out.shape == (2, 6, 10, 3)
    torch.testing.assert_close(out, relight_reference(f, w), rtol=1e-5, atol=1e-6)
    per_frame = torch.rand(2, 96, 3, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(relight(f, per_frame), relight_reference(f, per_frame), rtol=1e-5, atol=1e-6)
    for workers in (1, 2):  # chunks shared among threads give the same answer
        torch.testing.assert_close(relight(f, w, workers=workers), out, rtol=0, atol=0)


def test_chunk_boundaries_do_not_matter(monkeypatch):
    """The torch path's chunks and groups (the compiled kernel's jobs have their own test)."""
    import nervp.relight.core as core
    from nervp.relight import native

    monkeypatch.setenv("NERVP_NATIVE", "0")
    native.reset()
    monkeypatch.setattr(native, "_state", {})  # restored afterwards: later tests rebuild it

    f = ReflectanceField(olat(T=1, H=13, W=17))  # 663 pixels: chunks of 7 leave a remainder
    w = torch.rand(96, 3)
    ref = relight_reference(f, w)
    for pixels, group in ((7, 1), (7, 3), (50, 32)):  # remainders in chunks and in groups
        monkeypatch.setattr(core, "CPU_CHUNK_PIXELS", pixels)
        monkeypatch.setattr(core, "GROUP_CHUNKS", group)
        torch.testing.assert_close(relight(f, w), ref, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(relight(f, w, workers=2), ref, rtol=1e-5, atol=1e-6)
    out = torch.empty(1, 13, 17, 3)
    assert relight(f, w, out=out) is out
    with pytest.raises(ValueError, match="out"):
        relight(f, w, out=torch.empty(1, 13, 17, 3, dtype=torch.float64))


def test_low_rank_field_through_the_same_entry_point(kernel_path):
    o = olat()
    lr = fit_low_rank(o, 16)
    assert lr.rank == 16 and lr.n_lights == 96 and lr.images.dtype == torch.float16
    w = torch.rand(96, 3)
    torch.testing.assert_close(relight(lr, w), relight_reference(lr, w), rtol=1e-5, atol=1e-5)
    full = fit_low_rank(o.float(), 96)  # full rank reproduces the OLAT images (up to float16 basis)
    torch.testing.assert_close(full.olat(), o.float(), rtol=0, atol=2e-3)
    torch.testing.assert_close(relight(full, w), relight(ReflectanceField(o), w), rtol=2e-3, atol=2e-3)


def test_uniform_white_environment_is_the_solid_angle_weighted_sum(kernel_path):
    f = ReflectanceField(olat())
    out = relight(f, env_weights(uniform_env(1.0), DOME))
    expect = (f.images.double() * torch.as_tensor(DOME.solid_angle)[None, :, None, None, None]).sum(1)
    torch.testing.assert_close(out, expect.float(), rtol=1e-5, atol=1e-6)


def test_single_cell_lit_gives_that_olat_image(kernel_path):
    f = ReflectanceField(olat())
    for led in (5, 60):
        env = cell_env(DOME, led, height=64, radiance=1.0 / DOME.solid_angle[led])
        torch.testing.assert_close(relight(f, env_weights(env, DOME)), f.images[:, led].float(), rtol=1e-5, atol=1e-6)


def test_full_turn_of_the_environment_returns_the_same_frame():
    f = ReflectanceField(olat())
    env = EnvMap(np.random.default_rng(0).uniform(0, 1, (32, 64, 3)).astype(np.float32))
    a = relight(f, env_weights(env, DOME))
    torch.testing.assert_close(relight(f, env_weights(env.rotated_y(360), DOME)), a, rtol=0, atol=0)
    torch.testing.assert_close(relight(f, env_weights(env.rotated((1, 2, 3), 360), DOME)), a, rtol=0, atol=0)


def test_relighting_is_linear(kernel_path):
    f = ReflectanceField(olat())
    w1, w2 = torch.rand(96, 3), torch.rand(96, 3)
    torch.testing.assert_close(relight(f, 3 * w1 - w2), 3 * relight(f, w1) - relight(f, w2), rtol=1e-5, atol=1e-5)


def test_wrong_light_count_or_shape_is_refused():
    f = ReflectanceField(olat(L=96))
    with pytest.raises(LightingError, match="96 LEDs"):
        relight(f, torch.ones(48, 3))
    with pytest.raises(LightingError):
        relight(f, torch.ones(3, 96, 3))  # three frames of weights for two frames
    with pytest.raises(LightingError, match="finite"):
        relight(f, torch.full((96, 3), float("nan")))
    with pytest.raises(ValueError, match="float16 or float32"):
        ReflectanceField(olat().double())
    with pytest.raises(ValueError, match="coeffs"):
        ReflectanceField(olat(L=8), coeffs=torch.ones(4, 96))


def test_native_kernel_job_and_block_remainders(monkeypatch):
    """The compiled kernel over jobs that end mid-block and mid-vector, rows not a multiple of
    its 4-row pass, and a frame that is a view into a larger tensor, against the float64 loop."""
    import nervp.relight.core as core
    from nervp.relight import native

    native.reset()
    if native.kernel() is None:
        pytest.skip(f"no compiled kernel: {native.status()}")
    big = olat(T=3, L=7, H=37, W=29)  # 3219 values per image: 2 blocks of 1536 and a tail of 147
    f = ReflectanceField(big[1:])
    w = torch.rand(2, 7, 3, generator=torch.Generator().manual_seed(3))
    ref = relight_reference(f, w)
    for cols in (48 * 512, 3 * 7, 48 * 33 + 3):  # one job per frame; many tiny jobs; odd jobs
        monkeypatch.setattr(core, "NATIVE_COLUMNS", cols)
        torch.testing.assert_close(relight(f, w), ref, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(relight(f, w, workers=2), ref, rtol=1e-5, atol=1e-6)


def test_empty_field_relights_to_an_empty_result(kernel_path):
    f = ReflectanceField(olat(T=2)[:0])
    assert relight(f, torch.rand(96, 3)).shape == (0, 6, 10, 3)


def test_native_kernel_falls_back_to_torch(monkeypatch, tmp_path):
    """Without a working compiler (or with NERVP_NATIVE=0) relighting runs on the torch path
    with the same result, and `status` says why."""
    from nervp.relight import native

    f = ReflectanceField(olat())
    w = torch.rand(96, 3)
    ref = relight_reference(f, w)
    monkeypatch.setenv("NERVP_CACHE", str(tmp_path))  # nothing built here yet
    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    native.reset()
    try:
        assert native.kernel() is None
        assert "compile" in native.status() or "CPU" in native.status() or "no kernel" in native.status()
        assert not list(tmp_path.rglob("*.so*"))  # no half-built library left behind
        torch.testing.assert_close(relight(f, w), ref, rtol=1e-5, atol=1e-6)
        monkeypatch.setenv("NERVP_NATIVE", "0")
        native.reset()
        assert native.kernel() is None and "NERVP_NATIVE" in native.status()
    finally:
        native.reset()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_matches_cpu():
    f = ReflectanceField(olat(H=64, W=64))
    w = torch.rand(96, 3)
    torch.testing.assert_close(relight(f.to("cuda"), w).cpu(), relight(f, w), rtol=1e-5, atol=1e-5)
