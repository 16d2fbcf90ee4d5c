"""The served app in a real browser: Debian's Chromium, driven by Playwright, on 127.0.0.1.

One ``panel serve apps/`` per module, reading a runs folder of synthetic stores (good runs, a
running one, damaged ones, one without snapshots). Each test loads a page, checks that Bokeh
drew its plots and that neither the page nor the server reported an error, changes a widget
and sees the plot change, and saves screenshots. A browser that cannot start fails the tests.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_stores import finish_running_store, make_run, make_runs_folder

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
# A system Chromium, as .ci/run installs it (apt-get install chromium); else Playwright's own
# (python -m playwright install chromium).
SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome")
# .ci/run sets this: there a missing browser fails the run instead of skipping these tests.
REQUIRE_ENV = "REAWAKEN_REQUIRE_BROWSER"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000  # generous: the machine may be busy with other test runs
SERVER_ERRORS = re.compile(r"Traceback|\bERROR\b|Exception|Error:")
# The state of the page's Bokeh models: axis labels, titles, legend entries, plots drawn.
BOKEH_STATE = """() => {
  const out = {axes: [], titles: [], legend: [], plots: 0};
  for (const doc of Bokeh.documents) {
    for (const m of doc.all_models) {
      if (m.type.endsWith('Axis') && m.axis_label) out.axes.push(m.axis_label);
      if (m.type === 'Title' && m.text) out.titles.push(m.text);
      if (m.type === 'LegendItem') out.legend.push(m.label.value);
      if (m.type === 'Plot' || m.type === 'Figure') out.plots += 1;
    }
  }
  return out;
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``panel serve apps/`` as a subprocess, with its log in a file."""

    def __init__(self, runs: Path, log: Path) -> None:
        self.runs, self.log, self.port = runs, log, free_port()
        env = dict(os.environ, REAWAKEN_RUNS=str(runs), REAWAKEN_REFRESH_S="1")
        command = [
            sys.executable, "-m", "panel", "serve", "apps/",
            "--port", str(self.port), "--address", "127.0.0.1",
            f"--allow-websocket-origin=127.0.0.1:{self.port}",
        ]  # fmt: skip
        self._log_file = log.open("w")
        self.process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    def url(self, page: str) -> str:
        return f"http://127.0.0.1:{self.port}/apps?page={page}"

    def wait_until_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"panel serve exited with {self.process.returncode}:\n{self.text()}")
            try:
                # Any HTTP answer means the server is up; asking for /apps would open a session.
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=2):
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.2)
        pytest.fail(f"panel serve did not answer within {timeout} s:\n{self.text()}")

    def text(self) -> str:
        self._log_file.flush()
        return self.log.read_text()

    def errors(self) -> list[str]:
        return [line for line in self.text().splitlines() if SERVER_ERRORS.search(line)]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log_file.close()


@pytest.fixture(scope="module")
def server(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # `browser` first: without Chromium the tests skip before a server starts
    root = tmp_path_factory.mktemp("served")
    served = Server(make_runs_folder(root), root / "server.log")
    try:
        served.wait_until_up()
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import Error, sync_playwright

    system = next(filter(None, map(shutil.which, SYSTEM_CHROMIUMS)), None)
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=system, args=CHROMIUM_ARGS)
        except Error as error:
            message = (
                f"no Chromium to drive: found {system or 'no system chromium'} and Playwright's "
                "own is not installed; install one with `apt-get install chromium` or "
                "`python -m playwright install chromium` (.ci/run installs it and runs these "
                f"tests): {str(error).splitlines()[0]}"
            )
            if os.environ.get(REQUIRE_ENV):
                pytest.fail(message)
            pytest.skip(message)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    """A fresh browser tab; after the test, neither the page nor the server may have errors."""
    context = browser.new_context(viewport={"width": 1400, "height": 2000})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on(
        "console",
        lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    tab.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    yield tab
    context.close()
    assert not problems, problems
    assert not server.errors(), server.text()


def open_page(page: Any, server: Server, name: str, ready: str = "canvas") -> float:
    """Load one page of the app; returns the seconds until ``ready`` was drawn."""
    start = time.perf_counter()
    page.goto(server.url(name))
    page.wait_for_selector(ready, state="visible")
    return time.perf_counter() - start


def bokeh_state(page: Any) -> dict[str, Any]:
    return page.evaluate(BOKEH_STATE)


def wait_for_state(page: Any, check: str) -> None:
    """Wait until the JS expression ``check`` (given ``s``, the Bokeh state) is true."""
    page.wait_for_function(f"() => {{ const s = ({BOKEH_STATE})(); return {check}; }}")


def test_runs_page_lists_every_run_with_its_status(page, server, tmp_path, record_property):
    seconds = open_page(page, server, "runs", ready=".tabulator-row")
    record_property("first_page_render_s", round(seconds, 2))
    print(f"\nfirst page (runs table) rendered in {seconds:.2f} s")
    rows = page.locator(".tabulator-row")
    rows.last.wait_for()
    assert rows.count() == 7
    damaged = rows.filter(has_text="metadata cannot be read")
    assert damaged.count() == 1 and "damaged" in damaged.inner_text()
    assert "running" in rows.filter(has_text="running").first.inner_text()
    assert "refused" in rows.filter(has_text="escape").first.inner_text()
    page.screenshot(path=tmp_path / "runs.png", full_page=True)


def test_recovery_page_draws_every_plot_and_follows_the_matrix_order(page, server, tmp_path):
    open_page(page, server, "recovery")
    wait_for_state(page, "s.plots >= 5")
    state = bokeh_state(page)
    assert {"Loss of doc 0", "Recovery score", "Loss of every document"} <= set(state["titles"])
    assert state["legend"][:1] == ["alpha: doc 0"]
    assert "trained document j" in state["axes"]
    page.screenshot(path=tmp_path / "recovery.png", full_page=True)
    page.get_by_role("button", name="cyclic distance").click()
    wait_for_state(page, "s.axes.includes('cyclic distance j - i (documents)')")
    page.screenshot(path=tmp_path / "recovery-distance.png", full_page=True)


def test_recovery_page_adds_a_curve_for_each_chosen_document(page, server, tmp_path):
    open_page(page, server, "recovery")
    wait_for_state(page, "s.legend.includes('alpha: doc 0')")
    chooser = page.locator(".choices__input--cloned").first
    chooser.click()
    page.locator(".choices__item--choice", has_text="2").first.click()
    wait_for_state(page, "s.legend.includes('alpha: doc 2')")
    assert "Loss of doc 0, doc 2" in bokeh_state(page)["titles"]
    page.screenshot(path=tmp_path / "recovery-docs.png", full_page=True)


def test_representations_page_moves_with_the_snapshot_player(page, server, tmp_path):
    open_page(page, server, "representations")
    wait_for_state(page, "s.titles.some(t => t.startsWith('Similarity between documents'))")
    last_step = make_run().snapshot_step.values[-1]
    assert f"Similarity between documents after step {last_step}" in bokeh_state(page)["titles"]
    page.screenshot(path=tmp_path / "representations.png", full_page=True)
    page.locator("button.first").click()  # the player's "first snapshot" button
    wait_for_state(page, "s.titles.includes('Similarity between documents after step 0')")
    page.screenshot(path=tmp_path / "representations-first.png", full_page=True)


def test_weights_page_shows_three_pairs_of_components_when_asked(page, server, tmp_path):
    open_page(page, server, "weights")
    wait_for_state(page, "s.axes.some(a => a.startsWith('PC2'))")
    assert not any(a.startswith("PC3") for a in bokeh_state(page)["axes"])
    page.get_by_role("button", name="3 components").click()
    wait_for_state(page, "s.axes.filter(a => a.startsWith('PC3')).length == 2")
    page.screenshot(path=tmp_path / "weights.png", full_page=True)


def test_bad_runs_show_a_message_and_the_rest_keeps_working(page, server, tmp_path):
    open_page(page, server, "runs", ready=".tabulator-row")
    for name in ("noloss", "nosnap"):
        row = page.locator(".tabulator-row", has_text=name).first
        row.locator("input[type='checkbox']").click()
    page.locator(".bk-tab", has_text="Representations").click()
    page.get_by_text("has no 'activation' data").first.wait_for()
    page.get_by_text("required variable 'loss' is missing").first.wait_for()
    wait_for_state(page, "s.titles.some(t => t.startsWith('Similarity between documents'))")
    page.screenshot(path=tmp_path / "bad-runs.png", full_page=True)


def test_a_running_run_advances_without_reloading_the_page(page, server, tmp_path):
    open_page(page, server, "runs", ready=".tabulator-row")
    row = page.locator(".tabulator-row", has_text="running").first
    assert "50" in row.inner_text()
    finish_running_store(server.runs / "running.zarr", make_run())
    page.locator(".tabulator-row", has_text="running").filter(has_text="completed").wait_for(
        timeout=20_000
    )
    assert "100" in page.locator(".tabulator-row", has_text="running").first.inner_text()
    page.screenshot(path=tmp_path / "runs-refreshed.png", full_page=True)
