"""The compiled kernel's cache is trusted only when it is private and matches its hashes:
an unsafe folder or library is refused with one warning line (relighting falls back to the
torch path), a tampered library is rebuilt (or refused, never loaded), and any change to the
source gives a new library name."""

from __future__ import annotations

import ctypes
import hashlib
import os

import pytest
import torch

from nervp.relight import native
from nervp.relight.core import relight, relight_reference
from nervp.structures import ReflectanceField


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh NERVP_CACHE; skips where this machine cannot build the kernel at all."""
    root = tmp_path / "cache"
    monkeypatch.setenv("NERVP_CACHE", str(root))
    monkeypatch.delenv("NERVP_NATIVE", raising=False)
    native.reset()
    if native.kernel() is None:
        pytest.skip(f"no compiled kernel: {native.status()}")
    native.reset()
    yield root
    native.reset()


def _libs(root):
    return sorted((root / "native").glob("*.so"))


def _loads(monkeypatch) -> list[str]:
    """Record every dlopen the module makes (and still perform it)."""
    seen: list[str] = []
    real = ctypes.CDLL

    def spy(name, *a, **k):
        seen.append(str(name))
        return real(name, *a, **k)

    monkeypatch.setattr(native.ctypes, "CDLL", spy)
    return seen


def _tamper(lib, data: bytes) -> None:
    """Give `lib` new bytes through a new inode: this process has the old one mapped, and
    rewriting mapped code in place would crash it (an attacker's process has no such care)."""
    tmp = lib.with_name("tampered.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, lib)


def _torch_still_relights():
    g = torch.Generator().manual_seed(0)
    f = ReflectanceField(torch.rand(1, 96, 6, 10, 3, generator=g).half())
    w = torch.rand(96, 3, generator=g)
    torch.testing.assert_close(relight(f, w), relight_reference(f, w), rtol=1e-5, atol=1e-6)


def test_cache_is_created_private_with_a_hash_sidecar(cache):
    assert native.kernel() is not None
    for d in (cache, cache / "native"):
        assert (d.stat().st_mode & 0o777) == 0o700
    (lib,) = _libs(cache)
    side = lib.with_name(lib.name + ".sha256")
    assert side.read_text().strip() == hashlib.sha256(lib.read_bytes()).hexdigest()
    assert not [p for p in (cache / "native").iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("which", ["root", "native"])
def test_world_writable_cache_is_refused(cache, which, capsys, monkeypatch):
    assert native.kernel() is not None
    native.reset()
    (cache if which == "root" else cache / "native").chmod(0o777)
    seen = _loads(monkeypatch)
    assert native.kernel() is None
    assert "refused" in native.status() and "writable" in native.status()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nervp: warning:") and "torch path" in err[0]
    assert not seen
    _torch_still_relights()


def test_group_writable_library_is_refused(cache, capsys, monkeypatch):
    assert native.kernel() is not None
    native.reset()
    (lib,) = _libs(cache)
    lib.chmod(0o770)
    seen = _loads(monkeypatch)
    assert native.kernel() is None and "writable" in native.status()
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not seen


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="chown needs root")
def test_library_owned_by_another_user_is_refused(cache, monkeypatch):
    assert native.kernel() is not None
    native.reset()
    (lib,) = _libs(cache)
    os.chown(lib, 12345, -1)
    seen = _loads(monkeypatch)
    assert native.kernel() is None and "another user" in native.status()
    assert not seen


def test_symlinked_library_is_refused(cache, tmp_path, monkeypatch):
    assert native.kernel() is not None
    native.reset()
    (lib,) = _libs(cache)
    elsewhere = tmp_path / "elsewhere.so"
    lib.rename(elsewhere)
    lib.symlink_to(elsewhere)
    seen = _loads(monkeypatch)
    assert native.kernel() is None and "refused" in native.status()
    assert not seen


def test_tampered_library_is_rebuilt(cache, capsys, monkeypatch):
    assert native.kernel() is not None
    native.reset()
    (lib,) = _libs(cache)
    good = lib.read_bytes()
    _tamper(lib, good[:100] + bytes([good[100] ^ 0xFF]) + good[101:])  # one flipped byte
    assert native.kernel() is not None
    assert "rebuilding" in capsys.readouterr().err
    side = lib.with_name(lib.name + ".sha256").read_text().strip()
    assert hashlib.sha256(lib.read_bytes()).hexdigest() == side


def test_tampered_library_that_rebuilds_wrong_is_never_loaded(cache, capsys, monkeypatch):
    assert native.kernel() is not None
    native.reset()
    (lib,) = _libs(cache)

    def bad_compile(cc, path):  # a build whose output then differs from its recorded hash
        _tamper(path, b"\x7fELF not what was recorded")
        return None

    _tamper(lib, lib.read_bytes() + b"tampered")
    monkeypatch.setattr(native, "_compile", bad_compile)
    seen = _loads(monkeypatch)
    assert native.kernel() is None and "does not match" in native.status()
    assert not seen
    assert "torch path" in capsys.readouterr().err


def test_missing_sidecar_means_rebuild(cache):
    assert native.kernel() is not None
    native.reset()
    (lib,) = _libs(cache)
    lib.with_name(lib.name + ".sha256").unlink()
    assert native.kernel() is not None
    assert lib.with_name(lib.name + ".sha256").is_file()


def test_source_change_gives_a_new_name(cache, tmp_path, monkeypatch):
    src = native.SOURCE.read_bytes()
    name = native.library_name(src, "/usr/bin/cc", "cc 1", "flags avx2")
    assert native.library_name(src + b"\n", "/usr/bin/cc", "cc 1", "flags avx2") != name
    assert native.library_name(src, "/usr/bin/gcc", "cc 1", "flags avx2") != name
    assert native.library_name(src, "/usr/bin/cc", "cc 2", "flags avx2") != name
    assert native.kernel() is not None
    (first,) = _libs(cache)
    changed = tmp_path / "relight_f16.c"
    changed.write_bytes(src + b"\n/* changed */\n")
    monkeypatch.setattr(native, "SOURCE", changed)
    native.reset()
    assert native.kernel() is not None
    libs = _libs(cache)
    assert len(libs) == 2 and first in libs
