"""A full disk mid-write (RLIMIT_FSIZE, what `ulimit -f` sets: a write past it fails with EFBIG,
as on a full disk with ENOSPC): one line, exit 2, no traceback; the user's inputs untouched;
resumable commands keep their work and the same command again finishes with the same bytes as a
run that never failed; the others leave nothing at OUT and nothing beside it.

The limit is set in this process (Python ignores SIGXFSZ, so the write raises) and lifted again
at once; LIMIT is far below any chunk, image or checkpoint these commands write (a 32² OLAT frame
chunk is about 150 KB compressed) and far above the lock and marker files (< 1 KB)."""

from __future__ import annotations

import contextlib
import resource

import pytest

from nervp.cli import main
from nervp.store.zstore import resumable_dir
from tests.bad_input.harness import leftovers, refused, snapshot

LIMIT = 8 * 1024
SIM = ["--preset", "tiny", "--frames", "2", "--size", "32"]
MATCH = r"size limit \(ulimit -f\) writing .*(saved: free space and run the same command again|nothing half)"


@contextlib.contextmanager
def file_size_limit(nbytes: int):
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def tree(path):
    return snapshot(path) or {}


@pytest.fixture(autouse=True)
def _warm_native_kernel():
    """Build the compiled relighting kernel (if any) before a limit is set: a build under the
    limit would only fall back to the torch path, but it is not what these tests are about."""
    from nervp.relight import native

    native.status()


def resumes_to_same_bytes(capsys, argv, out, inputs, reference):
    with file_size_limit(LIMIT):
        line = refused(capsys, argv, inputs=inputs, match=MATCH)
    assert "resume" in line and not out.exists() and resumable_dir(out).is_dir()
    assert main([str(a) for a in argv]) == 0
    assert not resumable_dir(out).exists() and not leftovers(out)
    assert tree(out).values() and list(tree(out).values()) == list(tree(reference).values())


def test_simulate_full_disk_resumes(capsys, tmp_path):
    ref = tmp_path / "ref.olat"
    assert main(["simulate", str(ref), *SIM]) == 0
    resumes_to_same_bytes(capsys, ["simulate", tmp_path / "s.olat", *SIM], tmp_path / "s.olat", [], ref)


def test_capture_full_disk_resumes(capsys, raw_stream, tmp_path):
    ref = tmp_path / "ref.olat"
    assert main(["capture", str(raw_stream), str(ref), "--workers", "1"]) == 0
    out = tmp_path / "c.olat"
    resumes_to_same_bytes(capsys, ["capture", raw_stream, out, "--workers", "1"], out, [raw_stream], ref)


def test_reenact_full_disk_resumes(capsys, tiny_run, tiny_olat, tmp_path):
    ref = tmp_path / "ref.field"
    assert main(["reenact", str(tiny_run), str(tiny_olat), str(ref)]) == 0
    out = tmp_path / "r.field"
    resumes_to_same_bytes(capsys, ["reenact", tiny_run, tiny_olat, out], out, [tiny_run, tiny_olat], ref)


def test_train_full_disk_keeps_the_run_and_resumes(capsys, tiny_olat, tmp_path):
    args = ["--preset", "tiny", "--params", "truth", "--steps", "2", "--ckpt-every", "1", "--device", "cpu"]
    ref = tmp_path / "ref"
    assert main(["train", str(tiny_olat), str(ref), *args]) == 0
    run = tmp_path / "run"
    with file_size_limit(LIMIT):
        refused(capsys, ["train", tiny_olat, run, *args], inputs=[tiny_olat], match=MATCH)
    assert not (run / "model.safetensors").exists()
    assert main(["train", str(tiny_olat), str(run), *args]) == 0
    assert (run / "model.safetensors").read_bytes() == (ref / "model.safetensors").read_bytes()


@pytest.fixture(scope="module")
def tracked(tiny_olat, tmp_path_factory):
    out = tmp_path_factory.mktemp("tracked") / "p.params"
    assert main(["track", str(tiny_olat), str(out)]) == 0
    return out


@pytest.mark.parametrize("command", ["track", "condition", "relight"])
def test_one_shot_commands_leave_nothing(capsys, command, tiny_olat, envmap, tmp_path, request):
    source = request.getfixturevalue("tracked") if command == "condition" else tiny_olat
    out = tmp_path / {"track": "p.params", "condition": "c.cond", "relight": "clip.mp4"}[command]
    extra = ["--light", envmap] if command == "relight" else []
    with file_size_limit(LIMIT if command != "condition" else 1024):  # tiny maps compress below 8 KB
        line = refused(capsys, [command, source, out, *extra], inputs=[source, envmap], outputs=[out],
                       match=MATCH)
    assert "nothing half-written" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []
