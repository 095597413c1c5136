"""The path a lab follows, end to end on the virtual light stage (docs/CAPTURE.md, "From a
camera's files"):

1. a dome file: the stage's measured LED positions (here a jittered Fibonacci sphere of
   `--lights` LEDs, 1.2 m radius, written as CSV);
2. `nervp simulate --raw --dome.file` records a stream on that stage;
3. the stream is written out as a real camera and controller would: a folder of 16-bit TIFFs
   (DN * 257), the controller's schedule CSV (led,time,gain per slot) and the camera's
   timestamps CSV (file,time per delivered frame), with two frames dropped;
4. `nervp ingest` reads the folder back, finds the two dropped frames and keeps the complete sets;
5. `nervp capture` aligns them into an OLAT dataset, and `--evaluate` scores it against the truth
   (from the simulated stream, which the camera files do not carry).

    python scripts/ingest_example.py WORKDIR [--lights 24] [--size 48] [--sets 4]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np


def nervp(*args: object) -> None:
    cmd = [sys.executable, "-m", "nervp.cli", *map(str, args)]
    print("$ nervp " + " ".join(map(str, args)), flush=True)
    subprocess.run(cmd, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", type=Path, help="working folder (replaced)")
    ap.add_argument("--lights", type=int, default=24, help="LEDs on the dome")
    ap.add_argument("--size", type=int, default=48, help="image side in pixels")
    ap.add_argument("--sets", type=int, default=4, help="OLAT sets to record")
    ap.add_argument("--tracking-every", type=int, default=6, help="a tracking frame every this many images")
    a = ap.parse_args()

    from nervp.lightstage import fibonacci_directions
    from nervp.store.raw import load_raw
    from nervp.synth.camera_files import write_camera_files

    work = a.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # 1. the dome file
    rng = np.random.default_rng(0)
    pos = fibonacci_directions(a.lights) * 1.2 + rng.uniform(-0.01, 0.01, (a.lights, 3))
    dome = work / "dome.csv"
    dome.write_text("x,y,z\n" + "\n".join(",".join(f"{v:.6f}" for v in p) for p in pos) + "\n")
    # 2. a recording on that stage
    nervp("simulate", work / "stream.raw", "--raw", "--preset", "tiny", "--dome.file", dome, "--size", a.size,
          "--frames", a.sets, "--schedule.tracking-every", a.tracking_every, "--schedule.set-stride", 1)
    raw = load_raw(work / "stream.raw")
    # 3. as a camera writes it, two frames lost: an OLAT image only the first set uses and the
    #    tracking frame that aligns the last set's final images (the sets between survive)
    pattern = raw.small("pattern")
    drop = [int(np.nonzero(pattern >= 0)[0][0]), int(np.nonzero(pattern < 0)[0][-1])]
    cam = write_camera_files(raw, work / "camera", fmt="tiff", bits=16, drop=drop)
    print(f"wrote {raw.n_images - len(drop)} 16-bit TIFFs to {cam.frames} (dropped images {drop}), "
          f"{cam.schedule.name}, {cam.timestamps.name}")
    # 4. ingest
    nervp("ingest", cam.frames, work / "ingested.raw", "--schedule", cam.schedule, "--timestamps", cam.timestamps,
          "--dome", dome, "--black-level", cam.black_level, "--white-level", cam.white_level)
    got = load_raw(work / "ingested.raw")
    found = got.manifest["ingest"]["dropped_slots"]
    assert found == sorted(drop), f"ingest found {found}, dropped {sorted(drop)}"
    # 5. capture the complete sets; score them against the simulated truth of the same instants
    nervp("capture", work / "ingested.raw", work / "sets.olat", "--workers", 1)
    nervp("capture", work / "stream.raw", work / "all_sets.olat", "--workers", 1, "--evaluate")
    from nervp.store.olat import load_olat

    part, full = load_olat(work / "sets.olat"), load_olat(work / "all_sets.olat")
    rows = np.searchsorted(full.group["time"][:], part.group["time"][:])
    same = bool(np.array_equal(part.group["olat"][:], full.group["olat"][:][rows]))
    summary = {"lights": a.lights, "images": raw.n_images, "dropped": sorted(drop), "found": found,
               "sets_recorded": int(full.n_frames), "sets_complete": int(part.n_frames),
               "complete_sets_identical_to_undamaged_capture": same}
    print(json.dumps(summary))
    assert same


if __name__ == "__main__":
    main()
