"""Catalogue: every command's outputs (`nervp.store.outputs`). An output is never an input, inside
or around one; `--overwrite` replaces only an earlier output of the same kind; a second writer
of an output gets one line (exit 2); sidecars follow their main output; the demo never deletes
what the user put in its folder; a finished run is kept as it is."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from pathlib import Path

import pytest

from nervp.cli import main
from nervp.store.outputs import lock_path
from tests.bad_input.harness import leftovers, refused, snapshot

TRAIN = ["--preset", "tiny", "--params", "truth", "--steps", "2", "--ckpt-every", "2", "--device", "cpu",
         "--loss.context", "0"]
"""The settings of the `tiny_run` fixture."""


@contextlib.contextmanager
def held(path: Path, holder: str = "simulate"):
    """Hold the output lock of `path` the way nervp does (flock on `.NAME.lock`, "PID COMMAND")."""
    lock = lock_path(path)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, f"{os.getpid()} {holder}".encode())
    try:
        yield lock
    finally:
        os.unlink(lock)
        os.close(fd)


def refused_while_held(capsys, argv, out: Path, inputs=(), lock_of: Path | None = None) -> str:
    """`refused` while this test holds the lock of `lock_of` (default `out`): one line naming the
    holder; `out` as it was and nothing left beside it once the lock is released."""
    before = snapshot(out)
    with held(lock_of or out):
        line = refused(capsys, argv, inputs=inputs, match=r"another simulate \(pid \d+\) is writing")
    assert snapshot(out) == before and not leftovers(out), leftovers(out)
    return line


def folder(path: Path) -> Path:
    """An ordinary folder holding one file of the user's."""
    path.mkdir()
    (path / "thesis.txt").write_text("years of work")
    return path


def copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# 1. an output is never an input, inside one or around one -------------------------------------


def test_capture_onto_its_raw_stream(capsys, raw_stream):
    refused(capsys, ["capture", raw_stream, raw_stream, "--overwrite"], inputs=[raw_stream],
            match=f"it is the input {raw_stream}")


def test_capture_inside_its_raw_stream(capsys, raw_stream):
    out = raw_stream / "o.olat"
    refused(capsys, ["capture", raw_stream, out], inputs=[raw_stream], outputs=[out], match="inside the input")


def test_capture_onto_a_symlink_to_its_raw_stream(capsys, raw_stream, tmp_path):
    link = tmp_path / "link.raw"
    link.symlink_to(raw_stream)
    refused(capsys, ["capture", raw_stream, link, "--overwrite"], inputs=[raw_stream], match="is the input")
    assert link.is_symlink()


def test_capture_around_its_raw_stream(capsys, raw_stream, tmp_path):
    ds = copy(raw_stream, tmp_path / "s.raw")
    refused(capsys, ["capture", ds, tmp_path, "--overwrite"], inputs=[tmp_path], match="contains the input")


def test_condition_onto_its_parameters(capsys, tiny_olat):
    refused(capsys, ["condition", tiny_olat, tiny_olat, "--overwrite"], inputs=[tiny_olat], match="is the input")


def test_condition_inside_its_target(capsys, tiny_olat, tmp_path):
    target = copy(tiny_olat, tmp_path / "t.olat")
    out = target / "maps.cond"
    refused(capsys, ["condition", tiny_olat, out, "--target", target], inputs=[tiny_olat, target],
            outputs=[out], match=f"inside the input {target}")


def test_track_onto_its_dataset(capsys, tiny_olat):
    refused(capsys, ["track", tiny_olat, tiny_olat, "--overwrite"], inputs=[tiny_olat], match="is the input")


def test_track_onto_its_video(capsys, tiny_video):
    refused(capsys, ["track", tiny_video, tiny_video, "--overwrite"], inputs=[tiny_video], match="is the input")


def test_track_inside_its_dataset_through_a_symlinked_folder(capsys, tiny_olat, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tiny_olat)
    refused(capsys, ["track", tiny_olat, link / "p.params"], inputs=[tiny_olat], match="inside the input")


def test_reenact_onto_its_run(capsys, tiny_run, tiny_olat):
    refused(capsys, ["reenact", tiny_run, tiny_olat, tiny_run, "--overwrite"], inputs=[tiny_run, tiny_olat],
            match=f"it is the input {tiny_run}")


def test_reenact_onto_its_source(capsys, tiny_run, tiny_olat):
    refused(capsys, ["reenact", tiny_run, tiny_olat, tiny_olat, "--overwrite"], inputs=[tiny_run, tiny_olat],
            match=f"it is the input {tiny_olat}")


def test_reenact_inside_its_run(capsys, tiny_run, tiny_olat):
    out = tiny_run / "re.olat"
    refused(capsys, ["reenact", tiny_run, tiny_olat, out], inputs=[tiny_run, tiny_olat], outputs=[out],
            match="inside the input")


def test_relight_inside_its_dataset(capsys, tiny_olat):
    out = tiny_olat / "x.mp4"
    refused(capsys, ["relight", tiny_olat, out], inputs=[tiny_olat], outputs=[out], match="inside the input")


def test_relight_onto_its_environment_map(capsys, tiny_olat, envmap, tmp_path):
    out = tmp_path / "x.exr"
    (tmp_path / "x.0000.exr").symlink_to(envmap)
    refused(capsys, ["relight", tiny_olat, out, "--light", tmp_path / "x.0000.exr", "--overwrite"],
            inputs=[tiny_olat, envmap], match="is the input")


def test_relight_onto_its_background_picture(capsys, tiny_olat, tmp_path):
    import numpy as np

    from nervp.viz.images import save_png

    pic = tmp_path / "bg.png"
    save_png(pic, np.zeros((8, 8, 3), np.uint8))
    refused(capsys, ["relight", tiny_olat, pic, "--background", pic, "--overwrite"], inputs=[tiny_olat, pic],
            match="is the input")


def test_train_onto_its_dataset(capsys, tiny_olat):
    refused(capsys, ["train", tiny_olat, tiny_olat, *TRAIN], inputs=[tiny_olat], match="is the input")


def test_train_inside_its_dataset(capsys, tiny_olat):
    run = tiny_olat / "run"
    refused(capsys, ["train", tiny_olat, run, *TRAIN], inputs=[tiny_olat], outputs=[run], match="inside the input")


def test_train_around_its_dataset(capsys, tiny_olat, tmp_path):
    ds = copy(tiny_olat, tmp_path / "d.olat")
    refused(capsys, ["train", ds, tmp_path, *TRAIN], inputs=[tmp_path], match="contains the input")


def test_evaluate_report_inside_the_dataset(capsys, tiny_run, tiny_olat):
    out = tiny_olat / "eval.json"
    refused(capsys, ["evaluate", tiny_run, tiny_olat, "--out", out, "--device", "cpu"],
            inputs=[tiny_run, tiny_olat], outputs=[out], match="inside the input")


def test_evaluate_report_onto_the_runs_config(capsys, tiny_run, tiny_olat):
    refused(capsys, ["evaluate", tiny_run, tiny_olat, "--out", tiny_run / "config.json", "--overwrite"],
            inputs=[tiny_run, tiny_olat], match="config.json: it is the input")


def test_evaluate_report_onto_the_runs_final_metrics(capsys, tiny_run, tiny_olat):
    refused(capsys, ["evaluate", tiny_run, tiny_olat, "--out", tiny_run / "final.json", "--overwrite"],
            inputs=[tiny_run, tiny_olat], match="final.json: it is the input")


def test_inspect_sheet_inside_the_dataset(capsys, tiny_olat):
    sheet = tiny_olat / "sheet.png"
    refused(capsys, ["inspect", tiny_olat, "--sheet", sheet], inputs=[tiny_olat], outputs=[sheet],
            match="inside the input")


def test_inspect_sheet_into_a_missing_folder(capsys, tiny_olat, tmp_path):
    sheet = tmp_path / "no" / "sheet.png"
    refused(capsys, ["inspect", tiny_olat, "--sheet", sheet], inputs=[tiny_olat], outputs=[sheet.parent],
            match="does not exist")


def test_evaluate_into_a_missing_folder_before_any_work(capsys, tiny_run, tiny_olat, tmp_path):
    out = tmp_path / "no" / "e.json"
    refused(capsys, ["evaluate", tiny_run, tiny_olat, "--out", out], inputs=[tiny_run, tiny_olat],
            outputs=[out.parent], match="does not exist")


# 2. --overwrite replaces only an earlier output of the same kind --------------------------------


def test_simulate_overwrite_of_an_ordinary_folder(capsys, tmp_path):
    out = folder(tmp_path / "mine")
    refused(capsys, ["simulate", out, "--preset", "tiny", "--overwrite"], inputs=[out], match="not a nervp output")


def test_simulate_overwrite_of_a_file(capsys, tmp_path):
    out = tmp_path / "notes.olat"
    out.write_text("keep")
    refused(capsys, ["simulate", out, "--preset", "tiny", "--overwrite"], inputs=[out], match="not a nervp output")


def test_simulate_raw_overwrite_of_an_olat_dataset(capsys, tiny_olat, tmp_path):
    out = copy(tiny_olat, tmp_path / "d.olat")
    refused(capsys, ["simulate", out, "--preset", "tiny", "--raw", "--overwrite"], inputs=[out],
            match="'olat' dataset, not a nervp 'raw' dataset")


def test_simulate_overwrite_of_a_run(capsys, tiny_run, tmp_path):
    out = copy(tiny_run, tmp_path / "run")
    refused(capsys, ["simulate", out, "--preset", "tiny", "--overwrite"], inputs=[out], match="run directory")


def test_simulate_onto_an_existing_dataset_without_overwrite(capsys, tiny_olat):
    refused(capsys, ["simulate", tiny_olat, "--preset", "tiny"], inputs=[tiny_olat], match="already exists")


def test_capture_overwrite_of_an_ordinary_folder(capsys, raw_stream, tmp_path):
    out = folder(tmp_path / "o.olat")
    refused(capsys, ["capture", raw_stream, out, "--overwrite"], inputs=[raw_stream, out],
            match="not a nervp output")


def test_track_overwrite_of_an_olat_dataset(capsys, tiny_olat, tmp_path):
    out = copy(tiny_olat, tmp_path / "p.olat")
    refused(capsys, ["track", tiny_olat, out, "--overwrite"], inputs=[tiny_olat, out], match="'face_params'")


def test_condition_overwrite_of_an_ordinary_folder(capsys, tiny_olat, tmp_path):
    out = folder(tmp_path / "c")
    refused(capsys, ["condition", tiny_olat, out, "--overwrite"], inputs=[tiny_olat, out],
            match="not a nervp output")


def test_reenact_overwrite_of_a_raw_stream(capsys, tiny_run, tiny_olat, raw_stream, tmp_path):
    out = copy(raw_stream, tmp_path / "r.raw")
    refused(capsys, ["reenact", tiny_run, tiny_olat, out, "--overwrite"], inputs=[tiny_run, tiny_olat, out],
            match="'raw' dataset, not a nervp 'olat'")


def test_relight_overwrite_of_a_file_that_is_not_a_video(capsys, tiny_olat, tmp_path):
    out = tmp_path / "notes.mp4"
    out.write_text("not a video")
    refused(capsys, ["relight", tiny_olat, out, "--overwrite"], inputs=[tiny_olat, out],
            match="not a nervp output, not an MP4 video")


def test_relight_overwrite_of_a_folder_named_like_a_video(capsys, tiny_olat, tmp_path):
    out = folder(tmp_path / "dir.mp4")
    refused(capsys, ["relight", tiny_olat, out, "--overwrite"], inputs=[tiny_olat, out], match="not an MP4")


def test_relight_sequence_overwrite_of_a_file_that_is_not_a_png(capsys, tiny_olat, tmp_path):
    frame0 = tmp_path / "x.0000.png"
    frame0.write_text("a note")
    refused(capsys, ["relight", tiny_olat, tmp_path / "x.png", "--overwrite"], inputs=[tiny_olat, frame0],
            match="not a PNG picture")


def test_relight_onto_an_existing_video_without_overwrite(capsys, tiny_olat, tiny_video, tmp_path):
    out = tmp_path / "v.mp4"
    shutil.copy(tiny_video, out)
    refused(capsys, ["relight", tiny_olat, out], inputs=[tiny_olat, out], match="already exists")


def test_evaluate_overwrite_of_a_file_that_is_not_json(capsys, tiny_run, tiny_olat, tmp_path):
    out = tmp_path / "e.json"
    out.write_text("my notes")
    refused(capsys, ["evaluate", tiny_run, tiny_olat, "--out", out, "--overwrite"],
            inputs=[tiny_run, tiny_olat, out], match="not a JSON report")


def test_evaluate_onto_an_existing_report_without_overwrite(capsys, tiny_run, tiny_olat, tmp_path):
    out = tmp_path / "e.json"
    out.write_text("{}")
    refused(capsys, ["evaluate", tiny_run, tiny_olat, "--out", out], inputs=[tiny_run, tiny_olat, out],
            match="already exists")


def test_inspect_sheet_overwrite_of_a_file_that_is_not_a_png(capsys, tiny_olat, tmp_path):
    sheet = tmp_path / "photo.png"
    sheet.write_text("not a picture")
    refused(capsys, ["inspect", tiny_olat, "--sheet", sheet, "--overwrite"], inputs=[tiny_olat, sheet],
            match="not a PNG picture")


def test_train_into_an_ordinary_folder(capsys, tiny_olat, tmp_path):
    run = folder(tmp_path / "run")
    refused(capsys, ["train", tiny_olat, run, *TRAIN], inputs=[tiny_olat, run], match="thesis.txt")


def test_train_into_a_file(capsys, tiny_olat, tmp_path):
    run = tmp_path / "run"
    run.write_text("x")
    refused(capsys, ["train", tiny_olat, run, *TRAIN], inputs=[tiny_olat, run], match="is a file")


def test_train_into_a_dataset(capsys, tiny_olat, tmp_path):
    run = copy(tiny_olat, tmp_path / "d.olat")
    refused(capsys, ["train", tiny_olat, run, *TRAIN], inputs=[tiny_olat, run], match="'olat' dataset, not a nervp run")


# 3. a second writer of an output gets one line ----------------------------------------------------


def test_simulate_while_another_writes_the_same_output(capsys, tmp_path):
    out = tmp_path / "a.olat"
    refused_while_held(capsys, ["simulate", out, "--preset", "tiny", "--frames", "2"], out)


def test_simulate_over_a_dataset_another_replaces(capsys, tiny_olat, tmp_path):
    out = copy(tiny_olat, tmp_path / "a.olat")
    refused_while_held(capsys, ["simulate", out, "--preset", "tiny", "--overwrite"], out)


def test_capture_while_another_writes_the_same_output(capsys, raw_stream, tmp_path):
    out = tmp_path / "c.olat"
    refused_while_held(capsys, ["capture", raw_stream, out], out, inputs=[raw_stream])


def test_track_while_another_writes_the_same_output(capsys, tiny_olat, tmp_path):
    out = tmp_path / "p.params"
    refused_while_held(capsys, ["track", tiny_olat, out], out, inputs=[tiny_olat])


def test_condition_while_another_writes_the_same_output(capsys, tiny_olat, tmp_path):
    out = tmp_path / "m.cond"
    refused_while_held(capsys, ["condition", tiny_olat, out], out, inputs=[tiny_olat])


def test_reenact_while_another_writes_the_same_output(capsys, tiny_run, tiny_olat, tmp_path):
    out = tmp_path / "r.olat"
    refused_while_held(capsys, ["reenact", tiny_run, tiny_olat, out], out, inputs=[tiny_run, tiny_olat])


def test_relight_while_another_writes_the_same_video(capsys, tiny_olat, tmp_path):
    out = tmp_path / "v.mp4"
    refused_while_held(capsys, ["relight", tiny_olat, out], out, inputs=[tiny_olat])


def test_relight_while_another_writes_the_same_strip(capsys, tiny_olat, tmp_path):
    out = tmp_path / "v.png"
    refused_while_held(capsys, ["relight", tiny_olat, out], out, inputs=[tiny_olat], lock_of=tmp_path / "v.strip.png")


def test_train_while_another_trains_the_same_run(capsys, tiny_olat, tmp_path):
    run = tmp_path / "run"
    refused_while_held(capsys, ["train", tiny_olat, run, *TRAIN], run, inputs=[tiny_olat])


def test_train_while_another_resumes_the_same_run(capsys, tiny_olat, tiny_run, tmp_path):
    run = copy(tiny_run, tmp_path / "run")
    refused_while_held(capsys, ["train", tiny_olat, run, *TRAIN], run, inputs=[tiny_olat])


def test_evaluate_while_another_writes_the_same_report(capsys, tiny_run, tiny_olat, tmp_path):
    out = tmp_path / "e.json"
    refused_while_held(capsys, ["evaluate", tiny_run, tiny_olat, "--out", out], out, inputs=[tiny_run, tiny_olat])


def test_inspect_while_another_writes_the_same_sheet(capsys, tiny_olat, tmp_path):
    sheet = tmp_path / "s.png"
    refused_while_held(capsys, ["inspect", tiny_olat, "--sheet", sheet], sheet, inputs=[tiny_olat])


def test_demo_while_another_writes_the_same_folder(capsys, tmp_path):
    out = tmp_path / "demo"
    refused_while_held(capsys, ["demo", out, "--preset", "tiny"], out)


def test_a_lock_left_by_a_killed_process_is_taken_over(capsys, tiny_olat, tmp_path):
    sheet = tmp_path / "s.png"
    lock = lock_path(sheet)
    lock.write_text("999999999 inspect")  # no such process
    assert main(["inspect", str(tiny_olat), "--sheet", str(sheet)]) == 0
    assert sheet.is_file() and not lock.exists()


# 4. sidecars follow their main output -------------------------------------------------------------


def test_relight_keeps_an_existing_strip(capsys, tiny_olat, tmp_path):
    strip = tmp_path / "clip.strip.png"
    strip.write_bytes(b"\x89PNG\r\n\x1a\nmine")
    refused(capsys, ["relight", tiny_olat, tmp_path / "clip.mp4"], inputs=[tiny_olat, strip],
            outputs=[tmp_path / "clip.mp4"], match="clip.strip.png already exists")


def test_relight_overwrite_of_a_strip_that_is_not_a_png(capsys, tiny_olat, tmp_path):
    strip = tmp_path / "clip.strip.png"
    strip.write_text("my notes")
    refused(capsys, ["relight", tiny_olat, tmp_path / "clip.mp4", "--overwrite"], inputs=[tiny_olat, strip],
            outputs=[tmp_path / "clip.mp4"], match="strip.png is not a nervp output")


def test_evaluate_keeps_an_existing_strip(capsys, tiny_run, tiny_olat, tmp_path):
    strip = tmp_path / "e.png"
    strip.write_bytes(b"\x89PNG\r\n\x1a\nmine")
    refused(capsys, ["evaluate", tiny_run, tiny_olat, "--out", tmp_path / "e.json"],
            inputs=[tiny_run, tiny_olat, strip], outputs=[tmp_path / "e.json"], match="e.png already exists")


def test_inspect_keeps_an_existing_sheet(capsys, tiny_olat, tmp_path):
    ds = copy(tiny_olat, tmp_path / "d.olat")
    sheet = tmp_path / "d.olat.contact.png"
    sheet.write_bytes(b"\x89PNG\r\n\x1a\nmine")
    refused(capsys, ["inspect", ds], inputs=[ds, sheet], match="contact.png already exists")


# 5. the demo never deletes what the user put in its folder ----------------------------------------


def test_demo_onto_a_file(capsys, tmp_path):
    out = tmp_path / "demo"
    out.write_text("keep")
    refused(capsys, ["demo", out, "--preset", "tiny"], inputs=[out], match="it is a file")


def test_demo_into_a_folder_of_other_files(capsys, tmp_path):
    out = folder(tmp_path / "demo")
    refused(capsys, ["demo", out, "--preset", "tiny"], inputs=[out], match="not an earlier demo's output")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_demo_into_a_read_only_folder(capsys, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        refused(capsys, ["demo", ro / "demo", "--preset", "tiny"], outputs=[ro], match="not writable")
    finally:
        ro.chmod(0o755)


def test_demo_rerun_keeps_the_users_files_and_moves_another_run_aside(tmp_path):
    import dataclasses

    from nervp.demo import MARK, _mark, check_demo_output
    from nervp.presets import DEMO_PRESETS

    out = tmp_path / "demo"
    (out / "run").mkdir(parents=True)
    (out / MARK).write_text("{}")  # an earlier demo, other settings
    (out / "run" / "notes.txt").write_text("mine")
    (out / "mine.txt").write_text("mine too")
    check_demo_output(out)  # its own earlier output: allowed
    d = DEMO_PRESETS["tiny"]
    _mark(out, d)
    assert (out / "superseded" / "run_1" / "notes.txt").read_text() == "mine"
    assert (out / "mine.txt").read_text() == "mine too" and not (out / "run").exists()
    (out / "run").mkdir()
    (out / "run" / "log.jsonl").write_text("")
    _mark(out, d)  # same settings: the run is resumed where it is
    assert (out / "run" / "log.jsonl").exists()
    _mark(out, dataclasses.replace(d, source_seed=7))
    assert (out / "superseded" / "run_2" / "log.jsonl").exists()


# 6. a finished run is kept as it is ----------------------------------------------------------------


def test_train_rerun_on_a_finished_run_keeps_its_final_metrics(capsys, tiny_olat, tiny_run, tmp_path):
    run = copy(tiny_run, tmp_path / "run")
    before = snapshot(run)
    final = json.loads((run / "final.json").read_text())
    assert main(["train", str(tiny_olat), str(run), *TRAIN]) == 0
    assert "already finished" in capsys.readouterr().err
    assert snapshot(run) == before and json.loads((run / "final.json").read_text()) == final
    assert not leftovers(run)
