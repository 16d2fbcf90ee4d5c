"""Time how long each page of the served app takes to settle, with 2 and with 20 paper-size runs.

Run: ``python benchmarks/bench_app.py`` (``--runs 2,20``, ``--screenshots DIR`` to keep a
screenshot of every page, ``--repeat N``). Runs are synthetic, at the paper's size (T=25
documents, M=10 steps each, E=5 epochs: 1251 steps, 126 snapshots of activations and a weight
sketch), half cyclic and half shuffled. The app is served with ``panel serve apps/`` on
127.0.0.1 and driven in headless Chromium (1600x1000) through Playwright.

For each folder it measures, per page:

- ``load``: open ``/apps?page=<page>`` with the first run selected, until the page settles;
- ``switch``: with every run ticked on the Runs page, click the page's tab, until it settles.

A page has *settled* when the server is not busy (the header's busy indicator is off) and no
Bokeh model or canvas has been added or changed for ``QUIET_S``; the time reported runs to
the last change, not to the end of the quiet period. Budgets (issue 13): 1.5 s with 2 runs,
4 s with 20 runs, on an idle 2-core machine. Numbers depend on the machine's load: compare
the ratios printed at the end, measured in one process. The last line printed is one JSON
object with every figure (``null`` for a page that did not settle within 120 s).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from reawaken.testing import synthetic_config, synthetic_run

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
PAGES = ("runs", "recovery", "representations", "weights", "mechanism", "sweep")
T, M, E = 25, 10, 5
HIDDEN, SKETCH = 64, 64
QUIET_S = 1.0
BUDGET_S = {2: 1.5, 20: 4.0}
# Counts what the page has drawn: a change in any of these restarts the quiet period.
PAGE_STATE = """() => {
  const all = (selector) => {
    const found = [];
    const walk = (root) => {
      root.querySelectorAll(selector).forEach((e) => found.push(e));
      root.querySelectorAll('*').forEach((e) => e.shadowRoot && walk(e.shadowRoot));
    };
    walk(document);
    return found;
  };
  let models = 0;
  for (const doc of (window.Bokeh ? Bokeh.documents : [])) models += doc.all_models.size;
  const busy = all('.loader').some((e) => e.classList.contains('spin'));
  return {models, canvases: all('canvas').length, busy, text: document.body.innerText.length};
}"""


def paper_run(index: int, shuffled: bool) -> object:
    """A paper-size run whose loss drops on training and (cyclic only) recovers before its turn."""
    rng = np.random.default_rng(index)
    order = np.tile(np.arange(T), (E, 1))
    if shuffled:
        for epoch in range(E):
            order[epoch, 1:] = 1 + rng.permutation(T - 1)
    level = np.full(T, 3.0) + rng.normal(0, 0.05, T)
    rows, train_loss = [level.copy()], [np.nan]
    for epoch in range(E):
        for position, doc in enumerate(order[epoch]):
            following = order[epoch, (position + 1) % T]
            for _ in range(M):
                train_loss.append(rows[-1][doc])
                level = level + 0.004
                level[doc] *= 0.85
                if not shuffled:
                    level[following] -= 0.01
                rows.append(level + rng.normal(0, 0.003, T))
    count = E * T + 1
    turn = 2 * np.pi * np.arange(count) / T
    noise = rng.normal(0, 0.01, (count, SKETCH - 3))
    arrays = {
        "train_loss": np.array(train_loss, dtype=np.float32),
        "activation": rng.normal(size=(count, T, 1, HIDDEN)).cumsum(0).astype(np.float32),
        "weight_sketch": np.column_stack(
            [np.cos(turn), np.sin(turn), np.arange(count) / count, noise]
        ).astype(np.float32),
    }
    config = synthetic_config(
        T,
        M,
        E,
        **{
            "schedule.order": "shuffled" if shuffled else "cyclic",
            "seed": index // 2,
            "model.name": "synthetic",
        },
    )
    return synthetic_run(
        np.array(rows, dtype=np.float32),
        steps_per_doc=M,
        order=order,
        arrays=arrays,
        config=config,
    )


def make_folder(root: Path, count: int) -> Path:
    folder = root / f"runs{count}"
    folder.mkdir()
    for index in range(count):
        kind = "shuffled" if index % 2 else "cyclic"
        paper_run(index, shuffled=bool(index % 2)).to_zarr(
            folder / f"{kind}-{index // 2:02d}.zarr", zarr_format=3, consolidated=False
        )
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(folder: Path, log: Path, repo: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = dict(os.environ, REAWAKEN_RUNS=str(folder), PYTHONPATH=str(repo))
    command = [
        sys.executable, "-m", "panel", "serve", "apps/", "--port", str(port),
        "--address", "127.0.0.1", f"--allow-websocket-origin=127.0.0.1:{port}", "--warm",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=repo, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                break
        except urllib.error.HTTPError:
            break
        except OSError:
            time.sleep(0.3)
    return process, port


def settle(page: object, start: float, before: dict | None = None, timeout: float = 120) -> float:
    """Seconds from ``start`` to the page's last change before a quiet period of QUIET_S.

    With ``before`` (the page's state before the action), quiet counts only once the page
    has changed from it: a server busy building a page sends nothing, not even its busy
    indicator, so a page that has not started to change is not settled.
    """
    last_state, last_change, changed = None, time.perf_counter(), before is None
    while time.perf_counter() - start < timeout:
        state = page.evaluate(PAGE_STATE)
        now = time.perf_counter()
        changed = changed or state != before
        if state != last_state or state["busy"] or not changed:
            last_state, last_change = state, now
        elif now - last_change >= QUIET_S and state["models"] > 0:
            return last_change - start
        time.sleep(0.05)
    return float("nan")


def tick_all(page: object) -> None:
    """Tick every run in the table (the header box toggles: it may first clear the selection)."""
    header = page.locator(".tabulator-col.tabulator-frozen-left input[type='checkbox']").first
    rows = page.locator(".tabulator-row")
    checked = rows.locator("input[type='checkbox']:checked")
    for _ in range(2):
        before = checked.count()
        header.click()
        # The click changes no Bokeh model count (settle(before) would wait for one in vain):
        # wait for the boxes to change, then for the server to finish.
        deadline = time.perf_counter() + 30
        while checked.count() == before and time.perf_counter() < deadline:
            time.sleep(0.05)
        settle(page, time.perf_counter())
        if checked.count() == rows.count():
            return
    raise RuntimeError("could not tick every run")


def bench_folder(
    browser: object,
    folder: Path,
    count: int,
    shots: Path | None,
    repeat: int,
    repo: Path,
    pages: tuple[str, ...],
):
    log = folder.parent / f"server{count}.log"
    process, port = serve(folder, log, repo)
    results: dict[tuple[str, str], float] = {}
    try:
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(120_000)
        # One throw-away visit: the server imports and caches on the first session.
        page.goto(f"http://127.0.0.1:{port}/apps?page=recovery")
        settle(page, time.perf_counter())
        for name in pages:
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port}/apps?page={name}")
                times.append(settle(page, start))
            results[("load", name)] = min(times)
        page.goto(f"http://127.0.0.1:{port}/apps?page=runs")
        page.locator(".tabulator-row").first.wait_for()
        settle(page, time.perf_counter())
        tick_all(page)
        for name in pages[1:] + pages[:1]:
            before = page.evaluate(PAGE_STATE)
            start = time.perf_counter()
            page.locator(".bk-tab", has_text=name.capitalize()).click()
            results[("switch", name)] = settle(page, start, before)
            if shots is not None:
                page.screenshot(path=shots / f"{count}runs-{name}.png", full_page=True)
        context.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # busy drawing a page nobody waits for any more
            process.kill()
            process.wait()
    lines = log.read_text().splitlines()
    errors = [line for line in lines if "Traceback" in line or "ERROR" in line]
    if errors:
        print(f"server log of the {count}-run folder has errors:\n" + "\n".join(errors[:10]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="2,20", help="folder sizes, comma-separated")
    parser.add_argument("--screenshots", type=Path, help="folder for a screenshot of each page")
    parser.add_argument("--repeat", type=int, default=2, help="loads per page (best is kept)")
    parser.add_argument(
        "--repo", type=Path, default=REPO, help="checkout whose app is served (to compare versions)"
    )
    parser.add_argument("--pages", default=",".join(PAGES), help="pages, comma-separated")
    args = parser.parse_args()
    pages = tuple(args.pages.split(","))
    from playwright.sync_api import sync_playwright

    counts = [int(c) for c in args.runs.split(",")]
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    table: dict[int, dict[tuple[str, str], float]] = {}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        for count in counts:
            started = time.perf_counter()
            folder = make_folder(Path(tmp), count)
            print(f"{count} runs written in {time.perf_counter() - started:.1f} s")
            table[count] = bench_folder(
                browser, folder, count, args.screenshots, args.repeat, args.repo.resolve(), pages
            )
        browser.close()
    print(f"\nsettle time (s) per page; quiet period {QUIET_S} s; load = open the page with one "
          "run selected, switch = click its tab with every run ticked")  # fmt: skip
    header = "| page | action | " + " | ".join(f"{c} runs" for c in counts)
    if len(counts) == 2:
        header += f" | ratio {counts[1]}/{counts[0]}"
    print(header + " |")
    print("|" + " --- |" * (header.count("|")))
    for action in ("load", "switch"):
        for name in pages:
            values = [table[c].get((action, name), float("nan")) for c in counts]
            row = f"| {name} | {action} | " + " | ".join(f"{v:.2f}" for v in values)
            if len(counts) == 2:
                row += f" | {values[1] / values[0]:.1f}"
            print(row + " |")
    print(f"served from {args.repo.resolve()}")
    load = os.getloadavg()
    print(f"load average (1, 5, 15 min): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    for count in counts:
        worst = _slowest(table[count])
        budget = BUDGET_S.get(count)
        if budget:
            print(
                f"{count} runs: slowest page {worst:.2f} s = {worst / budget:.1f} x the "
                f"{budget} s budget (the budget is for an idle machine)"
            )
    record = {
        "benchmark": "bench_app",
        "quiet_s": QUIET_S,
        "load_average": [round(v, 2) for v in load],
        "cpus": os.cpu_count(),
        "repo": str(args.repo.resolve()),
        "settle_s": {
            str(count): {
                f"{action}:{name}": _number(v) for (action, name), v in table[count].items()
            }
            for count in counts
        },
        "budget_s": {str(c): BUDGET_S.get(c) for c in counts},
        "slowest_s": {str(c): _number(_slowest(table[c])) for c in counts},
    }
    print(json.dumps(record))


def _slowest(times: dict[tuple[str, str], float]) -> float:
    """The slowest page; infinite if one did not settle."""
    return max(t if math.isfinite(t) else math.inf for t in times.values())


def _number(value: float) -> float | None:
    """JSON has no NaN: a page that did not settle is null."""
    return round(value, 3) if math.isfinite(value) else None


if __name__ == "__main__":
    main()
