"""Training the translator: one process or `torchrun` DDP, resumable, logged.

Run directory layout:

    RUN/config.json            TrainConfig + dataset path + olat_scale + target identity
    RUN/conditioning.safetensors   cached conditioning maps of the target's frames
    RUN/target_params.json     target β̄ and normalisation statistics (eq. 6)
    RUN/checkpoints/step_NNNNNNN.{safetensors,json}
    RUN/model.safetensors      final translator weights (with config.json: a finished run)
    RUN/regressor.safetensors  frozen shape regressor of the context loss
    RUN/tb/                    TensorBoard scalars and image grids
    RUN/log.jsonl              one JSON line of scalars per logged step

Sampling is a pure function of (seed, step), so a resumed run continues exactly where an
uninterrupted one would be.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn

from nervp.device import resolve_device
from nervp.model.shape_regressor import ShapeRegressor
from nervp.model.translator import PatchDiscriminator, Translator
from nervp.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from nervp.train.config import TrainConfig
from nervp.train.data import TrainingSet, network_input
from nervp.train.losses import (
    disc_fields,
    field_mse,
    gan_d_loss,
    gan_g_loss,
    light_subset,
    msssim_loss,
    normal_loss,
    temporal_loss,
)


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the torchrun process group when WORLD_SIZE > 1 (gloo on CPU, NCCL on GPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


@dataclass(frozen=True)
class Batch:
    """One training batch on the training device (B frames; normalised linear radiance, the
    dataset's radiance / `olat_scale`).

    Attributes:
        x: (B, F*C, H, W) the translator's input: F conditioning frames of C channels.
        cond: (B, C, H, W) the newest conditioning frame (the discriminator's condition).
        olat: (B, L, 3, H, W) float32 ground-truth OLAT images.
        normal: (B, 3, H, W) float32 unit world-space normals (0 off the performer).
        albedo: (B, 3, H, W) float32 linear albedo premultiplied by alpha.
        alpha: (B, 1, H, W) float32 coverage in [0, 1].
        x_prev: (B, F*C, H, W) the input of each sample's previous frame (t - 1, clamped to 0),
            and change: (B, 3, H, W) float32 the true full-lit change from it to frame t; None
            unless the temporal loss is on.
    """

    x: Tensor
    cond: Tensor
    olat: Tensor
    normal: Tensor
    albedo: Tensor
    alpha: Tensor
    x_prev: Tensor | None = None
    change: Tensor | None = None


def batch_frames(seed: int, step: int, pool: Tensor, batch: int) -> Tensor:
    """The global batch of step `step`: a pure function of (seed, step)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return pool[torch.randint(0, pool.numel(), (batch,), generator=g)]


def step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 7_919 + step + 17)


class Trainer:
    """Trains a translator on one target's `TrainingSet`; see the module docstring."""

    def __init__(self, run_dir: Path, cfg: TrainConfig, data: TrainingSet, beta_bar: Tensor,
                 regressor: ShapeRegressor | None, dinfo: DistInfo = DistInfo()):
        self.run_dir, self.cfg, self.data, self.dinfo = Path(run_dir), cfg, data, dinfo
        self.device = resolve_device(cfg.device)
        if self.device.type == "cuda" and dinfo.world > 1:
            self.device = torch.device("cuda", dinfo.local_rank)
        if cfg.batch % dinfo.world:
            from nervp.errors import ConfigError

            raise ConfigError(f"--batch {cfg.batch} must be divisible by the {dinfo.world} processes")
        if self.device.type == "cuda":  # keep the frames on the GPU when they take under a third of it
            free, _ = torch.cuda.mem_get_info(self.device)
            if data.nbytes < free / 3:
                self.data = data = data.to(self.device)
        torch.manual_seed(cfg.seed)
        self.model = Translator(cfg.model).to(self.device)
        sample = data.olat[data.train_idx[:: max(1, len(data.train_idx) // 8)]].float()
        head = self.model.head
        self.model.init_head(sample)
        self.model.init_output(sample.mean((0, 3, 4)).cpu(), float(data.alpha[data.train_idx].float().mean()))
        self.disc = PatchDiscriminator(cfg.model.cond_channels, head.out_channels).to(self.device) if cfg.loss.gan > 0 else None
        scales = head.lr_scales(cfg.coeff_lr)  # the head's own tensors: one group each, at their rates
        rest = [p for n, p in self.model.named_parameters() if n not in scales]
        groups = [{"params": rest, "lr_scale": 1.0}] + [{"params": [self.model.get_parameter(n)], "lr_scale": s}
                                                        for n, s in scales.items()]
        self.opt = torch.optim.Adam(groups, lr=cfg.lr, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=cfg.lr_disc, betas=(0.5, 0.999)) if self.disc else None
        self.regressor = regressor.to(self.device) if regressor is not None and cfg.loss.context > 0 else None
        self.beta_bar = beta_bar.to(self.device)
        self.step = 0
        if dinfo.world > 1:
            self.ddp = nn.parallel.DistributedDataParallel(self.model)
            self.ddp_d = nn.parallel.DistributedDataParallel(self.disc) if self.disc else None
        else:
            self.ddp, self.ddp_d = self.model, self.disc
        self.ckpt_dir = self.run_dir / "checkpoints"
        self._resume()

    # ---- state
    def modules(self) -> dict[str, nn.Module]:
        m: dict[str, nn.Module] = {"translator": self.model}
        if self.disc is not None:
            m["discriminator"] = self.disc
        return m

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        o: dict[str, torch.optim.Optimizer] = {"translator": self.opt}
        if self.opt_d is not None:
            o["discriminator"] = self.opt_d
        return o

    def _resume(self) -> None:
        last = latest_checkpoint(self.ckpt_dir)
        if last is not None:
            meta = load_checkpoint(last, self.modules(), self.optimizers())
            self.step = int(meta["step"])

    def save(self) -> None:
        if not self.dinfo.main:
            return
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        save_checkpoint(self.ckpt_dir / f"step_{self.step:07d}", self.step, self.modules(), self.optimizers())

    # ---- one step
    def _autocast(self):
        if self.cfg.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def _batch(self, frames: Tensor) -> Batch:
        d, dev = self.data, self.device
        n_in = self.cfg.model.in_frames
        frames = frames.to(d.cond.device)
        x = network_input(d.cond, frames, n_in, self.cfg.multi_frame)
        x_prev = change = None
        if self.cfg.loss.temporal:
            prev = (frames - 1).clamp_min(0)
            x_prev = network_input(d.cond, prev, n_in, self.cfg.multi_frame).to(dev)
            change = (d.full_lit[frames].float() - d.full_lit[prev].float()).to(dev)
        return Batch(x=x.to(dev), cond=d.cond[frames].to(dev), olat=d.olat[frames].to(dev).float(),
                     normal=d.normal[frames].to(dev).float(), albedo=d.albedo[frames].to(dev).float(),
                     alpha=d.alpha[frames].to(dev).float(), x_prev=x_prev, change=change)

    def losses(self, b: Batch, gen: torch.Generator) -> tuple[Tensor, dict[str, float], tuple[Tensor | None, Tensor | None]]:
        """Translator loss (eq. 5 without the GAN term's discriminator update)."""
        lc = self.cfg.loss
        with self._autocast():
            pred = self.ddp(b.x)
        logs: dict[str, float] = {}
        total = torch.zeros((), device=self.device)
        if lc.mse:
            v = field_mse(pred, b.olat)
            total = total + lc.mse * v
            logs["mse"] = float(v.detach())
        if lc.msssim:
            sub = light_subset(self.cfg.model.n_lights, lc.msssim_lights, gen).to(self.device)
            v = msssim_loss(pred.lights(sub).float().flatten(0, 1), b.olat[:, sub].flatten(0, 1))
            total = total + lc.msssim * v
            logs["msssim"] = float(v.detach())
        if lc.normal:
            v = normal_loss(pred.normal.float(), b.normal, b.alpha)
            total = total + lc.normal * v
            logs["normal"] = float(v.detach())
        if lc.albedo:
            v = msssim_loss(pred.albedo.float(), b.albedo)
            total = total + lc.albedo * v
            logs["albedo"] = float(v.detach())
        if lc.alpha:
            v = ((pred.alpha.float() - b.alpha) ** 2).mean()
            total = total + lc.alpha * v
            logs["alpha"] = float(v.detach())
        if self.regressor is not None:
            full = pred.full_lit().float()  # differentiable re-render of the full-lit image
            v = (self.regressor(full) - self.beta_bar[None]).abs().mean()
            total = total + lc.context * v
            logs["context"] = float(v.detach())
        if lc.temporal and b.x_prev is not None and b.change is not None:
            v = temporal_loss(self.model, pred, b.x_prev, b.change, self._autocast)
            total = total + lc.temporal * v
            logs["temporal"] = float(v.detach())
        fake = real = None
        if self._gan_on():
            fake, real = disc_fields(pred, b.olat)
            v = gan_g_loss(self.ddp_d(b.cond, fake))
            total = total + lc.gan * v
            logs["gan_g"] = float(v.detach())
        logs["total"] = float(total.detach())
        return total, logs, (fake, real)

    def _gan_on(self) -> bool:
        """Whether this step has the adversarial term (a function of the step: resume-safe)."""
        return self.ddp_d is not None and self.step >= self.cfg.loss.gan_start * self.cfg.steps

    def train_step(self) -> dict[str, float]:
        cfg, d = self.cfg, self.dinfo
        frames = batch_frames(cfg.seed, self.step, self.data.train_idx, cfg.batch)[d.rank::d.world]
        b = self._batch(frames)
        gen = step_generator(cfg.seed, self.step)
        loss, logs, (fake, real) = self.losses(b, gen)
        f = cfg.lr_factor(self.step)
        for opt, lr in ((self.opt, cfg.lr), (self.opt_d, cfg.lr_disc)):
            for g in opt.param_groups if opt is not None else ():
                g["lr"] = lr * f * g.get("lr_scale", 1.0)
        logs["lr"] = cfg.lr * f
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.model.head.constrain(self.model.head_params())  # e.g. non-negative coefficients
        if self._gan_on():
            n = b.cond.shape[0]
            both = self.ddp_d(torch.cat([b.cond, b.cond]), torch.cat([real, fake.detach()]))
            ld = gan_d_loss(both[:n], both[n:])
            self.opt_d.zero_grad(set_to_none=True)
            ld.backward()
            self.opt_d.step()
            logs["gan_d"] = float(ld.detach())
        self.step += 1
        if d.world > 1:  # report the global batch's losses, as one process would
            keys = sorted(logs)
            v = torch.tensor([logs[k] for k in keys], dtype=torch.float64)
            dist.all_reduce(v)
            logs = {k: float(x) / d.world for k, x in zip(keys, v, strict=True)}
        return logs

    # ---- validation
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """PSNR of the predicted OLAT images and full-lit image on held-out frames (network units)."""
        if self.data.val_idx.numel() == 0:
            return {}
        self.model.eval()
        mse, mse_full = [], []
        for t in self.data.val_idx.split(2):
            b = self._batch(t)
            with self._autocast():
                pred = self.model(b.x)
            mse.append(((pred.olat.float() - b.olat) ** 2).mean().item())
            mse_full.append(((pred.olat.float().sum(1) - b.olat.sum(1)) ** 2).mean().item())
        self.model.train()
        peak_full = float(self.data.full_lit.float().amax())
        return {"val_olat_psnr_db": -10 * math.log10(max(sum(mse) / len(mse), 1e-12)),
                "val_full_psnr_db": 10 * math.log10(peak_full**2 / max(sum(mse_full) / len(mse_full), 1e-12))}

    # ---- loop
    def _out_of_time(self, deadline: float | None) -> bool:
        """True once the wall-clock `deadline` (time.monotonic) has passed on any process."""
        if deadline is None:
            return False
        late = torch.tensor([float(time.monotonic() > deadline)], device=self.device)  # NCCL needs CUDA tensors
        if self.dinfo.world > 1:
            dist.all_reduce(late, op=dist.ReduceOp.MAX)
        return bool(late.item())

    def fit(self, on_step: Callable[[int, dict[str, float]], None] | None = None,
            should_stop: Callable[[], bool] | None = None, time_limit_s: float | None = None) -> dict[str, float]:
        """Train until cfg.steps. `should_stop` (polled after each step: a SIGINT/SIGTERM request) and
        `time_limit_s` (seconds) end the loop early with a checkpoint of the last step saved."""
        cfg = self.cfg
        deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
        writer = None
        if self.dinfo.main:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(self.run_dir / "tb"))
        log_path = self.run_dir / "log.jsonl"
        self.model.train()
        last: dict[str, float] = {}
        while self.step < cfg.steps:
            logs = self.train_step()
            last = logs
            if self.dinfo.main and (self.step % cfg.log_every == 0 or self.step == cfg.steps):
                with log_path.open("a") as f:
                    f.write(json.dumps({"step": self.step, **logs}) + "\n")
                for k, v in logs.items():
                    writer.add_scalar(f"train/{k}", v, self.step)
            if self.step % cfg.ckpt_every == 0 or self.step == cfg.steps:
                val = self.validate()
                if self.dinfo.main:
                    for k, v in val.items():
                        writer.add_scalar(f"val/{k}", v, self.step)
                    last = {**logs, **val}
                self.save()
            if self.dinfo.main and self.step % cfg.image_every == 0:
                self._images(writer)
            if on_step is not None:
                on_step(self.step, last)
            if should_stop is not None and should_stop():
                if self.step % cfg.ckpt_every and self.step != cfg.steps:
                    self.save()
                break
            if self.step < cfg.steps and self._out_of_time(deadline):
                self.save()
                break
        if writer is not None:
            writer.close()
        return last

    @torch.no_grad()
    def _images(self, writer) -> None:
        t = self.data.val_idx[:1] if self.data.val_idx.numel() else self.data.train_idx[:1]
        b = self._batch(t)
        self.model.eval()
        pred = self.model(b.x)
        self.model.train()
        full_p, full_t = pred.full_lit(), b.olat.sum(1)
        peak = float(full_t.amax()) or 1.0
        grid = torch.cat([full_t / peak, full_p / peak, pred.normal * 0.5 + 0.5, pred.albedo], -1).clamp(0, 1)
        writer.add_image("val/truth_pred_normal_albedo", grid[0] ** (1 / 2.2), self.step)
