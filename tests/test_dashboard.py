"""The dashboard in Debian's chromium (Playwright), against the server started as the CLI starts
it on a free port of 127.0.0.1: edit a lever and see it validated, a bad value and its message,
a run with its progress, a headline figure equal to the run folder's Parquet (DuckDB), a
comparison, a wrongly sanctioned person's story; no request leaves 127.0.0.1; a screenshot of
each view; the server stops cleanly on Ctrl-C."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import duckdb
import pytest

from socialcreditsim.scenario import load_scenario

ARTIFACTS = Path(__file__).parent / "artifacts" / "dashboard"
# national for six months, with a blacklist that a few wrongful camera records reach
SHORT = """based_on = "national"
[time]
end = 2018-06-30
[blacklist]
entry_below = 990
exit_at = 1000
"""
HEADLINE = "court list: people listed (now)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path):
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "short.toml").write_text(SHORT)
    port = free_port()
    cmd = [sys.executable, "-m", "socialcreditsim", "dashboard", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--runs", str(runs)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield url, runs, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
        print(proc.stdout.read())  # the server's log: shown when the test fails


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def tab(page, name: str) -> None:
    page.locator(".bk-tab", has_text=re.compile(f"^{name}$")).click()


def shown_text(page, css: str) -> str:
    """The text of a Panel pane, drawn in its shadow root."""
    return page.locator(css).evaluate(
        "e => [...(e.shadowRoot || e).children].filter(c => !['STYLE', 'LINK'].includes(c.tagName))"
        ".map(c => c.innerText).join('')"
    )


def set_number(page, css: str, value: str) -> None:
    box = page.locator(f"{css} input")
    box.fill(value)
    box.press("Enter")


def test_dashboard_in_chromium(server, chromium: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, runs, proc = server
    requests: list[str] = []
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    args += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url)
            expect(page.get_by_text("The people are synthetic.")).to_be_visible(timeout=30_000)

            # a short national run, from a TOML file of the runs folder
            page.locator("select").first.select_option(label="short.toml (runs folder)")
            status = page.locator(".scenario-status")
            expect(status).to_contain_text(
                "short.toml (runs folder): valid scenario (0 levers changed)"
            )
            # a bad value: the field's message beside it, the run refused
            set_number(page, ".lever-surveillance-fpir", "2")
            errors = page.locator(".lever-error")
            expect(errors.filter(has_text="surveillance.fpir")).to_contain_text(
                "must be at least 0 and at most 1 (a probability); got 2"
            )
            expect(status).to_contain_text("not valid")
            shot(page, "scenario-error")
            # a new value (national has 0.05), validated; high, so that some are wrongly barred
            set_number(page, ".lever-surveillance-fpir", "0.2")
            expect(status).to_contain_text("valid scenario (1 lever changed)")
            expect(errors.filter(has_text="surveillance.fpir")).to_have_count(0)
            page.locator(".bk-btn", has_text="Show TOML").click()
            expect(page.locator("pre", has_text="[surveillance]")).to_contain_text("fpir = 0.2")
            shot(page, "scenario")
            with page.expect_download() as download:
                page.locator(".bk-btn", has_text="Download TOML").click()
            toml = download.value.path().read_text()

            tab(page, "Run")
            expect(page.locator(".memory")).to_contain_text("memory needed: about")
            page.locator(".run-button button").click()
            seen = set()  # the progress the page shows while the run works
            deadline = time.monotonic() + 60
            while "done in" not in (now := shown_text(page, ".run-status")):
                if time.monotonic() > deadline:
                    shot(page, "run-timeout")
                    pytest.fail(f"the run did not finish in 60 s: {now!r}")
                seen.add(now)
                page.wait_for_timeout(100)
            shot(page, "run")

            tab(page, "Results")
            row = page.locator(".headline tr", has_text=HEADLINE)
            cell = row.locator("td.num").first
            expect(cell).to_be_visible()
            shown = float(cell.get_attribute("data-value"))
            text = cell.inner_text()
            page.wait_for_timeout(500)
            shot(page, "results")

            tab(page, "People")
            person = page.locator(".person-select select")
            expect(person.locator("option").first).to_contain_text("wrongly barred from")
            story = page.locator(".story pre")
            expect(story).to_contain_text("WRONGLY")
            shot(page, "people")

            tab(page, "Compare")
            page.locator(".compare-button button").click()
            expect(page.locator(".compare-status")).to_contain_text("done in", timeout=90_000)
            diffs = page.locator(".differences td[data-col='difference (median)']")
            values = [float(v) for v in diffs.evaluate_all("cs => cs.map(c => c.dataset.value)")]
            shot(page, "compare")

            tab(page, "Runs")
            expect(page.locator(".folder-select select option")).to_have_count(2)
            shot(page, "runs")
        finally:
            browser.close()

    # the headline figure is the run folder's Parquet, as DuckDB reads it
    (folder,) = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith("compare")]
    nat = f"from '{folder / 'timeseries.parquet'}' where region = 'national'"
    last = f"date = (select max(date) {nat})"
    con = duckdb.connect()
    ((want,),) = con.execute(
        f"select sum(value) {nat} and metric = 'court_listed' and {last}"
    ).fetchall()
    assert shown == want and text == f"{want:,.0f}"
    # the progress moved while the run worked; the TOML downloaded is the scenario that ran
    assert len([t for t in seen if re.search(r"run: [\d,]+ of [\d,]+", t)]) >= 2, seen
    assert load_scenario(tomllib.loads(toml)) == load_scenario(folder / "scenario.toml")
    assert any(v != 0 for v in values)  # FPIR 0.2 against the scenario's: a difference
    assert all(u.startswith(url) or u.startswith(f"blob:{url[:-1]}") for u in requests), [
        u for u in requests if not u.startswith(url)
    ]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0  # Ctrl-C is how it stops: a clean exit
