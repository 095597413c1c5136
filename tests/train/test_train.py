"""The translator's training: both heads, checkpoints, exact resume, DDP, bad input."""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from nervp.presets import train_preset
from nervp.train.checkpoint import CheckpointError
from nervp.train.run import RunError, load_run, train_run


def cfg(**kw):
    """What `nervp train --preset tiny --params truth --ckpt-every 2 --loss.gan 0.1` builds: every
    term of eq. 5, the discriminator included, and the preset's learning-rate decay."""
    c = train_preset("tiny", params="truth", **{"ckpt_every": 2, **kw})
    return dataclasses.replace(c, loss=dataclasses.replace(c.loss, gan=0.1))


@pytest.fixture(scope="module")
def trained(tiny_olat, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "a"
    train_run(tiny_olat, run, cfg(steps=4))
    return run


def test_run_directory_and_loader(trained):
    for name in ("config.json", "conditioning.safetensors", "target_params.safetensors", "model.safetensors",
                 "regressor.safetensors", "log.jsonl"):
        assert (trained / name).exists(), name
    assert any((trained / "tb").iterdir())
    info = json.loads((trained / "config.json").read_text())
    assert info["train"]["model"]["in_frames"] == 11 and info["train"]["loss"]["gan"] == 0.1
    run = load_run(trained)
    assert run.step == 4 and run.olat_scale > 0
    x = torch.zeros(1, 11 * 9, 64, 64)
    out = run.translator(x)
    assert out.olat.shape == (1, 96, 3, 64, 64)
    assert (out.olat >= 0).all()
    assert torch.allclose(out.normal.norm(dim=1), torch.ones(1, 64, 64), atol=1e-4)
    logs = [json.loads(line) for line in (trained / "log.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor(r["total"])) for r in logs)


def test_learning_rate_schedule(trained):
    c = cfg(steps=100)
    f = [c.lr_factor(s) for s in range(100)]
    assert f[:50] == [1.0] * 50  # constant for the first half
    assert all(a >= b for a, b in zip(f, f[1:], strict=False))  # then falls monotonically
    assert 0.01 <= f[-1] < 0.02 and abs(c.lr_factor(75) - (0.01 + 0.99 * 0.5)) < 0.02  # cosine midpoint
    assert [cfg(steps=100, lr_decay=0.0).lr_factor(s) for s in (0, 50, 99)] == [1.0, 1.0, 1.0]
    # the run used it: the logged rate of each step is the preset's times the factor
    c4 = cfg(steps=4)
    logs = [json.loads(line) for line in (trained / "log.jsonl").read_text().splitlines()]
    assert logs and all(abs(r["lr"] - c4.lr * c4.lr_factor(r["step"] - 1)) < 1e-12 for r in logs)
    assert logs[-1]["lr"] < c4.lr


def test_run_made_before_a_setting_existed_resumes(tiny_olat, trained, tmp_path):
    """A config.json without a newer key (here lr_decay) reads with that key's default (0)."""
    old = tmp_path / "old"
    shutil.copytree(trained, old)
    info = json.loads((old / "config.json").read_text())
    del info["train"]["lr_decay"]
    (old / "config.json").write_text(json.dumps(info))
    with pytest.raises(RunError, match="different configuration"):  # the preset's 0.5 is not that default
        train_run(tiny_olat, old, cfg(steps=4))
    train_run(tiny_olat, old, cfg(steps=4, lr_decay=0.0))  # accepted (and nothing left to do)
    assert (old / "model.safetensors").exists()
    del info["train"]["model"]["alpha_margin"]  # a run from before the coverage margin: a bare sigmoid
    (old / "config.json").write_text(json.dumps(info))
    with pytest.raises(RunError, match=r"\(model\.alpha_margin: 0\.0 in the run, 0\.05 asked\)"):
        train_run(tiny_olat, old, cfg(steps=4, lr_decay=0.0))  # the refusal names what differs


def test_lowrank_head_trains_and_starts_from_pca(tiny_olat, tmp_path):
    from nervp.model.translator import pca_coeffs

    c = cfg(steps=2)
    c = dataclasses.replace(c, model=dataclasses.replace(c.model, head="lowrank", rank=8))
    train_run(tiny_olat, tmp_path / "lr", c)
    run = load_run(tmp_path / "lr")
    C = run.translator.coeffs.detach()
    assert C.shape == (8, 96)
    # PCA rows scaled by s_k / s_1 at the start: orthogonal, norms from 1 down; two small Adam
    # steps keep them nearly so
    G = C @ C.T
    n = G.diagonal().sqrt()
    assert abs(n[0] - 1) < 0.05 and (n[1:] <= n[:-1] + 0.02).all()
    assert torch.allclose(G / (n[:, None] * n[None]), torch.eye(8), atol=0.05)
    olat = torch.rand(3, 96, 3, 4, 4)
    V = pca_coeffs(olat, 96)
    assert torch.allclose(V @ V.T, torch.eye(96), atol=1e-4)
    Vs = pca_coeffs(olat, 8, scaled=True)  # same span as the first 8 orthonormal rows
    P, Ps = V[:8].T @ V[:8], Vs.T @ torch.linalg.solve(Vs @ Vs.T, Vs)
    assert torch.allclose(P, Ps, atol=1e-4)


def test_nmf_lowrank_head_keeps_its_coefficients_non_negative(tiny_olat, tmp_path):
    c = cfg(steps=3)
    c = dataclasses.replace(c, model=dataclasses.replace(c.model, head="lowrank", rank=8, basis="nmf"))
    train_run(tiny_olat, tmp_path / "nmf", c)
    run = load_run(tmp_path / "nmf")
    C = run.translator.coeffs.detach()
    assert C.shape == (8, 96) and (C >= 0).all() and (C > 0).any()
    assert run.translator.cfg.basis == "nmf"


def _weights(run: Path) -> dict:
    return load_file(str(run / "model.safetensors"))


def test_extending_a_finished_run_equals_training_the_longer_run(tiny_olat, trained, tmp_path):
    from nervp.train.run import shared_steps

    # 4 steps: the rate's factor is 1 up to step 2 and 0.505 at step 3; 6 steps: 1 up to step 3.
    # The runs share their first 3 updates, so the 4-step run's checkpoint of step 2 is the one to go on from
    assert shared_steps(cfg(steps=4), cfg(steps=6)) == 3 == shared_steps(cfg(steps=6), cfg(steps=4))
    assert shared_steps(cfg(steps=4, lr_decay=0.0), cfg(steps=6, lr_decay=0.0)) == 4
    run = tmp_path / "ext"
    shutil.copytree(trained, run)
    with pytest.raises(RunError, match="add --extend"):
        train_run(tiny_olat, run, cfg(steps=6))
    train_run(tiny_olat, run, cfg(steps=6), extend=True)
    fresh = tmp_path / "fresh"
    train_run(tiny_olat, fresh, cfg(steps=6))
    a, b = _weights(fresh), _weights(run)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    old = run / "superseded" / "steps_4"  # the 4-step run's later state is kept, not deleted
    assert (old / "model.safetensors").exists() and (old / "step_0000004.json").exists()
    assert torch.equal(load_file(str(old / "model.safetensors"))["refl.bias"], _weights(trained)["refl.bias"])
    steps = [json.loads(x)["step"] for x in (run / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 6
    with pytest.raises(RunError, match="different configuration"):  # anything beyond the length still refused
        train_run(tiny_olat, run, cfg(steps=8, lr=1e-4), extend=True)


def test_interrupted_run_resumes_exactly(tiny_olat, trained, tmp_path):
    run = tmp_path / "b"
    stop_at = {"n": 0}

    def crash() -> bool:  # stop after step 3: step 3's work is lost, the step-2 checkpoint stays
        stop_at["n"] += 1
        return stop_at["n"] == 3

    train_run(tiny_olat, run, cfg(steps=4), should_stop=crash)
    assert not (run / "model.safetensors").exists()
    train_run(tiny_olat, run, cfg(steps=4))
    a, b = _weights(trained), _weights(run)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_time_limit_stops_with_a_checkpoint_and_resume_finishes(tiny_olat, trained, tmp_path):
    run = tmp_path / "t"
    train_run(tiny_olat, run, cfg(steps=4, ckpt_every=100), time_limit_s=0.0)  # out of time after step 1
    assert not (run / "model.safetensors").exists()
    assert sorted(p.name for p in (run / "checkpoints").glob("*.json")) == ["step_0000001.json"]
    assert load_run(run).step == 1 and load_run(run, step=1).step == 1
    with pytest.raises(RunError, match="no checkpoint of step 3"):
        load_run(run, step=3)
    train_run(tiny_olat, run, cfg(steps=4, ckpt_every=100))
    assert load_run(run).step == 4 and (run / "model.safetensors").exists()


def test_kill_9_at_several_points_then_resume(tiny_olat, trained, tmp_path):
    """Killed once its step-1 checkpoint exists, then (resumed) once step 3's does: the last
    rerun's weights equal an uninterrupted run's bit for bit."""
    run = tmp_path / "k"
    cmd = [sys.executable, "-m", "nervp.cli", "train", str(tiny_olat), str(run), "--preset", "tiny",
           "--params", "truth", "--steps", "4", "--ckpt-every", "1", "--loss.gan", "0.1"]
    # the same intra-op thread count as the in-process reference run: bitwise equal floats
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    for step in (1, 3):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 900
        while time.time() < deadline and not list((run / "checkpoints").glob(f"step_{step:07d}.json")):
            time.sleep(0.05)
            if proc.poll() is not None:
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert list((run / "checkpoints").glob(f"step_{step:07d}.json")), f"no step-{step} checkpoint before the kill"
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = _weights(trained), _weights(run)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_incompatible_run_and_corrupted_checkpoint(tiny_olat, trained, tmp_path, capsys):
    from nervp.cli import main

    with pytest.raises(RunError, match="different configuration"):
        train_run(tiny_olat, trained, cfg(steps=5))
    assert (trained / "model.safetensors").exists()  # nothing lost
    bad = tmp_path / "bad"
    shutil.copytree(trained, bad)
    (bad / "model.safetensors").unlink()
    ck = sorted((bad / "checkpoints").glob("*.safetensors"))[-1]
    ck.write_bytes(ck.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="corrupted"):
        load_run(bad)
    code = main(["reenact", str(tmp_path / "nothing"), str(tiny_olat), str(tmp_path / "o")])
    assert code == 2 and "not a nervp run" in capsys.readouterr().err
    code = main(["train", str(tiny_olat), str(tmp_path / "nmf"), "--preset", "tiny", "--model.basis", "nmf"])
    assert code == 2 and "--model.head lowrank" in capsys.readouterr().err and not (tmp_path / "nmf").exists()


def test_dataset_without_full_lit_is_refused(tiny_olat, tmp_path):
    from nervp.store.zstore import DatasetError

    bad = tmp_path / "nofull.olat"
    shutil.copytree(tiny_olat, bad)
    m = json.loads((bad / "manifest.json").read_text())
    del m["arrays"]["full_lit"]
    (bad / "manifest.json").write_text(json.dumps(m))
    shutil.rmtree(bad / "full_lit")
    with pytest.raises(DatasetError, match="full_lit"):
        train_run(bad, tmp_path / "r", cfg(steps=1))
    assert not (tmp_path / "r").exists()


def test_ddp_two_processes_match_one(tiny_olat, trained, tmp_path):
    """torchrun with 2 gloo processes, global batch 2, follows the single-process loss curve."""
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
           "nervp.cli", "train", str(tiny_olat), str(run), "--preset", "tiny", "--params", "truth", "--steps", "4", "--ckpt-every", "2",
           "--loss.gan", "0.1"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    one = {json.loads(x)["step"]: json.loads(x) for x in (trained / "log.jsonl").read_text().splitlines()}
    two = {json.loads(x)["step"]: json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()}
    assert one.keys() == two.keys()
    for s in one:
        for k in ("mse", "normal", "alpha", "total"):
            assert two[s][k] == pytest.approx(one[s][k], rel=2e-3, abs=1e-5), (s, k)


def test_reenact_and_evaluate_smoke(tiny_olat, trained, tmp_path):
    """`nervp reenact` driven by the tiny dataset (truth parameters) and `nervp evaluate` of the run."""
    import math

    import numpy as np

    from nervp.cli import main
    from nervp.store.olat import load_olat

    out = tmp_path / "reenacted.olat"
    assert main(["reenact", str(trained), str(tiny_olat), str(out), "--params", "truth"]) == 0
    src, ds = load_olat(tiny_olat), load_olat(out)
    assert ds.n_frames == src.n_frames
    assert all(np.isfinite(ds.read("olat", t).astype(np.float32)).all() for t in range(ds.n_frames))
    report = tmp_path / "eval.json"
    assert main(["evaluate", str(trained), str(tiny_olat), "--light", "sky", "--out", str(report)]) == 0
    m = json.loads(report.read_text())
    assert math.isfinite(m["overall"]["psnr_db"]) and math.isfinite(m["per_olat_psnr_db"])
