"""Fixtures for the page's tests: the exported page of `view_field` (tests/conftest.py) served on
127.0.0.1, and one headless Chromium (Debian's `chromium` + `chromium-driver`, driven by
selenium) shared by a module's tests. Everything skips when the browser or selenium is absent."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path(os.environ.get("NERVP_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("NERVP_CHROMEDRIVER", "/usr/bin/chromedriver"))
"""Debian's paths; the environment variables point the tests at another Chromium and driver."""


@pytest.fixture(scope="module")
def page_url(view_field, tmp_path_factory):
    """The exported page of `view_field`, served on 127.0.0.1 by `nervp.view.server`."""
    from nervp.view import export_page, open_scene
    from nervp.view.server import bind, start

    out = export_page(open_scene(view_field), tmp_path_factory.mktemp("page") / "page")
    server = bind(0)
    url, _ = start(out, server)
    yield url + "index.html"
    server.shutdown()
    server.server_close()


def browser_missing() -> str | None:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        return "Debian chromium and chromium-driver are not installed (scripts/setup.sh installs them as root)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


def chrome():
    """A headless Chromium with WebGL2 on SwiftShader (software: any machine)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--enable-unsafe-swiftshader",
              "--use-angle=swiftshader", "--window-size=1000,700"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)


@pytest.fixture(scope="module")
def browser():
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    driver = chrome()
    yield driver
    driver.quit()


class Page:
    """The page in the shared browser, driven through `window.nervpView`."""

    def __init__(self, driver, url: str) -> None:
        self.d, self.url = driver, url

    def open(self, hash_: str, timeout: float = 30.0) -> Page:
        self.d.get("about:blank")
        self.d.get(f"{self.url}#{hash_}")
        self.wait("window.nervpView && (nervpView.ready || nervpView.failed)", timeout)
        return self

    def js(self, script: str, *args):
        return self.d.execute_script(script, *args)

    def wait(self, condition: str, timeout: float = 30.0) -> None:
        t0 = time.monotonic()
        while not self.js(f"return !!({condition})"):
            if time.monotonic() - t0 > timeout:
                raise AssertionError(f"page: {condition} not true after {timeout} s; message: {self.message()}")
            time.sleep(0.05)

    def message(self) -> str:
        return self.js("return document.getElementById('message').textContent")

    def pixels(self) -> np.ndarray:
        """(H, W, 4) uint8 of the canvas, top row first."""
        sc = self.js("return [nervpView.scene.height, nervpView.scene.width]")
        return np.asarray(self.js("return nervpView.pixels()"), dtype=np.uint8).reshape(sc[0], sc[1], 4)

    def led_weights(self) -> np.ndarray:
        return np.asarray(self.js("return Array.from(nervpView.ledWeights)"), dtype=np.float64).reshape(-1, 3)


@pytest.fixture
def page(browser, page_url) -> Page:
    return Page(browser, page_url)
