"""nervp.device.resolve_device: the one place a --device setting becomes a torch.device."""

import pytest
import torch

from nervp.device import resolve_device
from nervp.errors import ConfigError


def _gpus(monkeypatch, n: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: n)


def test_auto_picks_cuda_when_present_else_cpu(monkeypatch):
    _gpus(monkeypatch, 0)
    assert resolve_device() == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")
    _gpus(monkeypatch, 2)
    assert resolve_device("auto") == torch.device("cuda")


def test_explicit_devices(monkeypatch):
    _gpus(monkeypatch, 2)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device(" CUDA:0 ") == torch.device("cuda", 0)
    assert resolve_device(torch.device("cuda", 1)) == torch.device("cuda", 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["gpu", "mps", "cuda:", "cuda:x", "cpu:0", "", "cuda:-1"])
def test_unknown_names_raise_naming_the_flag(monkeypatch, name):
    _gpus(monkeypatch, 1)
    with pytest.raises(ConfigError, match="--device") as e:
        resolve_device(name)
    assert "auto, cpu, cuda or cuda:N" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("name", ["cuda", "cuda:0"])
def test_cuda_without_a_gpu_raises(monkeypatch, name):
    _gpus(monkeypatch, 0)
    with pytest.raises(ConfigError, match="--device .*no CUDA GPU.*--device cpu.*auto, cpu, cuda or cuda:N"):
        resolve_device(name)


def test_index_beyond_the_count_raises(monkeypatch):
    _gpus(monkeypatch, 2)
    with pytest.raises(ConfigError, match=r"--device 'cuda:2'.*2 CUDA GPUs \(cuda:0 to cuda:1;"):
        resolve_device("cuda:2")
    _gpus(monkeypatch, 1)
    with pytest.raises(ConfigError, match=r"1 CUDA GPU \(cuda:0 to cuda:0; valid: auto, cpu, cuda or cuda:N\)"):
        resolve_device("cuda:1")
