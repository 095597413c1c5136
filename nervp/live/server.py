"""The page `nervp live --out http://127.0.0.1:PORT` serves: the live picture as an MJPEG stream
and the session's controls (light, look, background, pose). Bound to the loopback address only;
standard-library HTTP server, one thread per client.

    GET /             the page
    GET /stream.mjpg  multipart/x-mixed-replace JPEG stream of the output
    GET /frame.jpg    the latest picture
    GET /control?light=..&background=..&pose=..   change the scene (JSON status back; 400 + message on bad values)
    GET /status       JSON: light, background, pose, frames published
"""

from __future__ import annotations

import html
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np

from nervp.errors import NervpError

LOOPBACK = ("127.0.0.1", "localhost")


def parse_address(url: str) -> tuple[str, int]:
    """(host, port) of http://127.0.0.1:PORT (or localhost); NervpError otherwise."""
    m = re.fullmatch(r"http://([^:/]+):(\d{1,5})/?", url.strip())
    if not m or m.group(1) not in LOOPBACK or int(m.group(2)) > 65535:
        raise NervpError(f"--out {url}: give http://127.0.0.1:PORT (the page is served on this machine only), "
                         "or a file OUT.mp4")
    return "127.0.0.1", int(m.group(2))


def encode_jpeg(picture: np.ndarray, quality: int = 85) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(picture[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>nervp live</title>
<style>body{{font-family:sans-serif;background:#111;color:#eee;margin:1em}} img{{image-rendering:auto;
width:min(90vw,{w}px);border:1px solid #444}} label{{margin-right:1em}} #msg{{color:#f88}}</style></head>
<body><h3>nervp live</h3>
<img id="live" src="/stream.mjpg" alt="live output">
<p>
<label>light <select id="light">{lights}</select></label>
<label>look <select id="look"><option value="">(none)</option>{looks}</select></label>
<label>background <select id="background">{backgrounds}</select></label>
<label>pose <select id="pose">{poses}</select></label>
</p><p id="msg"></p>
<script>
function send(name, value) {{
  if (!value) return;
  fetch('/control?' + name + '=' + encodeURIComponent(value)).then(r => r.json()).then(j => {{
    document.getElementById('msg').textContent = j.error || '';
  }});
}}
document.getElementById('light').onchange = e => send('light', e.target.value);
document.getElementById('look').onchange = e => send('light', e.target.value);
document.getElementById('background').onchange = e => send('background', e.target.value);
document.getElementById('pose').onchange = e => send('pose', e.target.value);
</script></body></html>
"""


def _options(values: list[str], current: str) -> str:
    return "".join(f'<option value="{html.escape(v)}"{" selected" if v == current else ""}>{html.escape(v)}</option>'
                   for v in values)


class LiveServer:
    """The HTTP side of a session: `attach` the renderer and parser whose scene the controls
    change, `publish` each output picture, `close` at the end."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self._cond = threading.Condition()
        self._jpeg: bytes | None = None
        self._count = 0
        self._closed = False
        self.renderer = None
        self.parser = None
        self.size = 512
        try:
            self.httpd = ThreadingHTTPServer((host, port), self._handler())
        except OSError as e:
            raise NervpError(f"--out http://{host}:{port}: cannot serve there ({e.strerror or e}; the port is "
                             "probably in use): choose another port") from e
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="live-http", daemon=True)
        self._thread.start()

    def attach(self, renderer, parser) -> None:
        self.renderer, self.parser = renderer, parser
        self.size = renderer.width

    def publish(self, picture: np.ndarray) -> None:
        data = encode_jpeg(picture)
        with self._cond:
            self._jpeg = data
            self._count += 1
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()

    # ---- the scene
    def status(self) -> dict:
        r, p = self.renderer, self.parser
        return {"light": r.light if r else None, "background": r.background if r else None,
                "pose": p.pose if p else None, "frames": self._count}

    def control(self, query: dict[str, list[str]]) -> dict:
        from nervp.relight.lighting import lighting_names

        if self.renderer is None:
            raise NervpError("the session is still starting")
        for key, values in query.items():
            v = values[-1]
            if key == "light":
                if v not in lighting_names():
                    raise NervpError(f"light {v!r}: choose one of {', '.join(lighting_names())}")
                self.renderer.set_light(v)
            elif key == "background":
                if v not in ("env", "black", "grey", "white") and not re.fullmatch(r"#[0-9a-fA-F]{6}", v):
                    raise NervpError(f"background {v!r}: choose env, black, grey, white or #RRGGBB")
                self.renderer.set_background(v)
            elif key == "pose":
                if v not in ("tracked", "fixed"):
                    raise NervpError(f"pose {v!r}: choose tracked or fixed")
                self.parser.pose = v
            else:
                raise NervpError(f"unknown control {key!r}: use light, background or pose")
        return self.status()

    def page(self) -> str:
        from nervp.relight.looks import LOOKS
        from nervp.relight.procedural import PROCEDURAL

        st = self.status()
        return PAGE.format(w=max(self.size, 256),
                           lights=_options(["uniform", *PROCEDURAL], st["light"]),
                           looks=_options(list(LOOKS), st["light"]),
                           backgrounds=_options(["env", "black", "grey", "white"], st["background"]),
                           poses=_options(["tracked", "fixed"], st["pose"]))

    def next_jpeg(self, after: int, timeout: float = 1.0) -> tuple[bytes | None, int]:
        with self._cond:
            self._cond.wait_for(lambda: self._closed or (self._jpeg is not None and self._count > after), timeout)
            return self._jpeg, self._count

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet: the session prints its own lines
                pass

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
                url = urlparse(self.path)
                try:
                    if url.path == "/":
                        self._send(200, server.page().encode(), "text/html; charset=utf-8")
                    elif url.path == "/status":
                        self._send(200, json.dumps(server.status()).encode(), "application/json")
                    elif url.path == "/control":
                        try:
                            body = server.control(parse_qs(url.query))
                            self._send(200, json.dumps(body).encode(), "application/json")
                        except NervpError as e:
                            self._send(400, json.dumps({"error": str(e)}).encode(), "application/json")
                    elif url.path == "/frame.jpg":
                        jpeg, _ = server.next_jpeg(-1, timeout=5.0)
                        if jpeg is None:
                            self._send(503, b"no frame yet", "text/plain")
                        else:
                            self._send(200, jpeg, "image/jpeg")
                    elif url.path == "/stream.mjpg":
                        self._stream()
                    else:
                        self._send(404, b"not found", "text/plain")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _stream(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                seen = -1
                while not server._closed:
                    jpeg, seen_now = server.next_jpeg(seen)
                    if jpeg is None or seen_now == seen:
                        continue
                    seen = seen_now
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                                     + f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")

        return Handler


__all__ = ["LiveServer", "encode_jpeg", "parse_address"]
