"""The page as static files: index.html, its scripts, scene.json and binary textures.

Layout of an export directory (docs/VIEW.md):

    index.html view.css view.js gl.js lighting.js hdr.js   the page (copied from static/)
    scene.json          sizes, LED data, triangles, looks, environment list (`scene_description`)
    scene.js            the same object as a script (`window.NERVP_SCENE = ...`)
    frames/NNNN.bin     per frame: basis (K, H, W, 3) then alpha (H, W), little-endian float16
    env/NAME.bin        each named environment: (H, 2H, 3) little-endian float32 linear radiance

With `standalone`, each .bin is written instead as a script NAME.js holding the same bytes in
base64 (`nervpData("frames/0000.bin", "...")`, a third larger), because browsers let a page
opened from disk (file://) load scripts but not read data files.

The directory is built under a temporary sibling name and renamed into place at the end, so
an interrupted or failed export leaves nothing at the destination.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from nervp.errors import check_stop
from nervp.store.outputs import Output, check_output
from nervp.view.app import ViewScene, environments, scene_description

STATIC = Path(__file__).resolve().parent / "static"
PAGE_FILES = ("index.html", "view.css", "view.js", "gl.js", "lighting.js", "hdr.js")


def frame_bytes(scene: ViewScene, t: int) -> bytes:
    """Frame t's texture data as the page reads it (module docstring)."""
    basis, alpha = scene.frame(t)
    parts = [np.ascontiguousarray(basis, dtype="<f2").tobytes()]
    if alpha is not None:
        parts.append(np.ascontiguousarray(alpha, dtype="<f2").tobytes())
    return b"".join(parts)


def check_destination(out: Path, overwrite: bool, inputs: list[Path] | None = None) -> None:
    """The store's output rules (`nervp.store.outputs.check_output`) for an export directory:
    not an input, a writable parent, an existing one replaced only with `overwrite` and only
    when it is an exported page."""
    check_output(Output(out, "view"), overwrite, inputs or [])


def _write_data(root: Path, rel: str, data: bytes, standalone: bool) -> None:
    if standalone:
        b64 = base64.b64encode(data).decode("ascii")
        (root / rel).with_suffix(".js").write_text(f'nervpData("{rel}", "{b64}");\n')
    else:
        (root / rel).write_bytes(data)


def export_page(scene: ViewScene, out: Path | str, overwrite: bool = False,
                on_frame: Callable[[int], None] | None = None, standalone: bool = False) -> Path:
    """Write the page for `scene` at directory `out` (atomic: all or nothing); returns `out`.
    `standalone`: data as scripts, so the page also opens from disk (module docstring)."""
    out = Path(out).absolute()
    check_destination(out, overwrite)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        (tmp / "frames").mkdir(parents=True)
        (tmp / "env").mkdir()
        for name in PAGE_FILES:
            shutil.copyfile(STATIC / name, tmp / name)
        env_files = {}
        for name, env in environments().items():
            rel = f"env/{name}.bin"
            _write_data(tmp, rel, np.ascontiguousarray(env.radiance, dtype="<f4").tobytes(), standalone)
            env_files[name] = (rel, env.height)
        frame_files = []
        for t in range(scene.n_frames):
            check_stop()
            rel = f"frames/{t:04d}.bin"
            _write_data(tmp, rel, frame_bytes(scene, t), standalone)
            frame_files.append(rel)
            if on_frame is not None:
                on_frame(t)
        desc = {**scene_description(scene, frame_files, env_files), "encoding": "js" if standalone else "bin"}
        text = json.dumps(desc, separators=(",", ":"))
        (tmp / "scene.json").write_text(text)
        (tmp / "scene.js").write_text(f"window.NERVP_SCENE = {text};\n")
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def export_size(path: Path | str) -> int:
    """Bytes of every file under an export directory."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
