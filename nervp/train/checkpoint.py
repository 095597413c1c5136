"""Checkpoints as safetensors + JSON: model and discriminator weights, optimizer state, step.

Nothing is pickled: tensors go to a .safetensors file, everything else (step, optimizer
hyper-parameters, config) to a .json file beside it. Both are written under temporary names
and renamed, the JSON last; a checkpoint counts only when its JSON exists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from nervp.errors import NervpError
from nervp.fileio import write_tensors_atomic, write_text_atomic


class CheckpointError(NervpError):
    """A checkpoint is missing, corrupted or from an incompatible configuration."""


def _optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    meta_state: dict[str, dict[str, Any]] = {}
    for idx, st in sd["state"].items():
        meta_state[str(idx)] = {}
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{prefix}.{idx}.{k}"] = v.detach().cpu().contiguous()
            else:
                meta_state[str(idx)][k] = v
    return tensors, {"param_groups": sd["param_groups"], "state": meta_state}


def _load_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for idx, extra in meta["state"].items():
        state[int(idx)] = dict(extra)
    for key, v in tensors.items():
        if key.startswith(prefix + "."):
            _, idx, k = key.split(".", 2)
            state.setdefault(int(idx), {})[k] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_checkpoint(path: Path, step: int, modules: dict[str, nn.Module],
                    optimizers: dict[str, torch.optim.Optimizer], extra: dict | None = None) -> None:
    """Write `path`.safetensors and `path`.json atomically."""
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {"step": step, "modules": list(modules), "optimizers": {}, "extra": extra or {}}
    for name, m in modules.items():
        for k, v in m.state_dict().items():
            tensors[f"{name}.{k}"] = v.detach().cpu().contiguous()
    for name, opt in optimizers.items():
        t, om = _optimizer_tensors(f"opt_{name}", opt)
        tensors.update(t)
        meta["optimizers"][name] = om
    st, js = path.with_suffix(".safetensors"), path.with_suffix(".json")
    write_tensors_atomic(st, tensors)
    write_text_atomic(js, json.dumps(meta))


def read_tensors(path: Path, error: type[NervpError], fix: str,
                 keys: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """The tensors of a .safetensors file that must hold `keys`; `error` naming the file and
    `fix` when it is missing, truncated or not a safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path} is missing: {fix}")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [e.__class__.__name__])[0][:200]
        raise error(f"{path} is corrupted or truncated ({e.__class__.__name__}: {first}): {fix}") from e
    missing = [k for k in keys if k not in tensors]
    if missing:
        raise error(f"{path} lacks the tensor {missing[0]!r}: {fix}")
    return tensors


def load_checkpoint(path: Path, modules: dict[str, nn.Module],
                    optimizers: dict[str, torch.optim.Optimizer] | None = None) -> dict:
    """Load weights (strictly) and optimizer state; return the JSON metadata."""
    path = Path(path)
    st, js = path.with_suffix(".safetensors"), path.with_suffix(".json")
    fix = "delete it to resume from the previous checkpoint"
    try:
        meta = json.loads(js.read_text())
        tensors = load_file(str(st))
    except FileNotFoundError as e:
        raise CheckpointError(f"checkpoint {path} is incomplete ({e.filename} missing): resume from an earlier one") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint {js} is corrupted ({e.__class__.__name__}): {fix}") from e
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint {st} is corrupted ({e.__class__.__name__}): {fix}") from e
    if not (isinstance(meta, dict) and isinstance(meta.get("step"), int)
            and isinstance(meta.get("optimizers", {}), dict)):
        raise CheckpointError(f"checkpoint {js} is not a checkpoint record (no integer 'step'): {fix}")
    for name, m in modules.items():
        sd = {k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(name + ".")}
        try:
            m.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            first = str(e).splitlines()[0]
            raise CheckpointError(f"checkpoint {st} does not fit this model ({first}): the run's config changed; "
                                  "start a new run directory") from e
    for name, opt in (optimizers or {}).items():
        try:
            _load_optimizer(f"opt_{name}", opt, tensors, meta["optimizers"][name])
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
            raise CheckpointError(f"checkpoint {js} has no usable state of the {name} optimizer "
                                  f"({e.__class__.__name__}): {fix}") from e
    return meta


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    """The newest complete checkpoint (its JSON exists) in `ckpt_dir`, without suffix."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return None
    done = sorted(p for p in ckpt_dir.glob("step_*.json") if p.with_suffix(".safetensors").exists())
    return done[-1].with_suffix("") if done else None
