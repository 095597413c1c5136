"""A 156-LED stage end to end on tiny data: every stage that takes a dome, with that dome.

Method. The dome: a Fibonacci sphere of 156 LEDs at 1.2 m, each jittered by up to 1 cm and
given its own colour (+-5 %), written as a CSV dome file (no solid angles: computed). Two
paths, both through the `nervp` CLI:

* Capture path: `nervp simulate --raw --dome.file` (tiny preset, 32x32, 3 sets, a tracking frame
  every 40th image so the 156-light all-on renders stay few) -> the stream written as a camera
  would (16-bit TIFFs, controller and timestamp CSVs, `nervp.synth.camera_files`) -> `nervp
  ingest --dome` -> `nervp capture`; PSNR of the captured OLAT sets against the simulated truth
  at each set's instant (`nervp.capture.evaluate.truth_report`: face / performer / image), and
  whether the ingested stream equals the simulated one bit for bit.
* Training path: `nervp simulate --dome.file` (tiny, 32x32, 8 frames) -> `nervp train --preset
  tiny` (the reflectance head sized by the dataset: 156 OLAT outputs) -> `nervp evaluate` with
  an HDR map (the first of ../shared/data/envmaps when present) and the procedural sky: PSNR of
  the relit held-out frames against the same relighting of the truth OLAT images, with the
  156-LED dome's own weights. The captured dataset is not trained on: it carries no face
  parameters, and 32x32 frames are too small to track a face in.

No ratios: nothing here has a baseline to divide by; the numbers are PSNR against the truth.

Run:  python benchmarks/bench_dome156.py [--keep WORKDIR]
Writes benchmarks/results/dome156.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import write_results

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "envmaps"


def nervp(*args: object, makes: Path | None = None) -> float | None:
    """Run `nervp ARGS`; with `makes` (its output) already there (a --keep folder), skip it."""
    if makes is not None and makes.exists():
        print(f"(kept {makes})", flush=True)
        return None
    t = time.perf_counter()
    print("$ nervp " + " ".join(map(str, args)), flush=True)
    subprocess.run([sys.executable, "-m", "nervp.cli", *map(str, args)], check=True)
    return round(time.perf_counter() - t, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: a temporary one)")
    a = ap.parse_args()
    from nervp.capture.evaluate import truth_report
    from nervp.lightstage import fibonacci_directions
    from nervp.store.olat import load_olat
    from nervp.store.raw import load_raw
    from nervp.synth.camera_files import write_camera_files

    work = a.keep or Path(tempfile.mkdtemp(prefix="dome156_"))
    work.mkdir(parents=True, exist_ok=True)  # a --keep folder's finished steps are reused
    times: dict[str, float | None] = {}
    try:
        rng = np.random.default_rng(156)
        pos = fibonacci_directions(156) * 1.2 + rng.uniform(-0.01, 0.01, (156, 3))
        rgb = 1.0 + rng.uniform(-0.05, 0.05, (156, 3))
        dome = work / "dome156.csv"
        dome.write_text("x,y,z,r,g,b\n" + "\n".join(",".join(f"{v:.6f}" for v in (*p, *c))
                                                    for p, c in zip(pos, rgb, strict=True)) + "\n")
        # capture path
        times["simulate_raw"] = nervp("simulate", work / "s.raw", "--raw", "--preset", "tiny", "--dome.file", dome,
                                      "--size", 32, "--frames", 3, "--schedule.tracking-every", 40, makes=work / "s.raw")
        raw = load_raw(work / "s.raw")
        cam = write_camera_files(raw, work / "camera") if not (work / "in.raw").exists() else None
        if cam is None:
            from nervp.synth.camera_files import CameraFiles

            c = work / "camera"
            cam = CameraFiles(c / "frames", c / "schedule.csv", c / "timestamps.csv", c / "dome.json", 0, 0, (), ())
        times["ingest"] = nervp("ingest", cam.frames, work / "in.raw", "--schedule", cam.schedule, "--timestamps",
                                cam.timestamps, "--dome", dome, "--black-level", cam.black_level,
                                "--white-level", cam.white_level, makes=work / "in.raw")
        got = load_raw(work / "in.raw")
        identical = all(np.array_equal(got.small(k), raw.small(k)) for k in ("pattern", "time", "gain")) and all(
            np.array_equal(got.image(i), raw.image(i)) for i in range(raw.n_images))
        times["capture"] = nervp("capture", work / "in.raw", work / "c.olat", "--workers", 1, makes=work / "c.olat")
        rep = truth_report(load_olat(work / "c.olat"), raw)
        capture_psnr = {k: rep[k] for k in ("aligned", "naive", "sensor_floor", "demosaic_floor") if k in rep}
        # training path
        times["simulate_olat"] = nervp("simulate", work / "t.olat", "--preset", "tiny", "--dome.file", dome,
                                       "--size", 32, "--frames", 8, makes=work / "t.olat")
        times["train"] = nervp("train", work / "t.olat", work / "run", "--preset", "tiny")
        lights = [str(p) for p in sorted(SHARED.glob("*.hdr"))[:1]] + ["sky"]
        times["evaluate"] = nervp("evaluate", work / "run", work / "t.olat", "--light", *lights)
        ev = json.loads((work / "run" / "eval.json").read_text())
        n_out = json.loads((work / "run" / "config.json").read_text())["train"]["model"]["n_lights"]
    finally:
        if a.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    results = {"lights": 156, "ingested_stream_identical": bool(identical), "capture_vs_truth_psnr": capture_psnr,
               "model_n_lights": n_out, "evaluate": ev, "wall_s": times}
    write_results("dome156", method=__doc__.split("Run:")[0].strip(), results=results, ratios={},
                  machine_extra={"loadavg": list(os.getloadavg())})
    print(json.dumps({"identical": identical, "model_n_lights": n_out}, indent=1))


if __name__ == "__main__":
    main()
