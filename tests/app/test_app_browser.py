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
from app_stores import E, M, T, finish_running_store, make_run, make_runs_folder, write

from reawaken.plots import write_figures

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


# Each legend entry's line colour, by label: the colour a run (or run: doc) is drawn in.
LEGEND_COLORS = """() => {
  const out = {};
  for (const doc of Bokeh.documents) {
    for (const m of doc.all_models) {
      if (m.type !== 'LegendItem') continue;
      const color = m.renderers[0].glyph.line_color;
      // Runs drawn as one multi-line: its colours are a column, the item names its row.
      const data = m.renderers[0].data_source.data;
      const column = (field) => (data instanceof Map ? data.get(field) : data[field]);
      const value = (color && typeof color === 'object')
        ? (color.value ?? (color.field !== undefined
          ? column(color.field)[m.index] : JSON.stringify(color)))
        : color;
      (out[m.label.value] = out[m.label.value] || []).push(value);
    }
  }
  return out;
}"""


def text_end(locator: Any) -> float:
    """The x of the right end of an element's text (not of its box)."""
    return locator.evaluate(
        "e => { const r = document.createRange(); r.selectNodeContents(e); "
        "return r.getBoundingClientRect().right; }"
    )


def select_runs(page: Any, server: Server, *names: str) -> None:
    """Tick exactly ``names`` on the Runs page."""
    open_page(page, server, "runs", ready=".tabulator-row")
    for row in page.locator(".tabulator-row").all():
        name = row.locator(".tabulator-cell[tabulator-field='name']").inner_text().strip()
        box = row.locator("input[type='checkbox']")
        if box.is_checked() != (name in names):
            box.click()
            page.wait_for_timeout(300)


HALF = T * M * E // 2  # completed steps of the running store (app_stores)
# Counts the busy indicator's turns from now on, in window.__spins.
SPIN_WATCH = """() => {
  window.__spins = 0;
  const find = (root) => {
    const hit = root.querySelector('.loader');
    if (hit) return hit;
    for (const e of root.querySelectorAll('*')) {
      if (e.shadowRoot) { const inner = find(e.shadowRoot); if (inner) return inner; }
    }
    return null;
  };
  const loader = find(document);
  new MutationObserver(() => {
    if (loader.classList.contains('spin')) window.__spins += 1;
  }).observe(loader, {attributes: true, attributeFilter: ['class']});
}"""


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
    # Numbers are right-aligned under right-aligned headers (text ends line up in each
    # column); no header is cut short.
    for field in ("T", "M", "E", "RS"):
        header = page.locator(f".tabulator-col[tabulator-field='{field}'] .tabulator-col-title")
        cell = rows.first.locator(f".tabulator-cell[tabulator-field='{field}']")
        column = page.locator(f".tabulator-col[tabulator-field='{field}']").first.bounding_box()
        # The rows appear before Tabulator has filled and laid out every cell, and a refresh
        # may lay them out again: measure until the cell's text has a place on the page.
        deadline = time.monotonic() + 10
        ends = [text_end(header.first), text_end(cell)]
        while ends[1] <= 0 and time.monotonic() < deadline:
            time.sleep(0.1)
            ends = [text_end(header.first), text_end(cell)]
        assert abs(ends[0] - ends[1]) <= 6, (field, ends)
        assert column["x"] + column["width"] / 2 < ends[1], (field, ends)
    assert page.locator(".tabulator-arrow:visible").count() == 0  # no sort arrows
    for title in page.locator(".tabulator-col-title").all():
        assert title.evaluate("e => e.scrollWidth <= e.clientWidth"), title.inner_text()
    assert "cyclic" in rows.filter(has_text="alpha").first.inner_text()
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


def test_a_run_has_one_colour_on_every_plot_and_keeps_it_as_runs_are_added(page, server, tmp_path):
    select_runs(page, server, "alpha", "beta")
    page.locator(".bk-tab", has_text="Recovery").click()
    wait_for_state(page, "s.titles.includes('Online loss of the document about to be trained')")
    colors = page.evaluate(LEGEND_COLORS)
    alpha = {c for label, cs in colors.items() if label.startswith("alpha") for c in cs}
    beta = {c for label, cs in colors.items() if label.startswith("beta") for c in cs}
    # doc curve, aligned curve, recovery score and online loss: 4 plots, one colour per run
    assert sum(len(cs) for label, cs in colors.items() if label.startswith("alpha")) == 4
    assert len(alpha) == 1 and len(beta) == 1 and alpha != beta, colors
    page.screenshot(path=tmp_path / "recovery-two-runs.png", full_page=True)
    # A run added to the folder (sorting before the others) takes the next colour.
    write(make_run(), server.runs / "aardvark.zarr")
    page.locator(".bk-tab", has_text="Runs").click()
    page.locator(".tabulator-row", has_text="aardvark").wait_for(timeout=20_000)
    page.locator(".tabulator-row", has_text="aardvark").locator("input[type='checkbox']").click()
    page.locator(".bk-tab", has_text="Recovery").click()
    wait_for_state(page, "s.legend.includes('aardvark')")
    after = page.evaluate(LEGEND_COLORS)
    assert set(after["alpha"]) == alpha and set(after["beta"]) == beta
    assert not set(after["aardvark"]) & (alpha | beta)


def test_the_export_button_writes_what_reawaken_figures_writes(page, server, tmp_path):
    select_runs(page, server, "alpha", "beta")
    page.locator(".bk-tab", has_text="Recovery").click()
    wait_for_state(page, "s.legend.includes('beta')")
    button = page.locator(".reawaken-export").nth(1)  # under the aligned curves
    with page.expect_download() as download:
        button.click()
    saved = tmp_path / "from-app.png"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "aligned_curves.png"
    # The same runs, in the colours the app gave them, through `reawaken figures`' code.
    shown = page.evaluate(LEGEND_COLORS)
    colors = {name: shown[name][0] for name in ("alpha", "beta")}
    runs = [server.runs / "alpha.zarr", server.runs / "beta.zarr"]
    files = write_figures(runs, tmp_path, what=["recovery"], colors=colors)
    expected = next(f for f in files if f.name == "aligned_curves.png")
    assert saved.read_bytes() == expected.read_bytes()


def test_the_player_names_the_step_its_plot_shows_and_its_controls_fit(page, server, tmp_path):
    select_runs(page, server, "running")
    page.locator(".bk-tab", has_text="Representations").click()
    wait_for_state(page, "s.titles.some(t => t.startsWith('Similarity between documents'))")
    title = next(t for t in bokeh_state(page)["titles"] if t.startswith("Similarity between"))
    shown = page.locator(".pn-player-value").first.inner_text().strip()
    assert title.endswith(f"after step {shown}")
    running = make_run(status="running", completed_steps=HALF)
    assert int(shown) == int(running.snapshot_step.values[running.snapshot_step <= HALF][-1])
    controls = page.locator(".reawaken-controls").first
    box = controls.bounding_box()
    parts = controls.locator("button, input, label").all()
    assert len(parts) > 10
    for part in parts:
        inner = part.bounding_box()
        assert inner is not None
        assert box["x"] <= inner["x"] and inner["x"] + inner["width"] <= box["x"] + box["width"]
        assert box["y"] <= inner["y"] and inner["y"] + inner["height"] <= box["y"] + box["height"]
    page.screenshot(path=tmp_path / "representations-running.png", full_page=True)


def test_the_busy_indicator_rests_while_no_run_changes(page, server):
    open_page(page, server, "recovery")
    wait_for_state(page, "s.plots >= 5")
    page.wait_for_timeout(1000)
    page.evaluate(SPIN_WATCH)
    page.wait_for_timeout(10_000)  # ten refreshes (REAWAKEN_REFRESH_S=1)
    assert page.evaluate("() => window.__spins") == 0


def test_leaving_a_page_while_the_player_runs_logs_no_traceback(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    tab.goto(server.url("representations"))
    tab.wait_for_function(
        f"() => ({BOKEH_STATE})().titles.some(t => t.startsWith('Similarity between'))"
    )
    tab.locator(".reawaken-controls button.first").click()
    tab.locator(".reawaken-controls button.play").click()
    tab.wait_for_timeout(2500)
    context.close()  # leave while the player is still playing
    time.sleep(4)
    assert not server.errors(), server.text()


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


def test_the_address_follows_the_open_tab_and_reopens_it(page, server):
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda data: sent.append(str(data))))
    open_page(page, server, "runs", ready=".tabulator-row")
    page.wait_for_timeout(1000)
    page.evaluate(SPIN_WATCH)
    page.locator(".bk-tab", has_text="Weights").click()
    page.wait_for_function("() => window.location.search === '?page=weights'")
    wait_for_state(page, "s.plots >= 1")
    page.wait_for_timeout(2000)
    # The browser rewrites its address itself: were it sent back, the server would take it
    # as a second job and its busy indicator would turn for half a second more.
    assert not [frame for frame in sent if '"attr":"href"' in frame]
    assert page.evaluate("() => window.__spins") == 1  # drawing the page, once
    page.reload()
    page.wait_for_selector(".bk-tab.bk-active")
    assert page.locator(".bk-tab.bk-active").inner_text().strip() == "Weights"
