"""Long commands survive kill -9 and SIGTERM, and the same command gives the same bytes.

Each command runs as `python -c SLOW ARGV`: the CLI's `main` with every finished unit of work
(`ResumableWrite.mark`) followed by a short sleep, so the test can stop the process between
known units by polling the work directory. The sleep changes no value. Every process gets the
same OMP_NUM_THREADS so floats match bit for bit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nervp.cli import main
from nervp.store.zstore import resumable_dir

SLOW = """
import sys, time
import nervp.store.resume as r
mark = r.ResumableWrite.mark
def slow(self, *a, **k):
    mark(self, *a, **k)
    time.sleep(float(sys.argv[1]))
r.ResumableWrite.mark = slow
from nervp.cli import main
sys.exit(main(sys.argv[2:]))
"""
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
SIM = ["--preset", "tiny", "--frames", "4", "--size", "32"]


def tree_bytes(path: Path) -> dict[str, bytes]:
    """Every file under `path` by relative name -> its bytes."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(Path(path).rglob("*")) if p.is_file()}


def start(argv: list, pause: float = 0.6) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SLOW, str(pause), *map(str, argv)], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def run_cli(argv: list) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SLOW, "0", *map(str, argv)], env=ENV, capture_output=True,
                          text=True, timeout=600)


def wait_for(proc: subprocess.Popen, ready, what: str, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not ready():
        assert proc.poll() is None, f"ended before {what}: {proc.stderr.read()[-2000:]}"
        assert time.time() < deadline, f"no {what} in {timeout} s"
        time.sleep(0.05)


def markers(out: Path) -> int:
    done = resumable_dir(out) / "done"
    return len(list(done.glob("*.npz"))) if done.is_dir() else 0


def kill_at_points(argv_for, out: Path, points: tuple[int, ...]) -> None:
    """Run the command and SIGKILL it once `n` units are done, for each `n` in `points` (each
    rerun resumes the last one); then run it to the end."""
    for n in points:
        proc = start(argv_for(out))
        wait_for(proc, lambda n=n: markers(out) >= n, f"{n} finished units")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not out.exists() and markers(out) >= n
    r = run_cli(argv_for(out))
    assert r.returncode == 0, r.stderr[-2000:]
    assert not resumable_dir(out).exists()


@pytest.fixture(scope="module")
def sim_reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "ref.olat"
    r = run_cli(["simulate", out, *SIM])
    assert r.returncode == 0, r.stderr[-2000:]
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_simulate_killed_at_several_points_resumes_to_the_same_bytes(sim_reference, tmp_path, workers):
    out = tmp_path / "k.olat"
    kill_at_points(lambda o: ["simulate", o, *SIM, "--workers", workers], out, (1, 2, 3))
    assert tree_bytes(out) == tree_bytes(sim_reference)


def test_simulate_sigterm_exits_143_and_resumes(sim_reference, tmp_path):
    out = tmp_path / "t.olat"
    proc = start(["simulate", out, *SIM])
    wait_for(proc, lambda: markers(out) >= 1, "a finished frame")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    lines = [x for x in err.splitlines() if x.startswith("nervp:")]
    assert lines == ["nervp: stopped by SIGTERM; what was done is saved: run the same command again to resume"]
    assert "Traceback" not in err and not out.exists() and 1 <= markers(out) < 4
    r = run_cli(["simulate", out, *SIM])
    assert r.returncode == 0, r.stderr[-2000:]
    assert tree_bytes(out) == tree_bytes(sim_reference) and not resumable_dir(out).exists()


def test_rerun_with_other_settings_is_refused_then_overwrite_starts_over(sim_reference, tmp_path, capsys):
    out = tmp_path / "s.olat"
    proc = start(["simulate", out, *SIM])
    wait_for(proc, lambda: markers(out) >= 1, "a finished frame")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    code = main(["simulate", str(out), *SIM, "--performer.seed", "3"])
    err = capsys.readouterr().err
    assert code == 2 and "interrupted write" in err and "--overwrite" in err and markers(out) >= 1
    assert main(["simulate", str(out), *SIM, "--overwrite"]) == 0  # same settings + --overwrite: resumes
    assert tree_bytes(out) == tree_bytes(sim_reference) and not resumable_dir(out).exists()


def test_raw_killed_resumes_to_the_same_bytes(tmp_path):
    argv = ["simulate", "--raw", "--preset", "tiny", "--frames", "1", "--size", "32"]
    ref = tmp_path / "ref.raw"
    assert run_cli([*argv[:1], ref, *argv[1:]]).returncode == 0
    out = tmp_path / "k.raw"
    kill_at_points(lambda o: [argv[0], o, *argv[1:]], out, (2, 20))
    assert tree_bytes(out) == tree_bytes(ref)


def test_reenact_killed_and_terminated_resumes_to_the_same_bytes(tiny_run, tiny_olat, tmp_path):
    argv = lambda o: ["reenact", tiny_run, tiny_olat, o, "--params", "truth", "--device", "cpu"]  # noqa: E731
    ref = tmp_path / "ref.olat"
    assert run_cli(argv(ref)).returncode == 0
    out = tmp_path / "k.olat"
    kill_at_points(argv, out, (1,))
    assert tree_bytes(out) == tree_bytes(ref)
    out2 = tmp_path / "t.olat"
    proc = start(argv(out2))
    wait_for(proc, lambda: markers(out2) >= 1, "a finished frame")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "run the same command again to resume" in err, err[-2000:]
    assert run_cli(argv(out2)).returncode == 0
    assert tree_bytes(out2) == tree_bytes(ref)


def test_train_sigterm_saves_a_checkpoint_exits_143_and_resumes_exactly(tiny_olat, tmp_path):
    from safetensors.torch import load_file

    argv = lambda run: ["train", tiny_olat, run, "--preset", "tiny", "--params", "truth", "--steps", "4",  # noqa: E731
                        "--ckpt-every", "100", "--log-every", "1", "--loss.context", "0", "--device", "cpu"]
    ref = tmp_path / "ref"
    assert run_cli(argv(ref)).returncode == 0
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "nervp.cli", *map(str, argv(run))], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log = run / "log.jsonl"
    wait_for(proc, lambda: log.exists() and log.read_text().count("\n") >= 1, "a logged step")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143 and "run the same command again to resume" in err, err[-2000:]
    assert not (run / "model.safetensors").exists() and list((run / "checkpoints").glob("step_*.json"))
    r = run_cli(argv(run))
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = load_file(str(ref / "model.safetensors")), load_file(str(run / "model.safetensors"))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    assert (ref / "config.json").read_bytes().replace(b"/ref", b"/run") == (run / "config.json").read_bytes()


SLOW_SETS = """
import sys, time
import nervp.capture.run as run
first = run.set_task
def slow(*a, **k):
    r = first(*a, **k)
    time.sleep(float(sys.argv[1]))
    return r
run.set_task = slow
from nervp.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture(scope="module")
def three_set_raw(tmp_path_factory) -> Path:
    """A raw stream with three tracking frames, captured as three sets (one per tracking frame)."""
    import dataclasses

    from nervp.presets import RAW_PRESETS
    from nervp.synth.raw import simulate_raw

    base = RAW_PRESETS["tiny"]
    cfg = dataclasses.replace(base, sim=dataclasses.replace(base.sim, frames=3, size=32))
    return simulate_raw(tmp_path_factory.mktemp("raw3") / "s.raw", cfg)


def test_capture_killed_at_several_points_resumes_to_the_same_bytes(three_set_raw, tmp_path):
    # each rerun resumes the one before: killed after 1 set, then after 2, then run to the end
    args = ["--workers", "1", "--set-stride", "1"]
    ref = tmp_path / "ref.olat"
    assert main(["capture", str(three_set_raw), str(ref), *args]) == 0
    out = tmp_path / "k.olat"
    done = lambda: len(list((resumable_dir(out) / "done").glob("set-*")))  # noqa: E731
    for n in (1, 2):
        proc = subprocess.Popen([sys.executable, "-c", SLOW_SETS, "30", "capture", str(three_set_raw),
                                 str(out), *args], env=ENV, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        wait_for(proc, lambda n=n: resumable_dir(out).is_dir() and done() >= n, f"{n} finished sets")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not out.exists() and done() == n
    r = subprocess.run([sys.executable, "-m", "nervp.cli", "capture", str(three_set_raw), str(out), *args],
                       env=ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    summary = " ".join(r.stderr.split())  # the summary goes to stderr and may wrap
    assert "computed 1 sets" in summary and "reused 2 sets" in summary, summary[-2000:]
    assert tree_bytes(out) == tree_bytes(ref) and not resumable_dir(out).exists()


def test_capture_sigterm_and_sigint_save_sets_exit_nonzero_and_resume(three_set_raw, tmp_path):
    args = ["--workers", "1", "--set-stride", "1"]
    ref = tmp_path / "ref.olat"
    assert main(["capture", str(three_set_raw), str(ref), *args]) == 0
    out = tmp_path / "s.olat"
    done = lambda: len(list((resumable_dir(out) / "done").glob("set-*")))  # noqa: E731
    for n, sig, name in ((1, signal.SIGTERM, "SIGTERM"), (2, signal.SIGINT, "SIGINT")):
        proc = subprocess.Popen([sys.executable, "-c", SLOW_SETS, "2", "capture", str(three_set_raw),
                                 str(out), *args], env=ENV, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        wait_for(proc, lambda n=n: resumable_dir(out).is_dir() and done() >= n, f"{n} finished sets")
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 128 + sig, err[-2000:]
        lines = [x for x in err.splitlines() if x.startswith("nervp:")]
        assert lines == [f"nervp: stopped by {name}; what was done is saved: run the same command again "
                         "to resume"], err[-2000:]
        assert "Traceback" not in err and not out.exists() and done() >= n
    assert main(["capture", str(three_set_raw), str(out), *args]) == 0
    assert tree_bytes(out) == tree_bytes(ref) and not resumable_dir(out).exists()


def test_simulate_sigint_exits_130_and_resumes(sim_reference, tmp_path):
    out = tmp_path / "i.olat"
    proc = start(["simulate", out, *SIM])
    wait_for(proc, lambda: markers(out) >= 1, "a finished frame")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    lines = [x for x in err.splitlines() if x.startswith("nervp:")]
    assert lines == ["nervp: stopped by SIGINT; what was done is saved: run the same command again to resume"]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err and not out.exists()
    assert run_cli(["simulate", out, *SIM]).returncode == 0
    assert tree_bytes(out) == tree_bytes(sim_reference) and not resumable_dir(out).exists()


def test_same_seed_gives_byte_identical_datasets(tiny_run, tiny_olat, raw_stream, tmp_path):
    """simulate (OLAT and --raw), capture, condition and reenact, each run twice."""
    from nervp.parse.normalize import param_stats
    from nervp.store.params import write_params
    from nervp.train.targets import performer_params

    params = performer_params(tiny_olat, "truth")
    write_params(tmp_path / "p.params", params, param_stats(params))
    jobs = {
        "simulate": lambda o: ["simulate", o, *SIM],
        "raw": lambda o: ["simulate", o, "--raw", "--preset", "tiny", "--frames", "1", "--size", "32"],
        "capture": lambda o: ["capture", raw_stream, o, "--workers", "1"],
        "condition": lambda o: ["condition", tmp_path / "p.params", o, "--maps.size", "32"],
        "reenact": lambda o: ["reenact", tiny_run, tiny_olat, o, "--params", "truth", "--device", "cpu"],
    }
    for name, argv in jobs.items():
        a, b = tmp_path / f"{name}.a", tmp_path / f"{name}.b"
        assert main([str(x) for x in argv(a)]) == 0, name
        assert main([str(x) for x in argv(b)]) == 0, name
        ta, tb = tree_bytes(a), tree_bytes(b)
        assert ta.keys() == tb.keys(), name
        assert [k for k in ta if ta[k] != tb[k]] == [], name


def test_manifest_keys_are_sorted(tiny_olat):
    import json

    text = (tiny_olat / "manifest.json").read_text()
    assert text == json.dumps(json.loads(text), indent=1, sort_keys=True)

