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
        from nervp.progress import console, progress_bar
        from nervp.view.app import open_scene
        from nervp.view.export import check_destination, export_page, export_size
        from nervp.view.server import bind, port_free, serve

        if self.export is not None:
            check_destination(self.export.absolute(), self.overwrite)
        else:
            port_free(self.port)
        scene = open_scene(self.source, self.rank)

        def write(out: Path, overwrite: bool) -> Path:
            with progress_bar("frames") as bar:
                task = bar.add_task("export", total=scene.n_frames)
                return export_page(scene, out, overwrite, on_frame=lambda t: bar.update(task, completed=t + 1),
                                   standalone=self.standalone)

        if self.export is not None:
            out = write(self.export, self.overwrite)
            console.print(f"wrote {out} ({scene.n_frames} frames, rank {scene.rank}, "
                          f"{scene.width}x{scene.height}, {export_size(out) / 1e6:.1f} MB); "
                          + (f"open {out / 'index.html'}" if self.standalone else
                             f"serve it with any static host, e.g. `python -m http.server -d {out}`"))
            return
        server = bind(self.port)
        try:
            with tempfile.TemporaryDirectory(prefix="nervp-view-") as tmp:
                page = write(Path(tmp) / "page", False)
                from nervp.errors import cooperative

                with cooperative():
                    serve(page, server, ready=lambda url: console.print(
                        f"nervp view: {url}  (Ctrl-C to stop)", highlight=False))
        finally:
            server.server_close()
