"""The report: every figure in the HTML and as PNG and SVG files, its numbers equal to the Parquet
tables, atomic writing, replicates, comparisons and sweeps, and rendering in headless Chromium."""

from __future__ import annotations

import base64
import html
import re
import warnings
from pathlib import Path

import duckdb
import numpy as np
import pytest

import socialcreditsim as scs
from minimal import minimal, records, total
from socialcreditsim import executor, report
from socialcreditsim.replicates import MultiResults, MultiSim

SHORT = ["time.end=2018-05-31", "output.audit_sample=100"]
RAW = [*SHORT, "output.raw_counts=true"]
FIGURES = {  # the national scenario has every figure
    "published",
    "sanctions",
    "blocked_attempts",
    "lists",
    "shamings",
    "due_process",  # deterrence, chilling and listings at discretion
    "scores",
    "grades",
    "regions",
    "who",
    "disparities",
}
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    res = scs.Sim("national", n_agents=20_000, seed=5, overrides=RAW, threads=1).run()
    out = res.save(tmp_path_factory.mktemp("report") / "run")
    report.write_report(out)
    return out


def sections(path: Path) -> dict[str, dict]:
    """Each section of a report: its figure (SVG bytes), caption and table (header, rows of
    cells: the exact value where a cell has one, else its text)."""
    text = path.read_text()
    out = {}
    for name, body in re.findall(r'<section id="([^"]+)">(.*?)</section>', text, re.S):
        img = re.search(r'<img src="data:image/svg\+xml;base64,([^"]+)"', body)
        caption = re.search(r'<(?:figcaption|p class="caption")>(.*?)</', body, re.S)
        header = [html.unescape(h) for h in re.findall(r"<th>(.*?)</th>", body)]
        rows = []
        for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[-1]):
            cells = re.findall(r'<td(?: class="num" data-value="([^"]*)")?>(.*?)</td>', row)
            rows.append(
                {
                    col: float(value) if value else html.unescape(shown)
                    for col, (value, shown) in zip(header, cells, strict=True)
                }
            )
        out[name] = {
            "svg": base64.b64decode(img.group(1)) if img else None,
            "caption": html.unescape(caption.group(1)) if caption else "",
            "rows": rows,
            "header": header,
        }
    return out


def sql(run_dir: Path, query: str) -> list[tuple]:
    con = duckdb.connect()
    for name in ("timeseries", "snapshots"):
        con.execute(f"create view {name} as select * from '{run_dir / name}.parquet'")
    return con.execute(query).fetchall()


def test_every_figure_is_in_the_html_and_in_png_and_svg_files(run_dir: Path) -> None:
    found = sections(run_dir / "report.html")
    assert {n for n, s in found.items() if s["svg"] is not None} == FIGURES
    assert set(found) == FIGURES | {"headline"}
    for name in FIGURES:
        svg = (run_dir / "figures" / f"{name}.svg").read_bytes()
        assert found[name]["svg"] == svg and svg.lstrip().startswith(b"<?xml")
        png = (run_dir / "figures" / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5_000
    for name, s in found.items():
        assert len(s["caption"]) > 80 and s["rows"], name
    counted = ["headline", "sanctions", "blocked_attempts", "lists", "shamings", "regions", "who"]
    for name in counted:  # raw counts, said so with the people per agent
        assert (
            "Counts are raw agent counts, not scaled (each agent stands for 70,588.9"
            in (found[name]["caption"])
        )
    text = (run_dir / "report.html").read_text()
    for name in found:  # the table of contents links every section
        assert f'<a href="#{name}">' in text
    assert "http://" not in text and "https://" not in text  # nothing to fetch: opens offline
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".report-")]


def test_numbers_equal_the_parquet_tables(run_dir: Path) -> None:
    found = sections(run_dir / "report.html")
    nat = "from timeseries where region = 'national'"
    last = f"date = (select max(date) {nat})"
    # people barred at the end and blocked attempts over the run, per sanction and truth
    for name, metric, when in (
        ("sanctions", "sanctioned_people", last),
        ("blocked_attempts", "blocked_attempts", "true"),
    ):
        rows = {r["sanction"]: r for r in found[name]["rows"]}
        got = sql(
            run_dir,
            f"select item, truth, sum(value) {nat} and metric = '{metric}' and {when} group by all",
        )
        assert len(got) == 2 * len(rows) == 14
        for item, truth, value in got:
            assert rows[item][truth] == value, (name, item, truth)
        flights = rows["flights"]
        total = flights["rightful"] + flights["wrongful"]
        assert flights["wrongful share"] == flights["wrongful"] / total
    # shamings by behaviour
    for behaviour, truth, value in sql(
        run_dir, f"select item, truth, sum(value) {nat} and metric = 'shamings' group by all"
    ):
        rows = {r["behaviour"]: r for r in found["shamings"]["rows"]}
        if behaviour in rows:
            assert rows[behaviour][truth] == value
    assert found["shamings"]["rows"][0]["rightful"] > 0
    # list stocks at the end and flows over the run
    lists = {r["series"]: r["value"] for r in found["lists"]["rows"]}
    ((court,),) = sql(run_dir, f"select sum(value) {nat} and metric = 'court_listed' and {last}")
    ((entries,),) = sql(run_dir, f"select sum(value) {nat} and metric = 'court_list_entries'")
    assert lists["court list"] == court and lists["court list: entries"] == entries > 0
    # headline figures
    headline = {r["figure"]: r["value"] for r in found["headline"]["rows"]}
    assert headline["court list: new listings (over the run)"] == entries
    ((wrong,),) = sql(
        run_dir,
        f"select sum(value) {nat} and metric = 'events_recorded' and truth = 'wrongful'",
    )
    assert headline["wrongly recorded events (over the run)"] == wrong > 0
    # against published figures: the cumulative count at the date, scaled up, plus the count
    # from before the start
    sc = scs.load_scenario(run_dir / "scenario.toml")
    scale = scs.Results.load(run_dir).manifest["scale"]
    for row in found["published"]["rows"]:
        item = {"flight": "flights", "train": "trains"}[row["series"].split("_")[0]]
        ((n,),) = sql(
            run_dir,
            f"select sum(value) {nat} and metric = 'blocked_attempts' and item = '{item}'"
            f" and date <= '{row['date']}'",
        )
        expect = n * scale + sc.initial.cumulative[f"blocked_attempts:{item}"]
        assert row["simulated"] == expect and row["published"] > 0
        assert row["simulated / published"] == expect / row["published"]
    # snapshots: score distribution, grades, regions, who is hit
    snaps = "from snapshots where dimension = 'national'"
    hist = sql(
        run_dir,
        "select strftime(date, '%Y-%m-%d'), bin, value / sum(value) over (partition by date)"
        f" {snaps} and metric = 'score_histogram'",
    )
    shares = {(d, b): v for d, b, v in hist}
    for row in found["scores"]["rows"]:
        for col, share in row.items():
            if col.startswith("share on "):
                date = col.removeprefix("share on ")
                assert share == shares.get((date, row["score bin start"]), 0.0), (date, row)
    assert len(found["scores"]["header"]) == 6  # the bin and five dates
    grades = sql(run_dir, f"select strftime(date, '%Y-%m-%d'), metric, value {snaps}")
    rows = {r["date"]: r for r in found["grades"]["rows"]}
    checked = 0
    for date, metric, value in grades:
        if metric.startswith("share_grade_"):
            assert rows[date][f"share {metric.removeprefix('share_grade_')}"] == value
            checked += 1
    assert checked == len(rows) * 6 > 0
    end = "date = (select max(date) from snapshots)"
    for name, key in (("regions", "region"), ("who", "category")):
        rows = {(r.get("dimension", "region"), r[key]): r for r in found[name]["rows"]}
        got = sql(
            run_dir,
            "select dimension, category, metric, value from snapshots where"
            f" dimension in ('region', 'urban_rural', 'age_band', 'propensity', 'group') and {end}"
            " and metric in ('share_sanctioned_rightful', 'share_sanctioned_wrongful')",
        )
        for dim, cat, metric, value in got:
            if (dim, cat) in rows:
                assert rows[(dim, cat)][metric.replace("_", " ")] == value
    assert rows[("age_band", "child")]["share sanctioned rightful"] >= 0
    assert len(found["regions"]["rows"]) == 31


def test_published_figures_outside_the_run_or_the_scenario_are_not_covered(
    tmp_path: Path,
) -> None:
    published = [
        {"date": "2020-03-01", "series": "events_recorded:x_cumulative", "value": 5.0},
        {"date": "2021-03-01", "series": "events_recorded:x_cumulative", "value": 9.0},
        {"date": "2020-03-01", "series": "flight_purchases_blocked_cumulative", "value": 7.0},
    ]
    sc = minimal(
        days=120,
        behaviours=[{"name": "x", "rate": 2.0, "channel": "records", "score_change": -5}],
        published=published,
    )
    path = scs.Sim(sc, n_agents=2_000, seed=1, threads=1).run().save(tmp_path / "run")
    found = sections(report.write_report(path))
    rows = found["published"]["rows"]
    covered, outside, sanction = rows
    ((n,),) = sql(
        path,
        "select sum(value) from timeseries where region = 'national' and metric ="
        " 'events_recorded' and date <= '2020-03-01'",
    )
    assert covered["simulated"] == n * 1_000_000 / 2_000 and covered["note"] == ""
    assert outside["note"].startswith("not covered: the run covers 2020-01-01 to 2020-04-29")
    assert "not covered" in sanction["note"] and "flights" in sanction["note"]
    assert outside["simulated"] == sanction["simulated"] == ""
    assert found["published"]["svg"] is not None  # the covered one is drawn
    assert "sanctions" not in found and "shamings" not in found  # nothing to show
    assert "due_process" not in found  # no deterrence, discretion, appeals or repair


def test_interrupted_write_leaves_the_old_report(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (run_dir / "report.html").read_bytes()
    monkeypatch.setattr(report, "RUN_FIGURES", report.RUN_FIGURES[:1])  # headline table only

    def fail(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(report.os, "replace", fail)
    with pytest.raises(KeyboardInterrupt):
        report.write_report(run_dir)
    assert (run_dir / "report.html").read_bytes() == before
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".report-")]


def test_the_same_run_gives_the_same_report_bytes(run_dir: Path, tmp_path: Path) -> None:
    """Also when the figures are drawn in worker processes (the command line's way), not in
    this one as for ``run_dir``."""
    again = scs.Results.load(run_dir).save(tmp_path / "again")
    report.write_report(again, processes=2)
    assert (again / "report.html").read_bytes() == (run_dir / "report.html").read_bytes()
    for file in (run_dir / "figures").iterdir():
        assert (again / "figures" / file.name).read_bytes() == file.read_bytes(), file.name


def test_without_worker_processes_the_report_is_drawn_here(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where worker processes cannot start (no /dev/shm in a sandbox, say), the same report,
    and a warning that says why it took longer."""
    again = scs.Results.load(run_dir).save(tmp_path / "again")
    monkeypatch.setattr(report, "RUN_FIGURES", report.RUN_FIGURES[:3])

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(38, "Function not implemented")  # what SemLock says without /dev/shm

    monkeypatch.setattr(executor, "ProcessPoolExecutor", refuse)
    with pytest.warns(RuntimeWarning, match="drawn in this process.*Function not implemented"):
        report.write_report(again, processes=2)
    for spec in report.RUN_FIGURES[1:3]:
        file = f"{spec.name}.svg"
        assert (again / "figures" / file).read_bytes() == (run_dir / "figures" / file).read_bytes()


def test_an_error_in_a_worker_is_the_reports_error(tmp_path: Path, run_dir: Path) -> None:
    """Not taken for workers that cannot start: no drawing again here, no warning."""
    damaged = scs.Results.load(run_dir).save(tmp_path / "damaged")
    (damaged / "timeseries.parquet").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FileNotFoundError, match="timeseries.parquet: missing"):
            report.write_report(damaged, processes=2)


def test_date_ticks_fixed_before_drawing_give_the_same_files(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report fixes each date axis's ticks before drawing (a tenth of the time): the
    files are those Matplotlib draws with its own date locator."""
    again = scs.Results.load(run_dir).save(tmp_path / "again")
    dated = ("sanctions", "lists")  # a grid with twin axes, and one without
    monkeypatch.setattr(report, "RUN_FIGURES", [f for f in report.RUN_FIGURES if f.name in dated])
    monkeypatch.setattr(report, "_fix_date_ticks", lambda fig: None)
    report.write_report(again)
    for file in [f"{name}.{kind}" for name in dated for kind in ("png", "svg")]:
        assert (again / "figures" / file).read_bytes() == (run_dir / "figures" / file).read_bytes()


def test_not_a_folder_with_a_manifest(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        report.write_report(tmp_path)


def test_replicates_report_shows_median_and_band(tmp_path: Path) -> None:
    multi = MultiSim(
        "national", n_agents=5_000, replicates=3, overrides=SHORT, processes=1, seed=2
    ).run()
    path = multi.save(tmp_path / "reps")
    fig = MultiResults.load(path).plot()
    assert len(fig.axes) == 4 and all(ax.collections for ax in fig.axes)  # bands drawn
    found = sections(report.write_report(path))
    assert {n for n, s in found.items() if s["svg"]} == FIGURES
    assert "median of 3 replicates" in found["sanctions"]["caption"]
    assert "first replicate (seed 2)" in found["regions"]["caption"]
    # blocked attempts over the run: median and band of the replicates' totals
    con = duckdb.connect()
    totals = con.execute(
        f"select replicate, item, truth, sum(value) from '{path}/replicates.parquet'"
        " where metric = 'blocked_attempts' group by all"
    ).fetchall()
    rows = {r["sanction"]: r for r in found["blocked_attempts"]["rows"]}
    for item in rows:
        values = [v for _, i, t, v in totals if i == item and t == "rightful"]
        med, lo, hi = np.percentile(values, [50, 10, 90], method="weibull")
        row = rows[item]
        assert row["rightful (median)"] == med
        assert (row["rightful (10th pct)"], row["rightful (90th pct)"]) == (lo, hi)
    # acts prevented by deterrence over the run: median and band as well
    per_rep = con.execute(
        f"select replicate, sum(value) from '{path}/replicates.parquet' where metric ="
        " 'events_deterred' and item = 'jaywalking' group by all"
    ).fetchall()
    med, lo, hi = np.percentile([v for _, v in per_rep], [50, 10, 90], method="weibull")
    rows = {r["figure"]: r for r in found["due_process"]["rows"]}
    row = rows["events prevented by deterrence: jaywalking"]
    exact = (row["value (median)"], row["value (10th pct)"], row["value (90th pct)"])
    assert exact == pytest.approx((med, lo, hi), rel=1e-12)  # scaled: summed in another order
    assert med > 0 and "median of 3 replicates" in found["due_process"]["caption"]


def test_comparison_and_sweep_reports(tmp_path: Path) -> None:
    cmp = scs.Comparison(
        ["national"],
        ["surveillance.fpir=0"],
        sets=SHORT,
        n_agents=5_000,
        replicates=2,
        processes=1,
    ).run()
    found = sections(report.write_report(cmp.save(tmp_path / "cmp")))
    assert {n for n, s in found.items() if s["svg"]} == {"compare_series", "compare_differences"}
    diffs = {r["figure"]: r for r in found["compare_differences"]["rows"]}
    wrong = diffs["wrongly recorded events (over the run)"]
    base = cmp.outputs.query("arm == 'national' and output == 'events_recorded/wrongful'")
    assert wrong["diff median"] == -np.median(base["value"]) < 0
    arms = {(r["arm"], r["series"]) for r in found["compare_series"]["rows"]}
    assert ("surveillance.fpir=0", "Bans in force, summed over sanctions") in arms
    assert (tmp_path / "cmp" / "figures" / "compare_differences.png").is_file()
    # secrecy and due process by arm: medians over replicates of the totals over the run
    series = cmp.series
    for arm in cmp.arms:
        part = series[(series["arm"] == arm) & (series["metric"] == "events_deterred")]
        per_rep = part.groupby("replicate")["value"].sum()
        row = {r["figure"]: r for r in found["compare_due_process"]["rows"] if r["arm"] == arm}[
            "events prevented by deterrence: jaywalking"
        ]
        jay = part[part["item"] == "jaywalking"].groupby("replicate")["value"].sum()
        median = np.percentile(jay, 50, method="weibull")
        assert row["median"] == pytest.approx(median, rel=1e-12) and median > 0
        assert per_rep.min() >= jay.min()
    sweep = scs.Sweep(
        "national",
        ["surveillance.fpir=0.001:0.05:2"],
        n_agents=3_000,
        replicates=1,
        overrides=SHORT,
        targets=["events_recorded/wrongful"],
        processes=1,
    ).run()
    found = sections(report.write_report(sweep.save(tmp_path / "sweep")))
    assert set(found) == {"sweep_outputs"}  # a grid has no Sobol indices
    rows = found["sweep_outputs"]["rows"]
    assert [r["surveillance.fpir"] for r in rows] == [0.001, 0.05]
    assert rows[1]["median"] > rows[0]["median"]


def due_process_totals(res: scs.Results) -> dict[str, float]:
    """What the 'Secrecy and due process' table should say, from the daily series."""
    out = {}
    for b in res.scenario.behaviours:
        if b.chilled_by is not None:
            out[f"lawful acts forgone: {b.name} (chilled by {b.chilled_by})"] = total(
                res, "events_deterred", item=b.name
            )
        elif b.deterrence_elasticity > 0:
            out[f"events prevented by deterrence: {b.name}"] = total(
                res, "events_deterred", item=b.name
            )
    out["listings at discretion"] = total(res, "court_list_entries", item="at_discretion")
    for metric in ("appeals", "corrections"):
        for truth in ("rightful", "wrongful"):
            out[f"{metric}: {truth} records"] = total(res, metric, item="records", truth=truth)
        out[f"{metric}: listings at discretion"] = total(res, metric, item="at_discretion")
    for item, truth, what in (
        ("records", "wrongful", "a wrongful record"),
        ("at_discretion", "", "a listing at discretion"),
    ):
        n = total(res, "corrections", item=item, truth=truth)
        days = total(res, "correction_days", item=item, truth=truth)
        out[f"mean days from {what} to its correction"] = days / n if n else np.nan
    for reason in ("complied", "complied_under_pressure", "expired", "corrected", "repaired"):
        out[f"court list exits: {reason.replace('_', ' ')}"] = total(
            res, "court_list_exits", item=reason
        )
    if res.scenario.blacklist.enabled:
        for reason in ("recovered", "corrected"):
            out[f"blacklist exits: {reason}"] = total(res, "blacklist_exits", item=reason)
    if res.scenario.sanctions:
        for truth in ("rightful", "wrongful"):
            out[f"sanction-days ({truth})"] = total(res, "sanctioned_people_any", truth=truth)
    return out


def due_process_report(path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict]:
    """The report of a run folder with only its 'Secrecy and due process' section (fast)."""
    only = tuple(f for f in report.RUN_FIGURES if f.name == "due_process")
    monkeypatch.setattr(report, "RUN_FIGURES", only)
    return sections(report.write_report(path))


def test_secrecy_and_due_process_table_equals_the_series(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """National with appeals, more listings at discretion and credit repair: every number of
    the section's table is the sum of its daily series over the run (a stock's: person-days),
    and the mean days to a correction is their summed days over their number."""
    more = ["appeals.probability=0.5", "discretionary_listing.per_year=0.01"]
    more += ["court_list.repair_per_year=0.5"]
    res = scs.Sim("national", n_agents=20_000, seed=5, overrides=RAW + more, threads=1).run()
    path = res.save(tmp_path / "run")
    found = due_process_report(path, monkeypatch)["due_process"]
    assert found["svg"] == (path / "figures" / "due_process.svg").read_bytes()
    assert "successful appeal" in found["caption"] and "raw agent counts" in found["caption"]
    got = {r["figure"]: r["value"] for r in found["rows"]}
    expect = due_process_totals(res)
    assert list(got) == list(expect)
    for label, value in expect.items():
        assert got[label] == value or np.isnan(value) and got[label] == "", label
    # the totals straight from the Parquet table, for a few of them
    nat = "from timeseries where region = 'national'"
    ((forgone,),) = sql(
        path, f"select sum(value) {nat} and metric = 'events_deterred' and item = 'lawful_posts'"
    )
    assert got["lawful acts forgone: lawful_posts (chilled by online_rumours)"] == forgone > 0
    ((wrong_days,),) = sql(
        path, f"select sum(value) {nat} and metric = 'sanctioned_people_any' and truth = 'wrongful'"
    )
    assert got["sanction-days (wrongful)"] == wrong_days
    for label in ("appeals: rightful records", "listings at discretion"):
        assert got[label] > 0, label
    assert got["court list exits: corrected"] > 0 and got["court list exits: repaired"] > 0
    corrected = got["corrections: listings at discretion"]
    assert got["mean days from a listing at discretion to its correction"] == 60  # delay_days
    assert corrected > 0


DEBT = {**records("debt", 2.0, -1), "channel": "court"}
POSTS = {  # lawful, chilled by the scored debt
    "name": "posts",
    "channel": "online",
    "rate": 20.0,
    "score_change": 0,
    "record_probability": 0.0,
    "propensity": "none",
    "chilled_by": "debt",
    "chilling_elasticity": 0.8,
}
ELEMENTS = {  # one element of MODEL.md section 10 at a time
    "deterrence": {"behaviours": [{**DEBT, "deterrence_elasticity": 0.5}]},
    "chilling": {"behaviours": [DEBT, POSTS]},
    "discretion": {"discretionary_listing": {"per_year": 0.05}},
    "appeals": {"appeals": {"probability": 0.5, "delay_days": 10, "success_rightful": 0.2}},
    "repair": {"court_list": {"repair_per_year": 3.0}},
}


@pytest.mark.parametrize("element", [None, *ELEMENTS])
def test_secrecy_and_due_process_is_shown_when_the_run_has_one_of_them(
    element: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = {"behaviours": [DEBT], **ELEMENTS.get(element or "", {})}
    sc = minimal(days=120, **parts)
    res = scs.Sim(sc, n_agents=2_000, seed=1, threads=1).run()
    found = due_process_report(res.save(tmp_path / "run"), monkeypatch)
    if element is None:
        assert found == {}  # nothing to show: no section, no figure
        assert not list((tmp_path / "run" / "figures").iterdir())
        return
    rows = {r["figure"]: r["value"] for r in found["due_process"]["rows"]}
    expect = due_process_totals(res)
    assert rows.keys() == expect.keys()
    for label, value in expect.items():
        assert rows[label] == value or np.isnan(value) and rows[label] == "", label
    key = {
        "deterrence": "events prevented by deterrence: debt",
        "chilling": "lawful acts forgone: posts (chilled by debt)",
        "discretion": "listings at discretion",
        "appeals": "appeals: rightful records",
        "repair": "court list exits: repaired",
    }[element]
    assert rows[key] > 0
    assert found["due_process"]["svg"] is not None


def test_report_renders_in_chromium(run_dir: Path, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    args += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    fetched: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith(("file:", "data:"))
                    else (fetched.append(route.request.url), route.abort())
                ),
            )
            page.goto((run_dir / "report.html").as_uri(), wait_until="load")
            images = page.evaluate(
                """() => Array.from(document.images).map(img => {
                    const box = img.getBoundingClientRect();
                    return {complete: img.complete, width: img.naturalWidth,
                            box: box.width * box.height,
                            caption: img.closest('figure').querySelector('figcaption')
                                ?.textContent.trim().length ?? 0};
                })"""
            )
            figures = page.evaluate("() => document.querySelectorAll('figure').length")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            browser.close()
    assert len(images) == figures == len(FIGURES)
    for img in images:
        assert img["complete"] and img["width"] > 0 and img["box"] > 10_000, img
        assert img["caption"] > 80, img
    assert fetched == []
    assert (ARTIFACTS / "report.png").stat().st_size > 100_000
