"""Runs: prepare a run directory from an OLAT dataset, train it, and load a finished run.

`load_run` is the one loader for finished (or in-progress) runs: evaluation, reenactment and
relighting all go through it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from nervp.device import resolve_device
from nervp.errors import ConfigError, NervpError
from nervp.fileio import write_json_atomic, write_tensors_atomic
from nervp.lightstage.dome import Dome
from nervp.model.shape_regressor import ShapeRegressor, train_regressor
from nervp.model.translator import Translator
from nervp.store.olat import OLATDataset, load_olat
from nervp.store.outputs import (
    RUN_FILES,
    OutputError,
    check_not_input,
    check_parent,
    describe,
    existing_files,
    output_kind,
    output_lock,
)
from nervp.store.zstore import one_line, read_json, read_manifest
from nervp.train.checkpoint import CheckpointError, latest_checkpoint, load_checkpoint, read_tensors
from nervp.train.config import TrainConfig, check_model_size
from nervp.train.data import load_training_set
from nervp.train.trainer import DistInfo, Trainer, init_distributed

CONFIG = "config.json"
RUN_FIX = "its run directory is damaged: train a new run (or copy the file back)"
COND = "conditioning.safetensors"


class RunError(NervpError):
    """A run directory is missing, incomplete or incompatible."""


@dataclass(frozen=True)
class RunInfo:
    """A run's config.json: what it is trained with, and what it knows of its dataset.

    Attributes:
        train: the training configuration.
        dataset: absolute path of the target's OLAT dataset.
        olat_scale: linear radiance that 1.0 in network units stands for.
        n_frames, fps: the dataset's frames and their rate (frames per second).
        dome: the dataset's dome record (`Dome.from_json` reads it; `dome_model()`).
        camera: the dataset's camera record (K, R, t; None when it has none).
        height, width: image size in pixels of the dataset and the network.
        target: JSON record of the target's parameters (source, fit residual, eq. 6 statistics).
        val_frames: frames held out from training (scored by `nervp evaluate`).
        dataset_id: what identifies the dataset (`dataset_identity`); None for runs made before
            it was recorded (their size and frame count are compared instead).
    """

    train: TrainConfig
    dataset: str
    olat_scale: float
    n_frames: int
    fps: float
    dome: dict
    camera: dict | None
    height: int
    width: int
    target: dict
    val_frames: tuple[int, ...]
    dataset_id: dict | None = None

    def to_json(self) -> dict:
        return {"train": self.train.to_json(), "dataset": self.dataset, "olat_scale": self.olat_scale,
                "n_frames": self.n_frames, "fps": self.fps, "dome": self.dome, "camera": self.camera,
                "height": self.height, "width": self.width, "target": self.target,
                "val_frames": list(self.val_frames), "dataset_id": self.dataset_id}

    @staticmethod
    def from_json(d: dict, path: Path) -> RunInfo:
        """Read a config.json's contents; RunError naming `path` when it is not one."""
        try:
            ident = d.get("dataset_id")
            return RunInfo(TrainConfig.from_json(d["train"]), str(d["dataset"]), float(d["olat_scale"]),
                           int(d["n_frames"]), float(d["fps"]), dict(d["dome"]), d.get("camera"),
                           int(d["height"]), int(d["width"]), dict(d["target"]),
                           tuple(int(t) for t in d["val_frames"]), None if ident is None else dict(ident))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
            raise RunError(f"{path} is corrupted or from another nervp version ({e.__class__.__name__}: {e}): "
                           "train a new run") from e

    def dome_model(self) -> Dome:
        """The dataset's dome (LED positions, directions, solid angles, intensities)."""
        return Dome.from_json(self.dome)


def dataset_identity(ds: OLATDataset) -> dict:
    """What identifies a dataset regardless of its path: size, frames, lights, the performer's
    seed (simulated) and a SHA-256 prefix of its first full-lit frame's bytes."""
    perf = ds.manifest.get("performer")
    first = ds.read("full_lit", 0) if ds.has("full_lit") else ds.read("olat", 0)
    return {"height": ds.height, "width": ds.width, "n_frames": ds.n_frames, "n_lights": ds.n_lights,
            "performer_seed": perf.get("seed") if isinstance(perf, dict) else None,
            "fingerprint": hashlib.sha256(first.tobytes()).hexdigest()[:16]}


def _describe(ident: dict) -> str:
    seed = ident.get("performer_seed")
    return (f"{ident.get('width')}x{ident.get('height')}, {ident.get('n_frames')} frames"
            + (f", performer {seed}" if seed is not None else "")
            + (f", fingerprint {ident['fingerprint']}" if ident.get("fingerprint") else ""))


def check_run_dataset(info: RunInfo, ds: OLATDataset, run_dir: Path | str) -> None:
    """RunError naming both when `ds` is not the dataset the run at `run_dir` was trained on."""
    have = dataset_identity(ds)
    want = info.dataset_id or {"height": info.height, "width": info.width, "n_frames": info.n_frames}
    keys = [k for k in want if k in have and want[k] != have[k]]
    if keys:
        raise RunError(f"{run_dir} was trained on {info.dataset} ({_describe(want)}) but {ds.path} is another "
                       f"dataset ({_describe(have)}): use the run's own dataset or a new run directory")


def _training_frames(ds: OLATDataset, cfg: TrainConfig) -> int:
    """Frames left for training after the held-out ones; RunError when the batch is larger."""
    n_val = max(1, int(round(ds.n_frames * cfg.val_fraction)))
    n_train = ds.n_frames - n_val
    if n_train < 1:
        raise RunError(f"{ds.path} has {ds.n_frames} frames; --val-fraction {cfg.val_fraction} holds out all of "
                       "them: lower it or record more frames")
    if cfg.batch > n_train:
        raise ConfigError(f"--batch {cfg.batch} is larger than the {n_train} training frames of {ds.path}: "
                          f"use --batch {n_train} or less")
    return n_train


def check_dataset_for_training(ds: OLATDataset) -> None:
    if not ds.has("full_lit"):
        raise RunError(f"{ds.path} has no full-lit frames: the translator needs them to parse the target")
    if ds.n_frames < 3:
        raise RunError(f"{ds.path} has {ds.n_frames} frames; training needs at least 3 (some are held out)")


def shared_steps(old: TrainConfig, new: TrainConfig) -> int:
    """How many first updates two configs make identically, given the same data and seed: up to
    the first step whose learning-rate factor or adversarial on/off differs (both are functions
    of the step and the run's length), and at most the shorter run's length."""
    n = min(old.steps, new.steps)
    for k in range(n):
        if old.lr_factor(k) != new.lr_factor(k) or (
                old.loss.gan > 0 and (k >= old.loss.gan_start * old.steps) != (k >= new.loss.gan_start * new.steps)):
            return k
    return n


def _differences(have: dict, want: dict, prefix: str = "") -> str:
    """'key: run value -> asked value' for every setting that differs (nested keys dotted)."""
    out = []
    for k in sorted(set(have) | set(want)):
        a, b = have.get(k), want.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            sub = _differences(a, b, f"{prefix}{k}.")
            out += [sub] if sub else []
        elif a != b:
            out.append(f"{prefix}{k}: {a} in the run, {b} asked")
    return "; ".join(out)


def _extend(run_dir: Path, have: dict, old: TrainConfig, new: TrainConfig) -> dict:
    """Give an existing run a new length (`nervp train --steps N --extend`). Checkpoints up to
    `shared_steps` are states the new run passes through as well, so training goes on from the
    latest of them exactly as a run started with the new length would; later checkpoints, the
    final weights and their log lines move to RUN/superseded/steps_<old length>/ (nothing is
    deleted)."""
    keep = shared_steps(old, new)
    dest = run_dir / "superseded" / f"steps_{old.steps}"
    n = 1
    while dest.exists():
        n += 1
        dest = run_dir / "superseded" / f"steps_{old.steps}_{n}"
    moves = [p for p in (run_dir / "checkpoints").glob("step_*.*") if int(p.name[5:12]) > keep]
    moves += [run_dir / f for f in ("model.safetensors", "final.json") if (run_dir / f).exists()]
    dest.mkdir(parents=True)
    log = run_dir / "log.jsonl"
    if log.exists():
        lines = log.read_text().splitlines(keepends=True)
        (dest / "log.jsonl").write_text("".join(lines))
        tmp = log.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(x for x in lines if json.loads(x)["step"] <= keep))
        os.replace(tmp, log)
    for p in moves:
        os.replace(p, dest / p.name)
    info = {**have, "train": new.to_json()}
    write_json_atomic(run_dir / CONFIG, info)
    return info


def prepare_run(dataset: Path, run_dir: Path, cfg: TrainConfig, main: bool = True, extend: bool = False) -> RunInfo:
    """Create (or check) the run directory: config, cached conditioning maps, target parameters,
    the context-loss regressor. Never modifies the dataset. Returns the run's `RunInfo`.
    With `extend`, an existing run whose config differs only in `steps` takes the new length."""
    from nervp.train.targets import is_tracked, target_conditioning

    ds = load_olat(dataset)
    check_dataset_for_training(ds)
    _training_frames(ds, cfg)
    m = 2 ** cfg.model.depth
    if ds.height % m or ds.width % m:
        raise RunError(f"{dataset} is {ds.width}x{ds.height}; the translator (depth {cfg.model.depth}) needs sizes "
                       f"divisible by {m}")
    if cfg.model.n_lights != ds.n_lights:
        raise RunError(f"{dataset} has {ds.n_lights} lights but the model expects {cfg.model.n_lights}")
    run_dir = Path(run_dir)
    cfg_path = run_dir / CONFIG
    wanted = {"train": cfg.to_json(), "dataset": str(Path(dataset).resolve())}
    if cfg_path.exists():
        have = read_json(cfg_path, RunError, "choose a new run directory")
        check_run_dataset(RunInfo.from_json(have, cfg_path), ds, run_dir)
        try:  # through the dataclass, so settings added since the run was made take their defaults
            old = TrainConfig.from_json(have["train"])
        except (KeyError, TypeError):
            old = None
        if old is not None and old.to_json() == wanted["train"]:
            return RunInfo.from_json(have, cfg_path)
        only_length = old is not None and dataclasses.replace(old, steps=cfg.steps) == cfg
        if extend and only_length:
            return RunInfo.from_json(_extend(run_dir, have, old, cfg), cfg_path)
        hint = " (to change only its length, add --extend)" if only_length else ""
        diff = f" ({_differences(old.to_json(), wanted['train'])})" if old is not None else ""
        raise RunError(f"{run_dir} holds a run with a different configuration{diff}: resume it with its own "
                       f"settings or choose a new run directory{hint}")
    if not main:
        raise RunError(f"{run_dir} has no {CONFIG}: the main process prepares the run")
    if cfg.params not in ("fit", "truth") and not is_tracked(Path(cfg.params)):
        raise RunError(f"--params {cfg.params} is neither fit, truth nor a face-parameters dataset "
                       "(write one with `nervp track DATASET PARAMS`)")
    run_dir.mkdir(parents=True, exist_ok=True)
    tgt = target_conditioning(ds, cfg, run_dir)
    write_tensors_atomic(run_dir / COND, {"cond": tgt.cond.contiguous(), "beta_bar": tgt.beta_bar.contiguous(),
                                          "beta_frames": tgt.beta_frames.contiguous()})
    data = load_training_set(ds, tgt.cond, cfg.val_fraction)
    if cfg.loss.context > 0:
        reg = train_regressor(data.full_lit[data.train_idx], tgt.beta_frames[data.train_idx], steps=200, seed=cfg.seed)
        write_tensors_atomic(run_dir / "regressor.safetensors", reg.state_dict())
    info = RunInfo(cfg, wanted["dataset"], data.olat_scale, ds.n_frames, ds.manifest.get("fps", 25.0),
                   ds.manifest["dome"], ds.manifest.get("camera"), ds.height, ds.width, tgt.meta,
                   tuple(data.val_idx.tolist()), dataset_identity(ds))
    write_json_atomic(cfg_path, info.to_json())
    return info


def with_dataset_lights(cfg: TrainConfig, dataset: Path) -> TrainConfig:
    """`cfg` with the model's light count set to the dataset's (left as it is when the dataset's
    manifest cannot be read: `prepare_run` then names the problem)."""
    try:
        n = int(read_manifest(Path(dataset), "olat")["n_lights"])
    except (NervpError, KeyError, TypeError, ValueError, OverflowError):
        return cfg
    if n == cfg.model.n_lights or n < 1:
        return cfg
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, n_lights=n))


def run_inputs(dataset: Path, cfg: TrainConfig) -> list[Path]:
    """The files a training run reads (its dataset, a parameters dataset, VGG weights): the run
    directory must not be, be inside or contain any of them."""
    extra = [cfg.params if cfg.params not in ("fit", "truth") else None, cfg.loss.vgg_weights]
    return [Path(dataset), *existing_files(extra)]


def check_run_dir(run_dir: Path, inputs: list[Path]) -> None:
    """Before anything is written: `run_dir` is a new directory in an existing writable folder,
    an empty one, or a nervp run (resumed); never an input, a file or a folder of other things."""
    try:
        check_not_input(run_dir, inputs)
        check_parent(run_dir)
    except OutputError as e:
        raise RunError(str(e)) from None
    if not run_dir.exists():
        return
    if not run_dir.is_dir():
        raise RunError(f"{run_dir} is a file, not a run directory: choose a new run directory")
    kind = output_kind(run_dir)
    others = sorted(p.name for p in run_dir.iterdir() if p.name not in RUN_FILES)
    if kind != "run" and (others or kind is not None):
        what = describe(kind) if kind is not None else f"a folder of other files ({', '.join(others[:3])})"
        raise RunError(f"{run_dir} is {what}, not a nervp run directory: choose a new run directory (it was kept)")


def finished_metrics(run_dir: Path) -> dict | None:
    """The final metrics (final.json) of a finished run (its final weights written), else None."""
    final = Path(run_dir) / "final.json"
    if not (final.is_file() and (Path(run_dir) / "model.safetensors").is_file()):
        return None
    try:
        metrics = json.loads(final.read_text())
    except (OSError, ValueError) as e:
        raise RunError(f"{final} is corrupted ({e.__class__.__name__}): delete it and model.safetensors "
                       "and run `nervp train` again to re-create them from the last checkpoint") from e
    return metrics if isinstance(metrics, dict) else None


def train_run(dataset: Path, run_dir: Path, cfg: TrainConfig, on_step=None, should_stop=None,
              time_limit_s: float | None = None, extend: bool = False) -> dict:
    """Prepare (first time) and train (or resume) a run; returns the last logged scalars (a
    finished run is left as it is and its final metrics returned).
    With `time_limit_s` training stops after that long with a checkpoint (resume it later);
    `extend` lets `cfg.steps` change an existing run's length (see `prepare_run`). The main
    process holds the run directory's lock throughout (a second `train` into it is refused).
    The reflectance head gets the dataset's light count (any dome)."""
    cfg = with_dataset_lights(cfg, dataset)
    cfg.validate()
    device = resolve_device(cfg.device)
    dinfo = init_distributed(device)
    run_dir = Path(run_dir)
    if not dinfo.main:
        return _train(dataset, run_dir, cfg, dinfo, on_step, should_stop, time_limit_s, extend)
    check_run_dir(run_dir, run_inputs(dataset, cfg))
    try:
        lock = output_lock(run_dir, "train")
        lock.__enter__()
    except OutputError as e:
        raise RunError(str(e)) from None
    try:
        check_run_dir(run_dir, run_inputs(dataset, cfg))
        return _train(dataset, run_dir, cfg, dinfo, on_step, should_stop, time_limit_s, extend)
    finally:
        lock.__exit__(None, None, None)


def _train(dataset: Path, run_dir: Path, cfg: TrainConfig, dinfo: DistInfo, on_step, should_stop,
           time_limit_s: float | None, extend: bool) -> dict:
    if dinfo.main:
        info = prepare_run(dataset, run_dir, cfg, extend=extend)
    if dinfo.world > 1:
        torch.distributed.barrier()
        info = RunInfo.from_json(read_json(run_dir / CONFIG, RunError, "prepare the run again"), run_dir / CONFIG)
    done = finished_metrics(run_dir)
    if done is not None and int(done.get("step", -1)) >= cfg.steps:
        return done  # finished: nothing to do, and its final.json is kept as it is
    tensors = read_tensors(run_dir / COND, RunError, RUN_FIX, ("cond", "beta_bar"))
    ds = load_olat(dataset)
    data = load_training_set(ds, tensors["cond"], cfg.val_fraction)
    reg = None
    if cfg.loss.context > 0 and (run_dir / "regressor.safetensors").exists():
        reg = ShapeRegressor(int(tensors["beta_bar"].numel()))
        reg_path = run_dir / "regressor.safetensors"
        try:
            reg.load_state_dict(read_tensors(reg_path, RunError, RUN_FIX))
        except RuntimeError as e:
            raise RunError(f"{reg_path} does not fit this run ({one_line(e)}): {RUN_FIX}") from e
        reg.eval().requires_grad_(False)
    trainer = Trainer(run_dir, cfg, data, tensors["beta_bar"], reg, dinfo)
    last = trainer.fit(on_step=on_step, should_stop=should_stop, time_limit_s=time_limit_s)
    if dinfo.main and trainer.step >= cfg.steps:
        write_tensors_atomic(run_dir / "model.safetensors",
                             {k: v.detach().cpu().contiguous() for k, v in trainer.model.state_dict().items()})
        write_json_atomic(run_dir / "final.json", {"step": trainer.step, **last, "olat_scale": info.olat_scale})
    return last


@dataclass(frozen=True)
class FinishedRun:
    """A loaded run: its config, the translator (eval mode) and what it knows of the target.

    Attributes:
        path: the run directory. cfg: TrainConfig. info: the run's config.json (`RunInfo`).
        translator: weights of the final model (or the latest checkpoint).
        olat_scale: linear radiance of 1.0 in network units.
        cond: (T, C, H, W) the target's cached conditioning maps.
        beta_bar: (n_id,) the target's identity.
    """

    path: Path
    cfg: TrainConfig
    info: RunInfo
    translator: Translator
    olat_scale: float
    cond: torch.Tensor
    beta_bar: torch.Tensor
    step: int


def load_run(run_dir: Path | str, device: str = "auto", step: int | None = None) -> FinishedRun:
    """The one loader for runs: the final weights, else the latest checkpoint; with `step`, that
    step's checkpoint. Raises RunError/CheckpointError naming the problem."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / CONFIG
    if not cfg_path.is_file():
        raise RunError(f"{run_dir} is not a nervp run (no {CONFIG}): train one with `nervp train`")
    raw = read_json(cfg_path, RunError, "train a new run")
    info = RunInfo.from_json(raw, cfg_path)
    cfg = info.train
    try:  # the settings' types and values are unchecked JSON until a model is built from them
        check_model_size(cfg.model)
        model, steps = Translator(cfg.model), int(cfg.steps)
    except (TypeError, ValueError, RuntimeError, OverflowError, ZeroDivisionError, IndexError, KeyError,
            ConfigError) as e:
        raise RunError(f"{cfg_path} holds settings no model can be built from ({e.__class__.__name__}: {e}): "
                       "train a new run") from e
    final = run_dir / "model.safetensors"
    if step is not None:
        ckpt = run_dir / "checkpoints" / f"step_{step:07d}.json"
        if not ckpt.exists():
            have = sorted(int(p.stem.removeprefix("step_")) for p in (run_dir / "checkpoints").glob("step_*.json"))
            raise RunError(f"{run_dir} has no checkpoint of step {step}: choose one of "
                           f"{', '.join(map(str, have)) or 'none'}")
        step = int(load_checkpoint(ckpt, {"translator": model})["step"])
    elif final.exists():
        step = steps
        try:
            model.load_state_dict(read_tensors(final, CheckpointError, "delete it and resume training"), strict=True)
        except CheckpointError:
            raise
        except Exception as e:  # safetensors raises several types for damaged files
            raise CheckpointError(f"{final} is corrupted or does not fit this config ({e.__class__.__name__}): "
                                  "delete it and resume training to re-create it") from e
    else:
        last = latest_checkpoint(run_dir / "checkpoints")
        if last is None:
            raise RunError(f"{run_dir} has no trained weights yet: run `nervp train` first")
        step = int(load_checkpoint(last, {"translator": model})["step"])
    tensors = read_tensors(run_dir / COND, RunError, RUN_FIX, ("cond", "beta_bar"))
    model.eval().to(resolve_device(device))
    return FinishedRun(run_dir, cfg, info, model, info.olat_scale, tensors["cond"],
                       tensors["beta_bar"], step)


__all__ = ["DistInfo", "FinishedRun", "RunError", "RunInfo", "check_run_dir", "finished_metrics", "load_run",
           "prepare_run", "run_inputs", "train_run"]
