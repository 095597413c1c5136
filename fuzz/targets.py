"""The fuzz targets: one reader each, fed one mutated file per execution.

A target's `prepare(work)` builds its seed inputs in the scratch folder `work` and returns the
file every execution rewrites and the seed files' bytes; `check(path)` reads that file (or the
folder it is in) through the project's reader. Raising `nervp.errors.NervpError` (or a
subclass) is the reader refusing bad input, as it should; any other exception is a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import seeds


@dataclass(frozen=True)
class Target:
    """One reader under test.

    Attributes:
        name: the command-line name (`python fuzz/run.py NAME`).
        prepare: work folder -> (the file each execution rewrites, seed inputs as bytes).
        check: the file's path -> None; reads it through the project's reader.
        json: whether inputs are JSON (the mutator then also edits their structure).
    """

    name: str
    prepare: Callable[[Path], tuple[Path, list[bytes]]]
    check: Callable[[Path], None]
    json: bool = False


def _read_dataset(ds: Path) -> None:
    from nervp.store import zstore

    manifest, group = zstore.open_dataset(ds, seeds.KIND)
    for name in manifest["arrays"]:
        zstore.read_chunk(group[name], ..., ds, name)


def _in_dataset(rel: str) -> Callable[[Path], tuple[Path, list[bytes]]]:
    def prepare(work: Path) -> tuple[Path, list[bytes]]:
        f = seeds.dataset(work) / rel
        return f, [f.read_bytes()]
    return prepare


def _manifest(path: Path) -> None:
    from nervp.store.zstore import read_manifest

    read_manifest(path.parent, seeds.KIND)
    _read_dataset(path.parent)


def _prepare_run(work: Path) -> tuple[Path, list[bytes]]:
    f = seeds.run(work) / "config.json"
    return f, [f.read_bytes()]


def _run_config(path: Path) -> None:
    import json

    from nervp.train.run import RunInfo, load_run

    try:
        d = json.loads(path.read_bytes())
    except ValueError:
        d = None
    if isinstance(d, dict):
        RunInfo.from_json(d, path)
    load_run(path.parent, device="cpu")


def _single(build: Callable[[Path], Path]) -> Callable[[Path], tuple[Path, list[bytes]]]:
    def prepare(work: Path) -> tuple[Path, list[bytes]]:
        f = build(work)
        return f, [f.read_bytes()]
    return prepare


def _several(build: Callable[[Path], list[Path]]) -> Callable[[Path], tuple[Path, list[bytes]]]:
    def prepare(work: Path) -> tuple[Path, list[bytes]]:
        files = build(work)
        return files[0], [f.read_bytes() for f in files]
    return prepare


def _hdr(path: Path) -> None:
    from nervp.imaging.hdrio import read_exr, read_hdr
    from nervp.relight.envmap import load_envmap

    (read_hdr if path.suffix == ".hdr" else read_exr)(path)
    load_envmap(path)


def _lighting(path: Path) -> None:
    from nervp.relight.lighting import parse_lighting

    parse_lighting(str(path))


def _video(path: Path) -> None:
    from nervp.viz.video import read_video

    read_video(path)


def _dome(path: Path) -> None:
    from nervp.lightstage.dome import load_dome_file

    load_dome_file(path)


def _schedule(path: Path) -> None:
    from nervp.capture.sync import read_schedule

    # odd sizes read without a given fps (times or the file's own fps must say), even ones with it
    read_schedule(path, seeds.SCHEDULE_LEDS, fps=None if path.stat().st_size % 2 else 1000.0)


def _timestamps(path: Path) -> None:
    from nervp.capture.sync import read_timestamps

    read_timestamps(path, seeds.TIMESTAMP_NAMES, len(seeds.TIMESTAMP_NAMES))


def _photo(path: Path) -> None:
    from nervp.estimate.photo import load_plate

    load_plate(path)


def _estimator(path: Path) -> None:
    from nervp.estimate.model import load_net

    load_net(path)


TARGETS: dict[str, Target] = {t.name: t for t in [
    Target("manifest", _in_dataset("manifest.json"), _manifest, json=True),
    Target("zarr_array", _in_dataset("images/zarr.json"), lambda p: _read_dataset(p.parents[1]), json=True),
    Target("zarr_group", _in_dataset("zarr.json"), lambda p: _read_dataset(p.parent), json=True),
    Target("run_config", _prepare_run, _run_config, json=True),
    Target("hdr", _single(seeds.hdr), _hdr),
    Target("exr", _single(seeds.exr), _hdr),
    Target("weights_json", _several(seeds.weights_json), _lighting, json=True),
    Target("weights_npy", _several(seeds.weights_npy), _lighting),
    Target("video", _single(seeds.video), _video),
    Target("dome_json", _several(seeds.dome_json), _dome, json=True),
    Target("dome_csv", _several(seeds.dome_csv), _dome),
    Target("schedule_json", _several(seeds.schedule_json), _schedule, json=True),
    Target("schedule_csv", _several(seeds.schedule_csv), _schedule),
    Target("timestamps", _several(seeds.timestamps), _timestamps),
    Target("photo_png", _single(seeds.photo_png), _photo),
    Target("photo_jpeg", _single(seeds.photo_jpeg), _photo),
    Target("estimator", _single(seeds.estimator), _estimator),
]}
