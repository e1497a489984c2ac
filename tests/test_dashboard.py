"""The dashboard in Debian's chromium (Playwright), against the server started as the CLI starts
it on a free port of 127.0.0.1. One server, one page and one 100,000-agent run serve every test
of this module, in order: levers validated (a bad value and its message beside the field), a
run with its progress, a headline figure and a chart's CSV equal to the run folder's Parquet
(DuckDB), the simulated and published figures, the charts as one PNG, the report downloaded, a
wrongly sanctioned person's story and the sanction filter, a comparison with an edited variant
and one of two run folders, replicates and their bands, Cancel, deleting a folder, a schedule's
points, the rewards and a new group multiplier edited; no request leaves 127.0.0.1, a screenshot
of each view is kept, and the server stops cleanly on Ctrl-C."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from socialcreditsim.scenario import load_scenario

ARTIFACTS = Path(__file__).parent / "artifacts" / "dashboard"
# national for a year, with a blacklist that a few wrongful camera records reach
SHORT = """based_on = "national"
[time]
end = 2018-12-31
[blacklist]
entry_below = 990
exit_at = 1000
"""
HEADLINE = "court list: people listed (now)"
AGENTS = "2000000"  # of every run: the page's cap, long enough to show progress (see ``ran``)
BROWSER_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Any]]:
    runs = tmp_path_factory.mktemp("dashboard") / "runs"
    runs.mkdir()
    (runs / "short.toml").write_text(SHORT)
    port = free_port()
    cmd = [sys.executable, "-m", "socialcreditsim", "dashboard", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--runs", str(runs)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}/", runs, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
        print(proc.stdout.read())  # the server's log: shown when a test fails


@pytest.fixture(scope="module")
def browser(server: tuple[str, Path, Any], chromium: str) -> Iterator[tuple[Any, list[str]]]:
    """One page on the dashboard, and every URL it requested."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)  # a busy 2-core machine: the page may lag seconds
    url = server[0]
    requests: list[str] = []
    with sync_playwright() as p:
        chrome = p.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        try:
            page = chrome.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url)
            expect(page.get_by_text("The people are synthetic.")).to_be_visible(timeout=30_000)
            yield page, requests
        finally:
            chrome.close()


@pytest.fixture(scope="module")
def page(browser: tuple[Any, list[str]]) -> Any:
    return browser[0]


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def tab(page: Any, name: str) -> None:
    page.locator(".bk-tab", has_text=re.compile(f"^{name}$")).click()


def shown_text(page: Any, css: str) -> str:
    """The text of a Panel pane, drawn in its shadow root."""
    return page.locator(css).evaluate(
        "e => [...(e.shadowRoot || e).children].filter(c => !['STYLE', 'LINK'].includes(c.tagName))"
        ".map(c => c.innerText).join('')"
    )


def set_number(page: Any, css: str, value: str) -> None:
    box = page.locator(f"{css} input")
    box.fill(value)
    box.press("Enter")


def error_beside(page: Any, css: str) -> Any:
    """The message pane beside a lever's widget."""
    return page.locator(f"{css}-row .lever-error")


def open_section(page: Any, name: str, lever: str) -> None:
    """Open a section of levers (a click on its header) unless its lever shows already."""
    if not page.locator(lever).is_visible():
        page.get_by_role("button", name=name).click()


def click(page: Any, text: str) -> None:
    page.locator(".bk-btn", has_text=text).click()


def download(page: Any, text: str) -> Path:
    """Click a download button; the file it gave."""
    with page.expect_download() as got:
        click(page, text)
    return Path(got.value.path())


def start_and_wait(page: Any, button: str, status: str, seconds: float) -> set[str]:
    """Click a button that starts a job and wait for its status pane to say 'done in' (not the
    last job's); the texts it showed meanwhile."""
    before = shown_text(page, status)
    page.locator(f"{button} button").click()
    seen = set()
    deadline = time.monotonic() + seconds
    while "done in" not in (now := shown_text(page, status)) or now == before:
        if time.monotonic() > deadline:
            shot(page, "timeout")
            pytest.fail(f"not done in {seconds} s: {now!r}")
        seen.add(now)
        page.wait_for_timeout(100)
    return seen


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def png_size(path: Path) -> tuple[int, int]:
    """A PNG's width and height, from its header."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    return struct.unpack(">II", data[16:24])


def pick_chart(page: Any, title: str, key: str) -> None:
    """Show a chart of the Results view and wait until it is drawn."""
    from playwright.sync_api import expect

    page.locator(".chart-pick select").select_option(label=title)
    expect(page.locator(f".chart-{key} canvas").first).to_be_visible(timeout=30_000)


def run_folder_names(runs: Path) -> set[str]:
    return {p.name for p in runs.iterdir() if p.is_dir() and not p.name.startswith("compare")}


@pytest.fixture(scope="module")
def toml(page: Any) -> str:
    """The scenario as edited on the Scenario view (short.toml with FPIR 0.2), downloaded."""
    from playwright.sync_api import expect

    page.locator("select").first.select_option(label="short.toml (runs folder)")
    status = page.locator(".scenario-status")
    expect(status).to_contain_text("short.toml (runs folder): valid scenario (0 levers changed)")
    # a bad value: the field's message beside it, the run refused
    set_number(page, ".lever-surveillance-fpir", "2")
    expect(error_beside(page, ".lever-surveillance-fpir")).to_contain_text(
        "surveillance.fpir: must be at least 0 and at most 1 (a probability); got 2"
    )
    expect(status).to_contain_text("not valid")
    shot(page, "scenario-error")
    # a new value (national has 0.05), validated; high, so that some are wrongly barred
    set_number(page, ".lever-surveillance-fpir", "0.2")
    expect(status).to_contain_text("valid scenario (1 lever changed)")
    expect(page.locator(".lever-error", has_text="surveillance.fpir")).to_have_count(0)
    click(page, "Show TOML")
    expect(page.locator("pre", has_text="[surveillance]")).to_contain_text("fpir = 0.2")
    click(page, "Show TOML")
    return download(page, "Download TOML").read_text()


def test_levers_are_validated_by_the_scenario_models(page: Any, toml: str) -> None:
    """A lever of a closed section (appeals) and a switch whose error lands on another field's
    rule (the score blacklist, which sanctions are triggered by)."""
    from playwright.sync_api import expect

    status = page.locator(".scenario-status")
    open_section(page, "Secrecy, appeals and listing at discretion", ".lever-appeals-probability")
    set_number(page, ".lever-appeals-probability", "1.5")
    expect(error_beside(page, ".lever-appeals-probability")).to_contain_text(
        "appeals.probability: must be at least 0 and at most 1 (a probability); got 1.5"
    )
    set_number(page, ".lever-appeals-probability", "0")
    expect(status).to_contain_text("valid scenario (1 lever changed)")
    open_section(page, "Scores and lists", ".lever-blacklist-enabled")
    switch = page.locator(".lever-blacklist-enabled input")
    switch.uncheck()
    expect(error_beside(page, ".lever-blacklist-enabled")).to_contain_text(
        "triggered by 'blacklist' but blacklist.enabled is false"
    )
    switch.check()
    expect(status).to_contain_text("valid scenario (1 lever changed)")
    shot(page, "scenario")
    assert "fpir = 0.2" in toml


@pytest.fixture(scope="module")
def ran(server: tuple[str, Path, Any], page: Any, toml: str) -> tuple[Path, set[str]]:
    """A run from the page: its folder and the progress the page showed. 2 million agents (the
    page's cap) for a year, so that the days take a few of the page's quarter seconds: 100,000
    agents' half year took one once the day's Python was made faster, and 2 million agents' half
    year took one once the snapshots were (one progress text seen in a CI run)."""
    from playwright.sync_api import expect

    runs = server[1]
    tab(page, "Run")
    set_number(page, ".run-agents", AGENTS)
    expect(page.locator(".memory")).to_contain_text("memory needed: about")
    seen = start_and_wait(page, ".run-button", ".run-status", 180)  # a cold Numba cache
    shot(page, "run")
    (folder,) = [runs / name for name in run_folder_names(runs)]
    return folder, seen


def test_run_shows_progress_and_its_headline_is_the_parquet(
    page: Any, toml: str, ran: tuple[Path, set[str]]
) -> None:
    from playwright.sync_api import expect

    folder, seen = ran
    assert len([t for t in seen if re.search(r"run: [\d,]+ of [\d,]+", t)]) >= 2, seen
    # the TOML downloaded is the scenario that ran
    assert load_scenario(tomllib.loads(toml)) == load_scenario(folder / "scenario.toml")
    tab(page, "Results")
    cell = page.locator(".headline tr", has_text=HEADLINE).locator("td.num").first
    expect(cell).to_be_visible()
    nat = f"from '{folder / 'timeseries.parquet'}' where region = 'national'"
    ((want,),) = duckdb.execute(
        f"select sum(value) {nat} and metric = 'court_listed' and date = (select max(date) {nat})"
    ).fetchall()
    assert float(cell.get_attribute("data-value")) == want
    assert cell.inner_text() == f"{want:,.0f}"


def test_a_chart_and_its_csv_are_the_parquet(page: Any, ran: tuple[Path, set[str]]) -> None:
    """The grades chart is drawn, and its CSV holds the snapshots' grade shares."""
    from playwright.sync_api import expect

    folder = ran[0]
    tab(page, "Results")
    page.locator(".chart-pick select").select_option(label="Grades")
    expect(page.locator(".chart-grades")).to_contain_text("Share of scored people holding each")
    with download(page, "grades as CSV").open() as f:
        rows = list(csv.DictReader(f))
    grades = [g for g in rows[0] if g != "date"]
    got = {(r["date"][:10], g): float(r[g]) for r in rows for g in grades}
    want = duckdb.execute(
        f"select strftime(date, '%Y-%m-%d'), replace(metric, 'share_grade_', ''), value"
        f" from '{folder / 'snapshots.parquet'}'"
        " where dimension = 'national' and metric like 'share_grade_%'"
    ).fetchall()
    assert got == {(d, g): v for d, g, v in want}
    assert len(got) > len(grades)  # several snapshots
    page.locator(".chart-pick select").select_option(label="Who is hit: group, urban or rural, age")
    expect(page.locator(".chart-who")).to_contain_text("relative risk against the national share")
    page.wait_for_timeout(500)
    shot(page, "results")


def test_simulated_against_published_figures(page: Any, ran: tuple[Path, set[str]]) -> None:
    """The chart holds each published figure of the run's period at its date, beside the
    simulated series (the report's numbers, read from the folder); 'as PNG' saves the chart
    shown, and all the charts as one taller image."""
    folder = ran[0]
    sc = load_scenario(folder / "scenario.toml")
    tab(page, "Results")
    pick_chart(page, "Simulated against published figures", "published")
    rows = {r["date"][:10]: r for r in csv_rows(download(page, "published as CSV"))}
    published = [f for f in sc.published if sc.time.start <= f.date <= sc.time.end]
    assert published
    for fig in published:
        row = rows[str(fig.date)]
        assert float(row[f"{fig.series} (published)"]) == fig.value
        assert float(row[fig.series]) > 0  # the simulated line, on the same date
    with_published = [d for d, r in rows.items() if any(r[f"{f.series} (published)"]
                                                         for f in published)]  # fmt: skip
    assert sorted(with_published) == sorted({str(f.date) for f in published})
    one = png_size(download(page, "as PNG"))
    pick_chart(page, "All charts", "all")
    every = png_size(download(page, "as PNG"))
    assert every[1] > 4 * one[1]  # every chart, one below the other
    pick_chart(page, "Grades", "grades")


def test_report_html_is_written_and_downloaded(page: Any, ran: tuple[Path, set[str]]) -> None:
    from playwright.sync_api import expect

    folder = ran[0]
    tab(page, "Results")
    expect(page.locator(".report-download")).to_be_hidden()
    start_and_wait(page, ".report-button", ".report-status", 120)
    with page.expect_download() as got:
        page.locator(".report-download button").click()
    got = Path(got.value.path()).read_bytes()
    assert got == (folder / "report.html").read_bytes()
    assert got.startswith(b"<!DOCTYPE html>") and b"The people are synthetic." in got


def test_people_stories_and_the_sanction_filter(page: Any, ran: tuple[Path, set[str]]) -> None:
    from playwright.sync_api import expect

    tab(page, "People")
    person = page.locator(".person-select select")
    expect(person.locator("option").first).to_contain_text("wrongly barred from")
    expect(page.locator(".story pre")).to_contain_text("WRONGLY")
    shot(page, "people")
    # luxury hotels follow the courts' list only, which camera mistakes do not reach
    sanction = page.locator(".sanction-select select")
    sanction.select_option("luxury_hotels")
    expect(page.locator(".people-count")).to_contain_text("0 of")
    expect(person.locator("option")).to_have_count(0)
    sanction.select_option("flights")
    expect(person.locator("option").first).to_contain_text("flights")
    sanction.select_option("any")


def test_compare_an_edited_variant(page: Any, ran: tuple[Path, set[str]]) -> None:
    tab(page, "Compare")
    start_and_wait(page, ".compare-button", ".compare-status", 90)
    diffs = page.locator(".differences td[data-col='difference (median)']")
    values = [float(v) for v in diffs.evaluate_all("cs => cs.map(c => c.dataset.value)")]
    assert any(v != 0 for v in values)  # FPIR 0.2 against the scenario's: a difference
    shot(page, "compare")


def test_compare_two_run_folders(
    server: tuple[str, Path, Any], page: Any, ran: tuple[Path, set[str]]
) -> None:
    """A second run with the same agents and seed and a lever of section 10 moved (the
    rules published from the start), compared with the first as two folders."""
    from playwright.sync_api import expect

    runs, first = server[1], ran[0]
    tab(page, "Scenario")
    open_section(page, "Secrecy, appeals and listing at discretion", ".lever-rules-published")
    page.locator(".lever-rules-published input[type=checkbox]").check()
    expect(page.locator(".scenario-status")).to_contain_text("valid scenario (2 levers changed)")
    tab(page, "Run")
    start_and_wait(page, ".run-button", ".run-status", 60)
    (second,) = run_folder_names(runs) - {first.name}
    tab(page, "Compare")
    page.locator(".compare-a select").select_option(first.name)
    page.locator(".compare-b select").select_option(second)
    start_and_wait(page, ".compare-folders-button", ".compare-status", 30)
    expect(page.get_by_text(f"baseline: {first.name}; variant: {second}")).to_be_visible()
    diffs = page.locator(".differences td[data-col='difference (median)']")
    values = [float(v) for v in diffs.evaluate_all("cs => cs.map(c => c.dataset.value)")]
    assert any(v != 0 for v in values)  # public rules deter: fewer recorded acts


def test_replicates_show_their_bands(
    server: tuple[str, Path, Any], page: Any, ran: tuple[Path, set[str]]
) -> None:
    """A run of two replicates: the headline gives each figure's median and band, and the
    lines of a chart are medians with their band drawn (a shaded area) and in its CSV."""
    from playwright.sync_api import expect

    tab(page, "Run")
    set_number(page, ".run-replicates", "2")
    start_and_wait(page, ".run-button", ".run-status", 120)
    set_number(page, ".run-replicates", "1")
    tab(page, "Results")
    expect(page.locator(".headline th", has_text="10th percentile")).to_be_visible()
    pick_chart(page, "People barred, per sanction", "barred")
    rows = csv_rows(download(page, "barred as CSV"))
    lines = [c.removesuffix(" (lower)") for c in rows[0] if c.endswith(" (lower)")]
    assert "flights" in lines, rows[0]
    for r in rows:
        for line in lines:
            lo, mid, hi = (float(r[f"{line}{s}"]) for s in (" (lower)", "", " (upper)"))
            assert lo <= mid <= hi
    assert any(float(r["flights (lower)"]) < float(r["flights (upper)"]) for r in rows)
    areas = page.evaluate(
        """[...Bokeh.documents[0].all_models]
        .filter(m => m.constructor.__name__ === 'Figure' && m.title.text === 'People barred,'
                + ' per sanction')
        .map(f => f.renderers.filter(r => r.glyph.constructor.__name__ === 'VArea').length)"""
    )
    assert max(areas) == len(lines), areas  # a shaded band per line
    shot(page, "results-replicates")


def test_cancel_stops_a_run_and_writes_nothing(
    server: tuple[str, Path, Any], page: Any, ran: tuple[Path, set[str]]
) -> None:
    from playwright.sync_api import expect

    runs = server[1]
    before = run_folder_names(runs)
    tab(page, "Run")
    set_number(page, ".run-agents", AGENTS)  # long enough to be cancelled while it works
    page.locator(".run-button button").click()
    page.locator(".cancel-button button").click()  # as soon as the run has started
    expect(page.locator(".run-status")).to_contain_text(
        "cancelled; nothing was written", timeout=30_000
    )
    assert run_folder_names(runs) == before
    assert not [p for p in runs.iterdir() if p.name.startswith(".")]  # no partial folder left


def test_delete_a_run_folder(
    server: tuple[str, Path, Any], page: Any, ran: tuple[Path, set[str]]
) -> None:
    from playwright.sync_api import expect

    runs, folder = server[1], ran[0]
    count = len([p for p in runs.iterdir() if (p / "manifest.json").is_file()])
    tab(page, "Runs")
    options = page.locator(".folder-select select option")
    expect(options).to_have_count(count)
    shot(page, "runs")
    page.locator(".folder-select select").select_option(folder.name)
    click(page, "Delete")
    expect(page.get_by_text("tick 'yes, delete it' first")).to_be_visible()
    assert folder.is_dir()
    page.locator(".confirm-delete input").check()
    click(page, "Delete")
    expect(page.get_by_text(f"deleted {folder.name}")).to_be_visible()
    expect(options).to_have_count(count - 1)
    assert not folder.exists()


def test_schedule_points_rewards_and_a_new_multiplier(
    page: Any, ran: tuple[Path, set[str]]
) -> None:
    """A camera schedule's points and the rollout's steps edited as lines (a bad line and a
    rule of the model get their messages beside the lever), the rewards switched off, and a
    group given a rate multiplier it did not name: the TOML downloaded is that scenario."""
    from playwright.sync_api import expect

    tab(page, "Scenario")
    status = page.locator(".scenario-status")
    open_section(page, "Cameras and shaming", ".lever-surveillance-cameras-points")
    points = page.locator(".lever-surveillance-cameras-points textarea")
    for text, message in (
        ("2016-01-01 100,000,000\n2020 5", "line 2 is not 'YYYY-MM-DD value'"),
        ("2016-01-01 100,000,000\n2015-01-01 5", "must be strictly increasing"),
    ):
        points.fill(text)
        points.press("Tab")
        expect(error_beside(page, ".lever-surveillance-cameras-points")).to_contain_text(message)
    points.fill("2016-01-01 100,000,000\n2020-12-31 200,000,000")
    points.press("Tab")
    expect(status).to_contain_text("valid scenario (3 levers changed)")
    open_section(page, "Rollout", ".lever-rollout-points")
    steps = page.locator(".lever-rollout-points textarea")
    steps.fill("2018-01-01 0.5\n2019-01-01 1")
    steps.press("Tab")
    expect(status).to_contain_text("valid scenario (4 levers changed)")
    open_section(page, "Sanctions and rewards", ".lever-rewards")
    page.locator(".lever-rewards input").uncheck()
    expect(status).to_contain_text("valid scenario (5 levers changed)")
    open_section(page, "Targeted groups", ".add-multiplier")
    page.locator(".add-multiplier select").select_option(label="journalists: jaywalking")
    lever = ".lever-groups-journalists-rate-multipliers-jaywalking"
    set_number(page, lever, "4")
    expect(status).to_contain_text("valid scenario (6 levers changed)")
    expect(
        page.locator(".add-multiplier option", has_text="journalists: jaywalking")
    ).to_have_count(0)
    sc = load_scenario(tomllib.load(io.BytesIO(download(page, "Download TOML").read_bytes())))
    assert sc.surveillance.cameras == [(dt.date(2016, 1, 1), 1e8), (dt.date(2020, 12, 31), 2e8)]
    assert [(s.date, s.share) for s in sc.rollout] == [(dt.date(2018, 1, 1), 0.5),
                                                       (dt.date(2019, 1, 1), 1.0)]  # fmt: skip
    assert sc.rewards == []
    journalists = next(g for g in sc.groups if g.name == "journalists")
    assert journalists.rate_multipliers == {"online_rumours": 5.0, "jaywalking": 4.0}


def test_no_request_leaves_localhost_and_ctrl_c_stops_cleanly(
    server: tuple[str, Path, Any], browser: tuple[Any, list[str]]
) -> None:
    url, _, proc = server
    requests = browser[1]
    local = (url, f"blob:{url[:-1]}")
    assert requests and all(u.startswith(local) for u in requests), [
        u for u in requests if not u.startswith(url)
    ]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0  # Ctrl-C is how it stops: a clean exit
