"""`nervp live --out http://127.0.0.1:PORT`: the page in headless Chromium shows a changing
picture, and its controls change the scene."""

from __future__ import annotations

import io
import shutil
import threading
import time
import urllib.request

import numpy as np
import pytest

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _serve(live_run, clip, **settings):
    from nervp.live.session import LiveSettings, run_live

    ready: list = []
    stop = threading.Event()
    box: dict = {}

    def go():
        try:
            box["report"] = run_live(live_run, str(clip), "http://127.0.0.1:0",
                                     LiveSettings(device="cpu", loop=True, **settings), say=lambda _: None,
                                     server_ready=ready.append, stop=stop)
        except BaseException as e:  # handed to the test
            box["error"] = e
            ready.append(None)

    th = threading.Thread(target=go, daemon=True)
    th.start()
    t0 = time.time()
    while not ready and time.time() - t0 < 60:
        time.sleep(0.05)
    assert ready and ready[0] is not None, box.get("error")
    while ready[0].status()["frames"] < 2 and time.time() - t0 < 60:  # the first frames fit the identity
        time.sleep(0.05)
    return ready[0], stop, th, box


def _jpeg(url: str) -> np.ndarray:
    from PIL import Image

    with urllib.request.urlopen(url, timeout=10) as r:
        return np.asarray(Image.open(io.BytesIO(r.read())).convert("RGB"), np.float32)


def test_controls_change_the_picture(live_run, face_clip):
    """Without a browser: /status, /control (a bad value is refused with the reason) and the
    JPEG after a change of light and background differ from before."""
    import json

    server, stop, th, box = _serve(live_run, face_clip)
    base = f"http://127.0.0.1:{server.port}"
    try:
        before = _jpeg(base + "/frame.jpg")
        with urllib.request.urlopen(base + "/control?light=cyberpunk&background=white", timeout=10) as r:
            st = json.loads(r.read())
        assert st["light"] == "cyberpunk" and st["background"] == "white"
        n = st["frames"]
        while server.status()["frames"] < n + 3:
            time.sleep(0.05)
        after = _jpeg(base + "/frame.jpg")
        assert np.abs(after - before).mean() > 5.0
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(base + "/control?light=nowhere", timeout=10)
        assert e.value.code == 400 and "choose one of" in json.loads(e.value.read())["error"]
    finally:
        stop.set()
        th.join(30)
    assert "error" not in box and box["report"].frames_out > 0


def test_page_in_headless_chromium_shows_a_changing_picture(live_run, face_clip):
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (shutil.which(CHROMIUM) and shutil.which(DRIVER)):
        pytest.skip("Debian chromium and chromium-driver are not installed")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    server, stop, th, box = _serve(live_run, face_clip)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try:
        driver.get(f"http://127.0.0.1:{server.port}/")
        img = driver.find_element(By.ID, "live")

        def shot() -> np.ndarray:
            from PIL import Image

            return np.asarray(Image.open(io.BytesIO(img.screenshot_as_png)).convert("RGB"), np.float32)

        t0 = time.time()
        while driver.execute_script("return arguments[0].naturalWidth", img) == 0 and time.time() - t0 < 20:
            time.sleep(0.1)
        assert driver.execute_script("return arguments[0].naturalWidth", img) == server.size
        first = shot()
        Select(driver.find_element(By.ID, "look")).select_by_value("cyberpunk")
        Select(driver.find_element(By.ID, "background")).select_by_value("white")
        t0 = time.time()
        while server.status()["light"] != "cyberpunk" and time.time() - t0 < 10:
            time.sleep(0.05)
        n = server.status()["frames"]
        while server.status()["frames"] < n + 3 and time.time() - t0 < 20:
            time.sleep(0.05)
        time.sleep(0.3)
        second = shot()
        assert server.status()["background"] == "white"
        assert np.abs(second - first).mean() > 5.0
    finally:
        driver.quit()
        stop.set()
        th.join(30)
    assert "error" not in box
