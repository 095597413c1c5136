"""The reflectance losses of both heads: the low-rank head's basis-space MSE is the same number
(and gradient) as the MSE of its materialised OLAT images."""

import math

import pytest
import torch

from nervp.model import FieldPrediction, LowRankHead, OLATHead, TranslatorConfig, basis_coordinates
from nervp.train.losses import disc_fields, field_mse


def _lowrank(B=2, K=5, L=12, H=6, W=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    basis = torch.randn(B, K, 3, H, W, generator=g, dtype=torch.float64).float().requires_grad_()
    C = torch.randn(K, L, generator=g).requires_grad_()
    aux = torch.zeros(B, 3, H, W)
    head = LowRankHead(TranslatorConfig(head="lowrank", rank=K, n_lights=L))
    return FieldPrediction(basis, (C,), aux, aux, aux[:, :1], head), torch.rand(B, L, 3, H, W, generator=g)


def test_basis_space_mse_equals_materialised_mse_and_gradients():
    pred, y = _lowrank()
    v = field_mse(pred, y)
    v.backward()
    (C,) = pred.params
    gb, gc = pred.refl.grad.clone(), C.grad.clone()
    pred.refl.grad = C.grad = None
    ref = ((pred.olat - y) ** 2).mean()
    ref.backward()
    assert torch.allclose(v, ref, rtol=1e-5)
    assert torch.allclose(gb, pred.refl.grad, atol=1e-6) and torch.allclose(gc, C.grad, atol=1e-6)


def test_lights_full_lit_and_projection_of_an_exact_low_rank_field():
    pred, _ = _lowrank()
    with torch.no_grad():
        olat = pred.olat
        # lights() and olat sum the same K products, maybe in another kernel's order: float32 worst
        # case K * u * sum_k |b_k C_kl| (u = 2^-24; ~4.5e-6 here, 4.8e-7 seen), not allclose's 1e-8
        mag = torch.einsum("bkchw,kl->blchw", pred.refl.abs(), pred.params[0].abs())
        tol = pred.params[0].shape[0] * 2.0**-24 * float(mag.max())
        assert torch.allclose(pred.lights(torch.tensor([3, 0])), olat[:, [3, 0]], rtol=0, atol=tol)
        # sums of K then L terms in two orders: worst case (K + L) * u * max sum |b C| ~ 8.8e-5 < 1e-4
        assert torch.allclose(pred.full_lit(), olat.sum(1), atol=1e-4)
        # a field that lies in the span of C projects back onto its own basis exactly
        assert torch.allclose(basis_coordinates(olat, pred.params[0]), pred.refl, atol=1e-3)
        fake, real = disc_fields(pred, olat)
        assert fake.shape == real.shape == (2, 15, 6, 7) and torch.allclose(fake, real, atol=1e-3)
        # and the MSE of the exact field is zero up to float32 rounding. field_mse computes
        # (sum b'(CC')b - 2 sum b'(Cy) + sum y^2) / n: three sums of magnitude ~n * scale that cancel.
        # Each term goes through a chain of ~K (CC'b), ~L (Cy) and ~log2(n) (pairwise sum) roundings
        # of unit roundoff u = 2^-24; random-sign errors grow as sqrt(chain) * u * |term| (the worst
        # case, chain * u, is ~4x more). scale = the terms' absolute sum / n (~28 here, u * scale
        # ~1.7e-6); 2x margin on the typical bound: ~1.8e-5, observed 6.5e-7 on two CPUs/BLAS;
        # a wrong formula would give ~mean(y^2) ~ 5.
        b, C, n = pred.refl.abs(), pred.params[0].abs(), olat.numel()
        scale = float(((b * torch.einsum("bkchw,kj->bjchw", b, (pred.params[0] @ pred.params[0].T).abs())).sum()
                       + 2 * (b * torch.einsum("blchw,kl->bkchw", olat.abs(), C)).sum() + (olat * olat).sum()) / n)
        chain = C.shape[0] + C.shape[1] + math.log2(n)
        assert float(field_mse(pred, olat)) < 2 * math.sqrt(chain) * 2.0**-24 * scale


def test_olat_head_is_the_plain_mse():
    y = torch.rand(1, 4, 3, 5, 5)
    x = torch.rand(1, 4, 3, 5, 5)
    aux = torch.zeros(1, 3, 5, 5)
    pred = FieldPrediction(x, (), aux, aux, aux[:, :1], OLATHead(TranslatorConfig(n_lights=4)))
    assert torch.allclose(field_mse(pred, y), ((x - y) ** 2).mean())
    assert pred.params == () and torch.equal(pred.olat, x) and torch.allclose(pred.full_lit(), x.sum(1))


def _zero_aux(model):
    with torch.no_grad():
        model.aux.weight.zero_()


def test_output_head_starts_at_the_data_mean_for_both_heads():
    from nervp.model.translator import Translator, TranslatorConfig

    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 11 * 9, 16, 16, generator=g)
    mean = torch.rand(96, 3, generator=g) * 0.2 + 0.01
    m = Translator(TranslatorConfig(base_channels=8, max_channels=16, depth=2))
    m.init_output(mean, mean_alpha=0.25, weight_scale=0.0)
    _zero_aux(m)
    out = m(x)
    assert torch.allclose(out.alpha, torch.full_like(out.alpha, 0.25), atol=1e-6)
    # premultiplied: value on the performer (mean / alpha) times coverage gives back the mean
    assert torch.allclose(out.olat.mean((3, 4))[0], mean, rtol=1e-4, atol=1e-6)
    lr = Translator(TranslatorConfig(base_channels=8, max_channels=16, depth=2, head="lowrank", rank=4))
    C = torch.linalg.qr(torch.randn(96, 4, generator=g))[0].T  # orthonormal rows
    lr.set_head_params((C,))
    in_span = (torch.rand(4, 3, generator=g).T @ C).T.abs()  # a mean inside the basis' span ...
    in_span = (C.T @ (C @ in_span))  # ... exactly
    lr.init_output(in_span, mean_alpha=0.5, weight_scale=0.0)
    _zero_aux(lr)
    out = lr(x)
    assert torch.allclose(out.olat.mean((3, 4))[0], in_span, atol=1e-5)


def test_coverage_reaches_exactly_zero_and_one_and_is_the_sigmoid_without_margin():
    from nervp.model.translator import coverage

    x = torch.linspace(-10, 10, 201, requires_grad=True)
    assert torch.equal(coverage(x, 0.0), torch.sigmoid(x))
    a = coverage(x, 0.02)
    assert (a.diff() >= 0).all() and abs(float(a[100].detach()) - 0.5) < 1e-6  # monotone, symmetric
    off, on = x < -4.0, x > 4.0  # sigmoid(-4) = 0.018 < m / (1 + 2m)
    assert (a[off] == 0).all() and (a[on] == 1).all()
    a.sum().backward()
    assert (x.grad[off] == 0).all() and (x.grad[x.abs() < 3] > 0).all()


def test_runs_saved_before_the_coverage_margin_load_with_a_bare_sigmoid():
    from nervp.presets import train_preset
    from nervp.train.config import TrainConfig

    cfg = train_preset("tiny")
    assert cfg.model.alpha_margin == 0.05
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    old = cfg.to_json()
    del old["model"]["alpha_margin"]
    assert TrainConfig.from_json(old).model.alpha_margin == 0.0


def test_nmf_factors_recover_a_nonnegative_low_rank_field():
    from nervp.model.translator import nmf_coeffs

    g = torch.Generator().manual_seed(5)
    W = torch.rand(3, 4, 3, 8, 8, generator=g)  # (N, K, 3, H, W) non-negative basis images
    H = torch.rand(4, 24, generator=g) ** 3  # (K, L) non-negative, sparse-ish mixing
    olat = torch.einsum("nkchw,kl->nlchw", W, H)
    C = nmf_coeffs(olat, 4, iters=2000)
    assert C.shape == (4, 24) and (C >= 0).all()
    assert torch.equal(C, nmf_coeffs(olat, 4, iters=2000))  # deterministic
    b = basis_coordinates(olat, C)
    rec = torch.einsum("nkchw,kl->nlchw", b, C)
    assert float((rec - olat).norm() / olat.norm()) < 1e-2
    # every basis image has the data's mean: the network's output channels share one scale
    assert torch.allclose(b.mean((0, 2, 3, 4)), olat.mean().expand(4), rtol=0.05)
    with pytest.raises(ValueError, match="rank"):
        nmf_coeffs(olat, 25)


def test_nmf_head_materialises_non_negative_lights_and_starts_at_the_mean():
    from nervp.model.translator import Translator, TranslatorConfig

    g = torch.Generator().manual_seed(4)
    x = torch.rand(2, 11 * 9, 16, 16, generator=g)
    m = Translator(TranslatorConfig(base_channels=8, max_channels=16, depth=2, head="lowrank", rank=4, basis="nmf"))
    C = torch.rand(4, 96, generator=g)
    m.set_head_params((C,))
    out = m(x)  # random weights: basis images are softplus outputs, coefficients >= 0
    assert (out.refl >= 0).all() and (out.olat >= 0).all()
    mean = (torch.rand(4, 3, generator=g) * 0.2 + 0.05).T @ C  # a mean the (non-negative) basis can hold
    m.init_output(mean.T, mean_alpha=0.5, weight_scale=0.0)
    _zero_aux(m)
    out = m(x)
    assert torch.allclose(out.olat.mean((3, 4))[0], mean.T, rtol=1e-3, atol=1e-5)
