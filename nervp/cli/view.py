"""`nervp view`: relight a field interactively in the browser (docs/VIEW.md)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro


@dataclass
class View:
    """Show a low-rank field (or an OLAT dataset, reduced to --rank basis images) on a local web
    page that relights it in WebGL: turn the environment, pick a look, drop an HDR map, swap the
    background, export a still. --export writes the page as static files instead."""

    source: tyro.conf.Positional[Annotated[Path, tyro.conf.arg(metavar="FIELD_OR_DATASET")]]
    """Low-rank field or OLAT dataset directory."""
    port: int = 8020
    """Port on 127.0.0.1 to serve the page on (0: any free port)."""
    export: Path | None = None
    """Write the page as static files into this directory (opens from any static host) and exit."""
    rank: int = 16
    """Basis images per frame when SOURCE is an OLAT dataset (a field keeps its own)."""
    standalone: bool = False
    """With --export: data files as scripts (a third larger) so the page also opens from disk
    (file://), where browsers refuse to read data files."""
    overwrite: bool = False
    """Replace an existing --export directory."""

    def run(self) -> None:
        from nervp.store.outputs import Output, claim
        from nervp.view.server import port_free

        if self.export is None:
            port_free(self.port)  # before any work
            self._serve()
            return
        with claim([Output(self.export, "view")], self.overwrite, [self.source], "view"):
            self._export()

    def _write(self, scene, out: Path, overwrite: bool) -> Path:
        from nervp.progress import progress_bar
        from nervp.view.export import export_page

        with progress_bar("frames") as bar:
            task = bar.add_task("export", total=scene.n_frames)
            return export_page(scene, out, overwrite, on_frame=lambda t: bar.update(task, completed=t + 1),
                               standalone=self.standalone)

    def _export(self) -> None:
        from nervp.progress import console
        from nervp.view.app import open_scene
        from nervp.view.export import export_size

        scene = open_scene(self.source, self.rank)
        out = self._write(scene, self.export, self.overwrite)
        console.print(f"wrote {out} ({scene.n_frames} frames, rank {scene.rank}, "
                      f"{scene.width}x{scene.height}, {export_size(out) / 1e6:.1f} MB); "
                      + (f"open {out / 'index.html'}" if self.standalone else
                         f"serve it with any static host, e.g. `python -m http.server -d {out}`"))

    def _serve(self) -> None:
        from nervp.errors import cooperative
        from nervp.progress import console
        from nervp.view.app import open_scene
        from nervp.view.server import bind, serve

        scene = open_scene(self.source, self.rank)
        server = bind(self.port)
        try:
            with tempfile.TemporaryDirectory(prefix="nervp-view-") as tmp:
                page = self._write(scene, Path(tmp) / "page", False)
                with cooperative():
                    serve(page, server, ready=lambda url: console.print(
                        f"nervp view: {url}  (Ctrl-C to stop)", highlight=False))
        finally:
            server.server_close()
