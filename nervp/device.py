"""Where tensors go: the one place a device setting (``--device``) becomes a `torch.device`."""

from __future__ import annotations

import re

import torch

from nervp.errors import ConfigError

CHOICES = "auto, cpu, cuda or cuda:N"
"""The valid device settings, as the error messages list them."""


def resolve_device(name: str = "auto") -> torch.device:
    """The device a setting names: 'auto' (CUDA when available, else the CPU), 'cpu', 'cuda'
    (the current GPU) or 'cuda:N'. Raises ConfigError naming ``--device`` for anything else,
    for CUDA asked for without a GPU and for a GPU index beyond the count."""
    key = str(name).strip().lower()
    if key == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if key == "cpu":
        return torch.device("cpu")
    m = re.fullmatch(r"cuda(?::(\d+))?", key)
    if m is None:
        raise ConfigError(f"--device {name!r} is not a device; use {CHOICES}")
    if not torch.cuda.is_available():
        raise ConfigError(f"--device {name!r} asked for, but no CUDA GPU is available: use --device cpu "
                          f"(valid: {CHOICES})")
    if m.group(1) is None:
        return torch.device("cuda")
    index, count = int(m.group(1)), torch.cuda.device_count()
    if index >= count:
        raise ConfigError(f"--device {name!r}: there {'is' if count == 1 else 'are'} {count} CUDA "
                          f"GPU{'' if count == 1 else 's'} (cuda:0 to cuda:{count - 1}; valid: {CHOICES})")
    return torch.device("cuda", index)


__all__ = ["CHOICES", "resolve_device"]
