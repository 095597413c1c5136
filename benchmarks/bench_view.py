"""`nervp view`: the relighting shader's speed in the page and the size of an export.

    python benchmarks/bench_view.py [--seconds 4] [--size-frames 100] [--screenshot]

* Shader speed: a rank-16, 512² field in the exported page, in Debian's headless Chromium
  (WebGL2 on whatever renderer it gets: here SwiftShader, a CPU rasteriser; the renderer string
  is recorded). For `--seconds`, every requestAnimationFrame callback draws the frame N times
  (the K-term sum, alpha, background, tone curve) and reads one pixel back, which waits for
  the GPU; draws per second = the shader's frame rate. N = 1 is what playback does; N = 8
  shows the rate without the display's pacing. Baseline in the same run: `nervp.relight.relight`
  on the CPU (the compiled float16 kernel, all cores) on the same field, frames per second.
* Export size: `nervp view --export` of 100-frame rank-16 fields at 256² and 512² (written for
  real, then removed), against the bytes of the raw float16 basis + alpha.
* `--screenshot`: docs/images/view.png, the page at 640 px with a 160² field.

The fields are the 32² virtual performer (one captured frame and its shifted copies)
upsampled by whole pixels, with the camera scaled to match: real shape and alpha, any size.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def capture(root: Path, size: int) -> tuple[dict, object, object]:
    """One frame of the tiny virtual performer at `size`²: (manifest, frame, dome)."""
    from nervp.presets import sim_preset
    from nervp.synth.simulate import make_stage, stage_manifest

    cfg = sim_preset("tiny", size=size, frames=1)
    stage = make_stage(cfg)
    return {**stage_manifest(stage), "exposure": cfg.exposure}, stage.capture(0.0), stage.dome


def make_field(out: Path, man: dict, frame, dome, scale: int, n_frames: int, rank: int = 16) -> Path:
    """A rank-`rank` field: the frame's OLAT images projected on their top components,
    upsampled `scale`x by whole pixels, repeated over `n_frames` frames shifted 1 pixel each."""
    from nervp.relight import fit_low_rank
    from nervp.store.zstore import array_list, atomic_dataset, frame_array, small_array

    f = fit_low_rank(torch.from_numpy(frame.olat[None]), rank)
    basis = f.images[0].numpy()
    basis = basis.repeat(scale, 1).repeat(scale, 2)
    alpha = frame.alpha.repeat(scale, 0).repeat(scale, 1).astype(np.float16)
    H, W = alpha.shape
    K = np.asarray(man["camera"]["K"], dtype=np.float64)
    K[:2] *= scale
    m = {**man, "height": H, "width": W, "camera": {**man["camera"], "K": K.tolist()}, "kind": "field",
         "n_frames": n_frames, "n_lights": dome.n_lights, "rank": rank, "dome": dome.to_json(),
         "fitted_from": "benchmarks/bench_view.py"}
    with atomic_dataset(out, m, overwrite=True) as g:
        b = frame_array(g, "basis", (n_frames, rank, H, W, 3), "float16", "basis")
        a = frame_array(g, "alpha", (n_frames, H, W), "float16", "alpha")
        for t in range(n_frames):
            b[t] = np.roll(basis, t, axis=2)
            a[t] = np.roll(alpha, t, axis=1)
        small_array(g, "coeffs", f.coeffs.numpy(), "coeffs")
        small_array(g, "time", np.arange(n_frames) / float(man["fps"]), "time")
        m["arrays"] = array_list(g)
    return out


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def browser(width: int = 1000, height: int = 700):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--enable-unsafe-swiftshader",
              "--use-angle=swiftshader", f"--window-size={width},{height}", "--hide-scrollbars"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def open_page(driver, page: Path, hash_: str):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(page)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    driver.get(f"http://127.0.0.1:{srv.server_address[1]}/index.html#{hash_}")
    t0 = time.monotonic()
    while not driver.execute_script("return !!(window.nervpView && (nervpView.loaded || nervpView.failed))"):
        if time.monotonic() - t0 > 120:
            raise RuntimeError("the page did not load")
        time.sleep(0.1)
    if driver.execute_script("return nervpView.failed || nervpView.error"):
        raise RuntimeError(driver.execute_script("return document.getElementById('message').textContent"))
    return srv


def shader_speed(tmp: Path, man, frame, dome, seconds: float) -> dict:
    from nervp.relight import relight
    from nervp.store.field import open_source
    from nervp.view import export_page, open_scene

    field = make_field(tmp / "f512.field", man, frame, dome, 16, 2)
    page = export_page(open_scene(field), tmp / "p512")
    d = browser()
    try:
        srv = open_page(d, page, "look=rembrandt&rot=30&exposure=0&auto=1&bg=env&play=0&frame=0")
        renderer = d.execute_script("return nervpView.renderer.renderer()")
        runs = {}
        for bg, per_tick in (("env", 1), ("env", 8), ("black", 1), ("black", 8)):
            d.execute_script("nervpView.setState({bg: arguments[0]})", bg)
            d.execute_script("window.__b = null; nervpView.benchmark(arguments[0], arguments[1]).then(r => window.__b = r)",
                             seconds * 1000, per_tick)
            while not d.execute_script("return window.__b"):
                time.sleep(0.1)
            runs[f"bg_{bg}_draws_per_tick_{per_tick}"] = d.execute_script("return window.__b")
        srv.shutdown()
    finally:
        d.quit()
    src = open_source(field)
    f = src.read([0, 1])
    w = np.random.default_rng(0).uniform(0, 1, (dome.n_lights, 3)).astype(np.float32)
    out = torch.empty(2, 512, 512, 3)
    relight(f, w, out=out)
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        relight(f, w, out=out)
        n += 2
    cpu_fps = n / (time.perf_counter() - t0)
    best = runs["bg_env_draws_per_tick_1"]["draws_per_s"]
    return {"renderer": renderer, "size": 512, "rank": 16, **runs, "cpu_relight_fps": cpu_fps,
            "shader_fps": best, "ratio": best / cpu_fps}


def export_sizes(tmp: Path, man, frame, dome, n_frames: int) -> dict:
    from nervp.view import export_page, open_scene
    from nervp.view.export import export_size

    out = {}
    for size in (256, 512):
        field = make_field(tmp / f"s{size}.field", man, frame, dome, size // 32, n_frames)
        t0 = time.perf_counter()
        page = export_page(open_scene(field), tmp / f"s{size}")
        secs = time.perf_counter() - t0
        total = export_size(page)
        raw = n_frames * (16 * size * size * 3 + size * size) * 2
        out[f"{size}"] = {"frames": n_frames, "rank": 16, "export_mb": total / 1e6, "basis_alpha_mb": raw / 1e6,
                          "per_frame_mb": (export_size(page / "frames")) / n_frames / 1e6,
                          "fixed_mb": (total - export_size(page / "frames")) / 1e6, "export_seconds": secs}
        shutil.rmtree(page)
        shutil.rmtree(field)
    return out


def screenshot(tmp: Path, path: Path) -> None:
    from nervp.view import export_page, open_scene

    man, frame, dome = capture(tmp, 160)
    field = make_field(tmp / "shot.field", man, frame, dome, 1, 1)
    page = export_page(open_scene(field), tmp / "shot")
    d = browser(1040, 960)
    try:
        srv = open_page(d, page, "look=sunset&rot=-40&exposure=0&auto=1&bg=env&play=0&frame=0")
        time.sleep(0.5)
        d.save_screenshot(str(path))
        srv.shutdown()
    finally:
        d.quit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--size-frames", type=int, default=100)
    ap.add_argument("--screenshot", action="store_true")
    ap.add_argument("--sections", nargs="+", choices=("shader", "export"), default=["shader", "export"],
                    help="what to measure; a section not run keeps its figures from the last results/view.json")
    args = ap.parse_args()
    last = {}
    if (RESULTS / "view.json").is_file():
        last = json.loads((RESULTS / "view.json").read_text())["results"]
    with tempfile.TemporaryDirectory(prefix="bench_view_") as t:
        tmp = Path(t)
        if args.screenshot:
            screenshot(tmp, ROOT / "docs" / "images" / "view.png")
            print("wrote docs/images/view.png")
            return
        man, frame, dome = capture(tmp, 32)
        speed = shader_speed(tmp, man, frame, dome, args.seconds) if "shader" in args.sections else last["shader"]
        print("shader", speed)
        sizes = (export_sizes(tmp, man, frame, dome, args.size_frames) if "export" in args.sections
                 else last["export"])
        print("sizes", sizes)
    write_results(
        "view",
        method=(f"Shader: rank-16 512x512 field (the 32^2 virtual performer upsampled) in the exported page in "
                f"headless Chromium ({speed['renderer']}); for {args.seconds} s each requestAnimationFrame "
                "callback draws the frame N times (N = 1, 8) and reads 1 pixel back (waits for the GPU); "
                "draws/s = shader fps; rembrandt look, metered exposure, environment background. Baseline "
                "in the same run: nervp.relight.relight on the CPU (compiled float16 kernel) on the same "
                f"field, frames/s over {args.seconds} s. Export: nervp view --export of 100-frame "
                "rank-16 fields at 256^2 and 512^2, written and measured on disk. Sections measured in this "
                f"run: {', '.join(args.sections)} (the others are copied from the previous view.json)."),
        results={"shader": speed, "export": sizes},
        ratios={"shader_fps_over_cpu_relight_fps": speed["ratio"],
                **{f"export_over_basis_alpha_{k}": v["export_mb"] / v["basis_alpha_mb"] for k, v in sizes.items()}},
        machine_extra={"load_average": list(os.getloadavg()), "chromium": "/usr/bin/chromium",
                       "selenium": __import__("selenium").__version__},
    )


if __name__ == "__main__":
    main()
