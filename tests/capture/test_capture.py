"""End to end: raw stream -> aligned OLAT dataset; quality against ground truth, overlap,
calibration, byte-identical output on a Dask cluster, resuming after a kill."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from capture_streams import N_LIGHTS, tree_bytes

from nervp.capture import CaptureConfig, ExecConfig, capture
from nervp.capture.evaluate import psnr, score_capture, score_naive, sensor_floor
from nervp.capture.tasks import marker
from nervp.store.olat import load_olat
from nervp.store.raw import load_raw
from nervp.store.zstore import DatasetError, resumable_dir

ONE = ExecConfig(workers=1)


@pytest.fixture(scope="module")
def reference(moving_raw, tmp_path_factory):
    """The moving stream captured in this process, with a set on every tracking frame."""
    out = tmp_path_factory.mktemp("cap") / "ref.olat"
    report = capture(moving_raw, out, CaptureConfig(set_stride=1), ONE)
    return out, report


def test_output_is_a_valid_olat_dataset(reference, moving_raw):
    out, report = reference
    ds = load_olat(out)
    raw = load_raw(moving_raw)
    assert (ds.n_frames, ds.n_lights, ds.height, ds.width) == (report.plan.n_sets, N_LIGHTS, 64, 64)
    assert ds.manifest["colour_space"] == "linear-rec709" and ds.manifest["fps"] == pytest.approx(1000 / 3)
    np.testing.assert_array_equal(ds.read("source_middle"), raw.small("sets_middle"))
    np.testing.assert_allclose(ds.read("time"), raw.small("time")[raw.small("sets_middle")])
    conf = ds.read("confidence").astype(np.float32)
    assert conf.shape == (3, N_LIGHTS, 64, 64) and conf.min() >= 0 and conf.max() <= 1
    olat = ds.read("olat").astype(np.float32)
    assert np.isfinite(olat).all() and olat.min() > -0.05
    # full-lit = the sum of the OLAT images (docs/FORMAT.md); the measured middle tracking frame,
    # all LEDs on at once, agrees with it
    total = olat.sum(1)
    np.testing.assert_allclose(ds.read("full_lit"), total, rtol=1e-5, atol=1e-6)
    face = raw.truth().read("alpha") > 0.9
    ratio = np.median(ds.read("tracking")[face] / np.maximum(total[face], 1e-6))
    assert 0.95 < ratio < 1.05


def test_alignment_beats_naive_stacking_and_nears_the_sensor_floor(reference, moving_raw):
    out, _ = reference
    raw, ds = load_raw(moving_raw), load_olat(out)
    aligned, naive = score_capture(ds, raw), score_naive(ds, raw)
    floor = sensor_floor(raw)
    a, n, f = (np.mean(x["face"]) for x in (aligned.olat, naive.olat, floor))
    assert a > n + 0.5, (a, n, f)  # 64x64 moves by ~1-3 px over a set; see docs/CAPTURE.md for 256^2
    assert a > f - 2.0, (a, n, f)
    assert np.mean(aligned.olat["performer"]) > np.mean(naive.olat["performer"])


def test_still_performer_alignment_is_the_identity(still_raw, tmp_path):
    aligned = capture(still_raw, tmp_path / "a.olat", CaptureConfig(), ONE)
    naive = capture(still_raw, tmp_path / "n.olat", CaptureConfig(align=False), ONE)
    a, n = load_olat(aligned.out), load_olat(naive.out)
    raw = load_raw(still_raw)
    peak = 1.0 / float(np.median(raw.small("gain")[raw.small("sets_olat")]))
    everywhere = np.ones((64, 64), bool)
    for t in range(a.n_frames):
        assert psnr(a.read("olat", t), n.read("olat", t), everywhere, peak) > 45
    sa, sn = score_capture(a, raw), score_naive(a, raw)
    for r in ("face", "image"):
        assert np.mean(sa.olat[r]) == pytest.approx(np.mean(sn.olat[r]), abs=0.1)
    performer = raw.truth().read("alpha") > 0.5  # (the black backdrop has no texture to track)
    assert a.read("confidence").astype(np.float32)[:, :, performer[0]].mean() > 0.95


def test_overlap_every_other_tracking_frame(moving_raw, tmp_path):
    rep = capture(moving_raw, tmp_path / "s2.olat", CaptureConfig(set_stride=2), ONE)
    ds = load_olat(rep.out)
    assert ds.n_frames == 2 and ds.manifest["fps"] == pytest.approx(1000 / 6)
    mids = ds.read("source_middle")
    assert np.diff(mids).tolist() == [6]
    reuse = np.bincount(ds.read("source_olat").ravel())
    assert reuse.max() == 2  # OLAT images between the two middles serve both sets


def test_calibration_divides_out_each_leds_colour(reference, moving_raw, tmp_path):
    out, _ = reference
    inten = np.linspace(0.5, 1.5, N_LIGHTS * 3).reshape(N_LIGHTS, 3)
    cal_file = tmp_path / "leds.json"
    cal_file.write_text(json.dumps({"intensity_rgb": inten.tolist()}))
    cal = capture(moving_raw, tmp_path / "cal.olat", CaptureConfig(set_stride=1, calibration_file=cal_file), ONE)
    a, b = load_olat(out).read("olat", 1).astype(np.float32), load_olat(cal.out).read("olat", 1).astype(np.float32)
    scale = inten / inten.mean(0)
    np.testing.assert_allclose(b, a / scale[:, None, None, :], rtol=2e-3, atol=1e-4)
    dome = load_olat(cal.out).manifest["dome"]["intensity_rgb"]
    assert np.ptp(np.asarray(dome), axis=0).max() < 1e-9  # every LED now reads as the mean LED


def test_dask_cluster_with_two_workers_gives_identical_bytes(reference, moving_raw, tmp_path):
    from distributed import LocalCluster

    out, _ = reference
    # worker threads in this process: the same scheduler, client and graph as a remote cluster
    # (separate worker processes are exercised by the CLI test's local process pool)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        rep = capture(moving_raw, tmp_path / "dask.olat", CaptureConfig(set_stride=1),
                      ExecConfig(scheduler=cluster.scheduler_address))
    assert rep.scheduler.startswith("Dask cluster") and rep.sets_run == 3
    assert tree_bytes(rep.out) == tree_bytes(out)


SLOW_AFTER_FIRST_SET = """
import sys, time
import nervp.capture.run as run
first = run.set_task
def slow(*a, **k):
    r = first(*a, **k)
    time.sleep(120)
    return r
run.set_task = slow
from nervp.capture import CaptureConfig, ExecConfig, capture
capture(sys.argv[1], sys.argv[2], CaptureConfig(set_stride=1), ExecConfig(workers=1))
"""


def test_killed_run_resumes_without_recomputing_and_matches(reference, moving_raw, tmp_path):
    ref, report = reference
    out = tmp_path / "killed.olat"
    work = resumable_dir(out)
    proc = subprocess.Popen([sys.executable, "-c", SLOW_AFTER_FIRST_SET, str(moving_raw), str(out)],
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        deadline = time.time() + 120
        while not list((work / "done").glob("set-*")) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    done = sorted(p.name for p in (work / "done").glob("set-*"))
    assert done, "the run never finished a set"
    assert not out.exists() and not (work / "data" / "manifest.json").exists()
    t = int(done[0].split("-")[1])
    chunk = next((work / "data" / "olat").rglob(f"c/{t}/*/*/*/*"))
    stamp = chunk.stat().st_mtime_ns
    rep = capture(moving_raw, out, CaptureConfig(set_stride=1), ONE)
    assert rep.sets_skipped == len(done) and rep.sets_run == report.plan.n_sets - len(done)
    assert rep.flows_skipped >= 1 and rep.flows_run + rep.flows_skipped == report.plan.n_pairs
    assert (out / chunk.relative_to(work / "data")).stat().st_mtime_ns == stamp  # not rewritten
    assert tree_bytes(out) == tree_bytes(ref)
    assert not work.exists()


def test_stale_work_from_other_settings_is_discarded(moving_raw, tmp_path):
    out = tmp_path / "o.olat"
    work = resumable_dir(out)
    (work / "done").mkdir(parents=True)
    (work / "state.json").write_text(json.dumps({"fingerprint": "something else"}))
    marker(work, "set", 0).touch()
    rep = capture(moving_raw, out, CaptureConfig(set_stride=2, align=False), ONE)
    assert rep.sets_skipped == 0 and rep.sets_run == 2
    assert load_olat(out).n_frames == 2


def test_cli_local_processes_and_overwrite(reference, moving_raw, tmp_path, capsys):
    from nervp.cli import main

    ref, _ = reference
    out = tmp_path / "cli.olat"
    assert main(["capture", str(moving_raw), str(out), "--set-stride", "1", "--workers", "2"]) == 0
    err = capsys.readouterr().err
    assert "3 OLAT sets" in err and "333.3 sets/s" in err and "2 local processes" in err
    assert tree_bytes(out) == tree_bytes(ref)
    assert main(["capture", str(moving_raw), str(out), "--workers", "1"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["capture", str(moving_raw), str(out), "--workers", "1", "--overwrite", "--fps", "100"]) == 0
    assert load_olat(out).n_frames == 1  # 333 tracking frames/s / 100 -> every 3rd: one set fits
    assert not any(p.name.startswith(".cli.olat") for p in Path(tmp_path).iterdir())


def test_two_runs_never_share_a_work_directory(moving_raw, tmp_path):
    out = tmp_path / "o.olat"
    lock = tmp_path / ".o.olat.lock"
    lock.write_text(str(os.getppid()))  # a live process holds it
    with pytest.raises(DatasetError, match=r"another capture \(pid \d+\) is writing"):
        capture(moving_raw, out, CaptureConfig(align=False), ONE)
    lock.write_text("999999999")  # left by a process that is gone: taken over
    capture(moving_raw, out, CaptureConfig(align=False), ONE)
    assert load_olat(out).n_frames == 3 and not lock.exists()


def test_compression_changes_the_chunk_bytes_not_the_values(reference, moving_raw, tmp_path):
    """`--compression small|none` store the very values of the default (fast, lz4) output; each
    array records its codec."""
    import zarr

    fast = zarr.open_group(str(reference[0]), mode="r")
    assert fast["olat"].metadata.codecs[1].cname.value == "lz4"
    for kind, cname in (("small", "zstd"), ("none", None)):
        rep = capture(moving_raw, tmp_path / f"{kind}.olat", CaptureConfig(set_stride=1, compression=kind), ONE)
        other = zarr.open_group(str(rep.out), mode="r")
        names = [c.cname.value for c in other["olat"].metadata.codecs if hasattr(c, "cname")]
        assert names == ([cname] if cname else [])
        for name in ("olat", "confidence", "full_lit", "tracking"):
            a, b = fast[name][...], other[name][...]
            assert a.dtype == b.dtype and np.array_equal(a.view(np.uint8), b.view(np.uint8)), name


def test_a_capture_in_this_process_frees_its_set_buffers(reference):
    """Set tasks reuse per-thread buffers (200 MB at 512^2); a capture run in the calling thread
    releases them when it ends, so a later stage (the demo trains next) does not carry them."""
    from nervp.capture import tasks

    assert reference[1].sets_run > 0  # the fixture's capture ran its set tasks in this thread
    assert not hasattr(tasks._BUFFERS, "arrays")
