"""Parsing tests run torch single-threaded (restored after each test): their tensors are small,
and two xdist workers with two OpenMP threads each on two shared cores spin-wait."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
