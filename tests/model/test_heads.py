"""Reflectance heads behind one interface: every head in the table round-trips a field that lies
in its space, its channel count is what the translator and discriminator are built with, and a
head that exists only in this file trains once it is registered in `HEADS`."""

import dataclasses
import math
from typing import get_args

import pytest
import torch
from torch import Tensor

from nervp.errors import ConfigError
from nervp.model import HEADS, HeadName, ReflectanceHead, Translator, TranslatorConfig, make_head
from nervp.model.heads.base import inv_softplus4, softplus4

U32 = torch.finfo(torch.float32).eps / 2  # unit roundoff of float32
B, K, L, H, W = 2, 5, 12, 4, 5


def _coeffs(nonneg: bool) -> Tensor:
    """(K, L) well-conditioned coefficients: signed (singular values in [1, 2]) or non-negative."""
    g = torch.Generator().manual_seed(1)
    if nonneg:
        return (torch.arange(L)[None] % K == torch.arange(K)[:, None]).float() + 0.1 * torch.rand(K, L, generator=g)
    u = torch.linalg.qr(torch.randn(K, K, generator=g, dtype=torch.float64))[0]
    v = torch.linalg.qr(torch.randn(L, K, generator=g, dtype=torch.float64))[0]
    return (u @ torch.diag(torch.linspace(2.0, 1.0, K, dtype=torch.float64)) @ v.T).float()


# every head of the table (and each variant): a config and learned tensors to test it with
CASES = {
    "olat": [(TranslatorConfig(n_lights=L), ())],
    "lowrank": [(TranslatorConfig(head="lowrank", rank=K, n_lights=L, basis=b), (_coeffs(b == "nmf"),))
                for b in ("pca", "nmf")],
    "fulllit": [(TranslatorConfig(head="fulllit", n_lights=L), ())],
}


def _cases():
    return [pytest.param(c, p, id=f"{name}-{c.basis}") for name in HEADS for c, p in CASES[name]]


def test_the_table_names_every_head_once():
    assert set(CASES) == set(HEADS) == set(get_args(HeadName))
    assert all(issubclass(h, ReflectanceHead) for h in HEADS.values())
    with pytest.raises(ConfigError, match="choose one of olat, lowrank, fulllit"):
        make_head(TranslatorConfig(head="nope"))  # type: ignore[arg-type]


@pytest.mark.parametrize(("cfg", "params"), _cases())
def test_projection_of_an_in_space_field_decodes_back_to_it(cfg, params):
    head = make_head(cfg)
    g = torch.Generator().manual_seed(2)
    images = torch.rand(B, head.n_images, 3, H, W, generator=g)
    olat = head.lights(images, params)
    assert olat.shape == (B, L, 3, H, W)
    back = head.project(olat, params)
    relit = head.lights(back, params)
    if not params:  # nothing is computed: the projection is the field itself, exactly
        assert torch.equal(back, images) and torch.equal(relit, olat)
        return
    # First-order float32 bound of the least-squares projection b' = (G + rI)^-1 C y, G = C C':
    # each of its four stages (y = b C, z = C y, inv(G), inv(G) z) sums at most L or K products
    # (error <= n u each, u = float32 unit roundoff), amplified by kappa(G), and sqrt(L) turns the
    # componentwise bounds into a normwise one; the ridge r = 1e-6 mean(diag G) adds r / lambda_min(G).
    C = params[0].double()
    ev = torch.linalg.eigvalsh(C @ C.T)
    kappa = float(ev[-1] / ev[0])
    tol = kappa * (L + 3 * K) * U32 * math.sqrt(L) + 1e-6 * float(ev.mean() / ev[0])
    assert float((back - images).norm() / images.norm()) <= tol
    # materialising again multiplies by C: the error grows by at most kappa(C) = sqrt(kappa(G))
    assert float((relit - olat).norm() / olat.norm()) <= tol * math.sqrt(kappa) + K * U32 * math.sqrt(L)


@pytest.mark.parametrize(("cfg", "params"), _cases())
def test_channels_decode_and_field_agree_with_the_translator(cfg, params):
    head = make_head(cfg)
    net = Translator(dataclasses.replace(cfg, base_channels=8, max_channels=8, depth=1))
    assert net.refl.out_channels == head.out_channels == 3 * head.n_images
    assert set(net.state_dict()) - {"refl.weight", "refl.bias"} >= set(head.param_shapes())
    assert [tuple(p.shape) for p in net.head_params()] == list(head.param_shapes().values())
    net.set_head_params(params)
    g = torch.Generator().manual_seed(3)
    pred = net(torch.rand(B, 11 * 9, H * 2, W * 2, generator=g))
    assert pred.refl.shape == (B, head.n_images, 3, H * 2, W * 2) and pred.olat.shape == (B, L, 3, H * 2, W * 2)
    assert pred.project(pred.olat).shape == pred.refl.shape
    # the field a relighting consumes holds the same OLAT images; each is a sum of at most K
    # products here and there, in another order: at most 2 K u times the sum of |products| apart
    field = pred.field(scale=2.0)
    assert field.n_frames == B and field.n_lights == L and field.alpha.shape == (B, H * 2, W * 2)
    bound = 2 * K * U32 * 2.0 * head.lights(pred.refl.detach().abs().double(),
                                            tuple(p.detach().abs().double() for p in params)).permute(0, 1, 3, 4, 2)
    diff = (field.olat().double() - 2.0 * pred.olat.detach().double().permute(0, 1, 3, 4, 2)).abs()
    assert (diff <= bound).all()


@pytest.mark.parametrize(("cfg", "params"), _cases())
def test_head_mse_is_the_mse_of_the_materialised_images(cfg, params):
    head = make_head(cfg)
    g = torch.Generator().manual_seed(4)
    images, y = torch.rand(B, head.n_images, 3, H, W, generator=g), torch.rand(B, L, 3, H, W, generator=g)
    ref = ((head.lights(images, params) - y) ** 2).mean()
    assert torch.allclose(head.mse(images, params, y), ref, rtol=1e-5)


class TintHead(ReflectanceHead):
    """A head defined only here: L non-negative images and one learned RGB tint shared by all
    lights, OLAT_l = tint * image_l (tint started at the data's colour balance, kept >= 0.1)."""

    @property
    def n_images(self) -> int:
        return self.cfg.n_lights

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"tint": (3,)}

    def init_params(self, olat: Tensor) -> tuple[Tensor, ...]:
        c = olat.mean((0, 1, 3, 4)).cpu()
        return (c / c.mean(),)

    def constrain(self, params: tuple[Tensor, ...]) -> None:
        with torch.no_grad():
            params[0].clamp_(min=0.1)

    def output_bias(self, mean: Tensor, params: tuple[Tensor, ...]) -> Tensor:
        return inv_softplus4(mean / params[0].detach().double().cpu()).reshape(-1)

    def decode(self, raw: Tensor, alpha: Tensor) -> Tensor:
        return softplus4(raw).unflatten(1, (self.n_images, 3)) * alpha[:, None]

    def lights(self, images: Tensor, params: tuple[Tensor, ...], idx: Tensor | None = None) -> Tensor:
        images = images if idx is None else images[:, idx]
        return images.float() * params[0].float()[:, None, None]

    def project(self, olat: Tensor, params: tuple[Tensor, ...]) -> Tensor:
        return olat.float() / params[0].detach().float()[:, None, None]


def test_a_head_added_to_the_table_trains(tiny_olat, tmp_path, monkeypatch):
    from nervp.presets import train_preset
    from nervp.train.data import network_input
    from nervp.train.run import load_run, train_run
    from nervp.train.trainer import Trainer

    monkeypatch.setitem(HEADS, "tint", TintHead)
    c = train_preset("tiny", params="truth", steps=2, ckpt_every=2)
    c = dataclasses.replace(c, model=dataclasses.replace(c.model, head="tint"),
                            loss=dataclasses.replace(c.loss, gan=0.1))  # every term, the discriminator too
    groups, save = [], Trainer.save

    def save_and_note_groups(self):
        groups.append([g["lr_scale"] for g in self.opt.param_groups])
        save(self)

    monkeypatch.setattr(Trainer, "save", save_and_note_groups)
    train_run(tiny_olat, tmp_path / "tint", c)
    run = load_run(tmp_path / "tint")
    assert groups == [[1.0, c.coeff_lr]]  # the head's tensor trains in its own group, at coeff_lr
    tint = run.translator.tint.detach()
    assert isinstance(run.translator.head, TintHead) and tint.shape == (3,) and (tint >= 0.1).all()
    pred = run.translator(network_input(run.cond, torch.tensor([1]), 11, True))
    assert pred.olat.shape == (1, 96, 3, *run.cond.shape[-2:]) and (pred.olat >= 0).all()
