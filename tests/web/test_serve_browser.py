"""The page of ``focuscam serve`` in a real headless Chromium (Debian's chromium + chromium-driver,
driven by Selenium), against a real uvicorn serving the twin (fpd_webcam_rep1 + the simulated drive).

The server has a token, given in the page's URL as ``focuscam serve`` prints it: the page's
scripts, styles, API calls and streams must all get through with it. Every wait is for a
condition in the page or the server (WebDriverWait), never a fixed sleep.
``FOCUSCAM_SCREENSHOTS=DIR`` keeps the screenshot the test takes (the README's is
``recordings/screenshots/serve.png``); without it, it goes to the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import shared_stack

pytestmark = [pytest.mark.shared, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REQUIRE = os.environ.get("FOCUSCAM_REQUIRE_TOOLCHAIN", "") == "1"
WAIT_S = 120
TOKEN = "browser-test-token"  # the page gets it from its URL, as a user's browser would


def _need_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (os.path.exists(p) and os.access(p, os.X_OK))]
    if not missing:
        return
    msg = f"{', '.join(missing)} missing: apt-get install chromium chromium-driver"
    if REQUIRE:
        pytest.fail(f"{msg} (FOCUSCAM_REQUIRE_TOOLCHAIN=1: in CI a missing browser is a failure)")
    pytest.skip(msg)


@pytest.fixture(scope="module")
def server():
    from focuscam.twin import make_twin
    from focuscam.web.server import WebServer

    src, drive = make_twin(shared_stack("fpd_webcam_rep1"), clock="wall", sweep_s=0.5)
    web = WebServer(src, drive, twin=src, jog_um=src.spacing_um, token=TOKEN)
    web.start()
    yield web
    web.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1400,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _page(driver, expr: str):
    return driver.execute_script(f"return {expr};")


def _until(driver, condition, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(lambda d: condition(d), message=what)


def test_the_page_shows_the_live_view_autofocuses_draws_the_curve_and_stops(server, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    d = browser
    d.get(server.url + f"?token={TOKEN}")
    # the live image arrives and keeps changing (new frames, then new content while the drive moves)
    _until(d, lambda d: _page(d, "window.focuscam.frames") >= 2, "no live frame reached the page")
    seq0 = _page(d, "window.focuscam.seq")
    _until(d, lambda d: _page(d, "window.focuscam.seq") > seq0, "the live view does not update")
    assert d.find_element(By.ID, "state").text == "idle"

    # drag an ROI on the live view: the server's monitor scores that region from then on
    overlay = d.find_element(By.ID, "overlay")
    ActionChains(d).move_to_element_with_offset(overlay, -120, -100).click_and_hold().move_by_offset(
        240, 180
    ).release().perform()
    _until(d, lambda d: server.scope.monitor.roi is not None, "the dragged ROI did not reach the server")
    roi = server.scope.monitor.roi
    width, height = server.scope.hub.source.size
    assert 0 < roi.w < width and 0 < roi.h < height and roi.x + roi.w <= width
    _until(d, lambda d: _page(d, "window.focuscam.state.roi !== null"), "the page did not show the ROI")
    d.find_element(By.TAG_NAME, "body").send_keys("g")  # keyboard shortcut: the focus-map grid
    _until(d, lambda d: _page(d, "window.focuscam.state.grid !== null"), "g did not switch the grid on")

    # click autofocus: the image changes, the curve grows, the state becomes focused
    bytes0 = _page(d, "window.focuscam.jpegBytes")
    d.find_element(By.ID, "autofocus").click()
    _until(d, lambda d: d.find_element(By.ID, "state").get_attribute("data-state") == "scanning", "no scan")
    _until(d, lambda d: int(d.find_element(By.ID, "curve").get_attribute("data-points")) >= 1, "no curve")
    first = int(d.find_element(By.ID, "curve").get_attribute("data-points"))
    _until(d, lambda d: int(d.find_element(By.ID, "curve").get_attribute("data-points")) > first, "no growth")
    _until(d, lambda d: _page(d, "window.focuscam.jpegBytes") != bytes0, "the live image did not change")
    _until(
        d, lambda d: d.find_element(By.ID, "state").get_attribute("data-state") in ("focused", "failed"), ""
    )
    assert d.find_element(By.ID, "state").get_attribute("data-state") == "focused"
    result = _page(d, "window.focuscam.result")
    # the truth of a dragged ROI is that region's own best plane (a sweep of the same region:
    # the stack's truth is the whole frame's), within the stack's tolerance
    from focuscam.select import select_plane
    from focuscam.stacks import load_stack

    stack = load_stack(shared_stack("fpd_webcam_rep1"))
    best = select_plane(stack, roi=roi)
    assert best.focused and result["z_unit"] == stack.z_unit, (best, result)
    assert abs(result["z"] - best.z) <= stack.truth["tolerance"], (result["z"], best.z)
    assert "focused at" in d.find_element(By.ID, "curve-info").text
    shot = Path(os.environ.get("FOCUSCAM_SCREENSHOTS") or tmp_path) / "serve.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    _until(d, lambda d: _page(d, "window.focuscam.history.length") > 30, "no score history")
    assert d.save_screenshot(str(tmp_path / "serve.png"))
    if shot != tmp_path / "serve.png":
        shutil.copyfile(tmp_path / "serve.png", shot)

    # a refused move is one readable line in the page
    d.find_element(By.ID, "move-z").send_keys("1000000")
    d.find_element(By.ID, "move").click()
    _until(d, lambda d: "limits" in d.find_element(By.ID, "message").text, "the refusal was not shown")
    assert "Traceback" not in d.find_element(By.ID, "message").text

    # press STOP during a second run: the drive stops, the page says so
    d.find_element(By.ID, "autofocus").click()
    _until(d, lambda d: server.scope.jobs.owner == "search", "the second run did not start")
    d.find_element(By.ID, "stop").click()
    _until(d, lambda d: d.find_element(By.ID, "state").get_attribute("data-state") == "stopped", "no stop")
    _until(d, lambda d: server.scope.jobs.owner is None, "the run still holds the drive after STOP")
    assert not server.scope.drive.moving
    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE" and "422" not in e["message"]]
    assert errors == []
