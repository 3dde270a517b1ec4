"""``seqrl view``: the real command serves Mesa's SolaraViz page, and a headless Chromium (Debian's,
driven by Playwright) sees the plots, steps the model and changes a slider.

Needs the ``viz`` extra, Playwright (PyPI) and /usr/bin/chromium (``apt-get install chromium``);
without them it is skipped, except under CI, where a missing browser is a failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
STARTUP_S = 90


def _require(condition: bool, why: str) -> None:
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test cannot run under CI: {why}")
        pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(tmp_path):
    """``seqrl view sequential-learning`` on a free port; yields its URL, stops it afterwards."""
    _require(CHROMIUM.exists(), f"{CHROMIUM} not installed (apt-get install chromium)")
    for module in ("playwright", "solara"):
        try:
            __import__(module)
        except ImportError:
            _require(False, f"{module} not installed (pip install 'seqrl[viz,dev]')")
    port = _free_port()
    log = open(tmp_path / "view.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "seqrl", "view", "sequential-learning", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            assert server.poll() is None, (tmp_path / "view.log").read_text()
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the view did not start in time"
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def _status(page) -> str:
    return page.get_by_text("agents acted").inner_text()


def _llr_plot(page):
    return page.locator("img.seqrl-llr-plot")


def _wait_rendered(page, selector: str) -> None:
    """Wait until the image under ``selector`` has loaded and decoded to a real plot: Solara
    inserts the <img> before its data has arrived, so its width is 0 for a moment."""
    page.wait_for_function(
        "sel => { const img = document.querySelector(sel);"
        " return img !== null && img.complete && img.naturalWidth > 300; }",
        arg=selector,
        timeout=30_000,
    )


def test_view_renders_the_plots_steps_and_follows_a_slider(served, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        page.goto(served, timeout=60_000)
        page.get_by_text("agents acted").wait_for(timeout=60_000)
        assert "0 of 100 agents acted" in _status(page) and "epsilon = 1," in _status(page)
        plot = _llr_plot(page)
        _wait_rendered(page, "img.seqrl-llr-plot")
        _wait_rendered(page, "img.seqrl-actions-plot")

        step = page.get_by_role("button", name="Step")
        for done in range(1, 11):
            step.click()
            page.get_by_text(f"{done} of 100 agents acted").wait_for(timeout=20_000)
        before = plot.screenshot()

        # Raise epsilon from 1.0 to 3.0 with the slider (step 0.1), then Reset: Mesa re-creates
        # the model with the slider's value, and the same seed's path now differs.
        slider = page.get_by_role("slider", name="epsilon (privacy budget)")
        slider.focus()
        for _ in range(20):
            slider.press("ArrowRight")
        assert slider.get_attribute("aria-valuenow") == "3"
        page.get_by_role("button", name="Reset").click()
        page.get_by_text("epsilon = 3,").wait_for(timeout=20_000)
        assert "0 of 100 agents acted" in _status(page)
        for done in range(1, 11):
            step.click()
            page.get_by_text(f"{done} of 100 agents acted").wait_for(timeout=20_000)
        after = plot.screenshot()
        assert after != before, "the LLR plot did not change with epsilon"
        page.screenshot(path=str(tmp_path / "view.png"))
        browser.close()


def test_view_model_and_figures_without_a_browser():
    pytest.importorskip("solara")
    from seqrl.scenarios.view import SequentialLearningView, actions_figure, public_llr_figure

    model = SequentialLearningView(n_agents=30, signal="binary", mechanism="smoothed", rng=3)
    assert model.parameters["mechanism"] == "randomized_response"  # binary signals: RR
    for _ in range(30):
        model.step()
    wrong = model.summary()["wrong_actions"]
    title = actions_figure(model).axes[0].get_title()
    assert title.endswith(f"{wrong} wrong actions of 30")
    (line,) = [
        ln
        for ln in public_llr_figure(model).axes[0].get_lines()
        if not ln.get_label().startswith("_")
    ]
    assert line.get_ydata()[-1] == pytest.approx(model.public_llr)


def test_view_of_an_unknown_model_exits_2(capsys):
    from seqrl.scenarios.cli import main

    assert main(["view", "no-such-model"]) == 2
    assert "invalid choice: 'no-such-model'" in capsys.readouterr().err
