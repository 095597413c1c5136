"""`nervp view`: a web page that relights a reflectance field in WebGL (docs/VIEW.md).

`open_scene` reduces a low-rank field or an OLAT dataset to K basis images per frame and the
lighting data the page needs; `export_page` writes the page as static files; `serve` shows it
on a local address.
"""

from nervp.view.app import ViewScene, open_scene, scene_description
from nervp.view.export import export_page
from nervp.view.server import serve

__all__ = ["ViewScene", "open_scene", "scene_description", "export_page", "serve"]
