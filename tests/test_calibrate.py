"""Calibration against published figures: series names, checks before work, the fit itself,
its outputs and the command line. Tiny, short runs (court-list to the end of 2015)."""

from __future__ import annotations

import csv
import math
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import socialcreditsim as scs
from socialcreditsim.calibrate import (
    CalibrationError,
    calibrate,
    parse_fit,
    published_targets,
    read_targets,
)
from socialcreditsim.cli import app
from socialcreditsim.replicates import replicate_seeds
from socialcreditsim.series import SeriesSpec, series_spec, simulated_series

END = "2015-12-31"
HEADER = ["date", "series", "value", "unit", "status", "source"]
ENV = {"COLUMNS": "200"}
RATE = "behaviours.defaulting_on_judgment.rate"


@pytest.fixture(scope="module")
def short() -> scs.Scenario:
    return scs.load_scenario("court-list", [f"time.end={END}"])


def write_targets(path: Path, rows: list[tuple[str, str, float]]) -> Path:
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for date, series, value in rows:
            out.writerow([date, series, value, "count", "synthetic", "made by a test, a, b"])
    return path


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), env=ENV)


# ------------------------------------------------------------------------------ series names


def test_named_series_map_to_metrics(short: scs.Scenario) -> None:
    assert series_spec("listed_cumulative", short) == SeriesSpec("court_list_entries", None, True)
    assert series_spec("flight_purchases_blocked_cumulative", short) == SeriesSpec(
        "blocked_attempts", "flights", True
    )
    assert series_spec("train_purchases_blocked_cumulative", short) == SeriesSpec(
        "blocked_attempts", "trains", True
    )
    assert series_spec("complied_under_pressure_cumulative", short) == SeriesSpec(
        "court_list_exits", "complied_under_pressure", True
    )
    # generic names: any metric, one item or all, cumulative or not
    assert series_spec("court_listed", short) == SeriesSpec("court_listed", None, False)
    assert series_spec("events_recorded:defaulting_on_judgment_cumulative", short) == (
        SeriesSpec("events_recorded", "defaulting_on_judgment", True)
    )
    assert series_spec("court_list_exits:expired", short) == SeriesSpec(
        "court_list_exits", "expired", False
    )
    # counts from before the start are added to cumulative blocked attempts
    before = short.with_overrides({"initial.cumulative": {"blocked_attempts:flights": 1e6}})
    assert series_spec("flight_purchases_blocked_cumulative", before).offset == 1e6
    assert series_spec("blocked_attempts:flights_cumulative", before).offset == 1e6
    assert series_spec("blocked_attempts:flights", before).offset == 0
    assert series_spec("train_purchases_blocked_cumulative", before).offset == 0


def test_simulated_series_are_the_run_series(short: scs.Scenario) -> None:
    sc = short.with_overrides({"initial.cumulative": {"blocked_attempts:flights": 1e6}})
    res = scs.Sim(sc, n_agents=5000, seed=1, threads=1).run()
    flights = simulated_series(res, series_spec("flight_purchases_blocked_cumulative", sc))
    expected = res.series("blocked_attempts", "flights", cumulative=True) + 1e6
    pd.testing.assert_series_equal(flights, expected)
    listed = simulated_series(res, series_spec("listed_cumulative", sc))
    pd.testing.assert_series_equal(listed, res.series("court_list_entries", cumulative=True))
    paid = simulated_series(res, series_spec("complied_under_pressure_cumulative", sc))
    assert paid.iloc[-1] == res.series("court_list_exits", "complied_under_pressure").sum() > 0
    # raw counts are scaled up to people, so that they compare with published figures
    raw = scs.Sim(
        sc.with_overrides({"output.raw_counts": True}), n_agents=5000, seed=1, threads=1
    ).run()
    again = simulated_series(raw, series_spec("flight_purchases_blocked_cumulative", sc))
    pd.testing.assert_series_equal(again, flights, check_exact=False, rtol=1e-9)


def test_read_targets_keeps_rows_and_lines(short: scs.Scenario, tmp_path: Path) -> None:
    path = write_targets(
        tmp_path / "t.csv",
        [("2014-12-31", "listed_cumulative", 700000), ("2015-06-30", "court_listed", 1e6)],
    )
    first, second = read_targets(path, short)
    assert (str(first.date), first.series, first.value, first.line) == (
        "2014-12-31",
        "listed_cumulative",
        700000,
        2,
    )
    assert first.source == "made by a test, a, b"
    assert second.spec == SeriesSpec("court_listed") and second.line == 3


# ------------------------------------------------------------------------------ errors


def _no_trains(tmp_path: Path) -> Path:
    data = scs.load_scenario("court-list").model_dump(mode="python")
    data["sanctions"] = [s for s in data["sanctions"] if s["name"] == "flights"]
    path = tmp_path / "flights-only.toml"
    path.write_text(scs.load_scenario(data).to_toml())
    return path


@pytest.mark.parametrize(
    ("row", "fit", "expected"),
    [
        (
            ("2014-12-31", "listed_total", 1),
            "court_list.compliance_per_year=0.1:0.5",
            ["line 2", "unknown series 'listed_total'", "allowed: listed_cumulative", "metrics"],
        ),
        (
            ("2012-01-01", "listed_cumulative", 1),
            "court_list.compliance_per_year=0.1:0.5",
            ["line 2", "outside the scenario's time range, 2013-10-01 to 2015-12-31"],
        ),
        (
            ("2014-12-31", "train_purchases_blocked_cumulative", 1),
            "court_list.compliance_per_year=0.1:0.5",
            ["line 2", "needs a sanction named 'trains'", "sanctions are ['flights']"],
        ),
        (
            ("2014-12-31", "blocked_attempts:boats_cumulative", 1),
            "court_list.compliance_per_year=0.1:0.5",
            ["line 2", "unknown item 'boats'", "items are ['flights']"],
        ),
        (
            ("2014-12-31", "court_listed_cumulative", 1),
            "court_list.compliance_per_year=0.1:0.5",
            ["line 2", "court_listed is a stock"],
        ),
        (
            ("2014-12-31", "listed_cumulative", 0),
            "court_list.compliance_per_year=0.1:0.5",
            ["line 2", "must be a positive number"],
        ),
        (
            ("2014-12-31", "listed_cumulative", 1),
            "court_list.compliance=0.1:0.5",
            ["--fit court_list.compliance: unknown field", "compliance_per_year"],
        ),
        (
            ("2014-12-31", "listed_cumulative", 1),
            "court_list.compliance_per_year=0.5:0.1",
            ["need lo < hi", "lo 0.5 and hi 0.1"],
        ),
        (
            ("2014-12-31", "listed_cumulative", 1),
            "court_list.pay_per_blocked_attempt=0.1:2",
            ["court_list.pay_per_blocked_attempt", "less than or equal to 1"],
        ),
        (
            ("2014-12-31", "listed_cumulative", 1),
            f"{RATE}=0.001:0.01",
            ["is a schedule of 5 points", f"{RATE}*=LO:HI"],
        ),
        (
            ("2014-12-31", "listed_cumulative", 1),
            "court_list.compliance_per_year",
            ["expected key=lo:hi"],
        ),
    ],
)
def test_bad_targets_and_fits_fail_with_one_clear_line(
    tmp_path: Path, row: tuple[str, str, float], fit: str, expected: list[str]
) -> None:
    targets = write_targets(tmp_path / "targets.csv", [row])
    out = tmp_path / "out"
    result = invoke(
        "calibrate",
        str(_no_trains(tmp_path)),
        "--targets",
        str(targets),
        "--fit",
        fit,
        "--set",
        f"time.end={END}",
        "--out",
        str(out),
    )
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    for phrase in expected:
        assert phrase in lines[0]
    if row[2] == 1 and "line 2" in expected:
        assert str(targets) in lines[0]  # names the file
    assert not out.exists()


def test_missing_columns_and_duplicate_fits(short: scs.Scenario, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("when,what,value\n2014-12-31,listed_cumulative,1\n")
    with pytest.raises(CalibrationError, match=r"missing \['date', 'series'\]"):
        read_targets(path, short)
    good = write_targets(tmp_path / "t.csv", [("2014-12-31", "listed_cumulative", 1)])
    fit = "court_list.compliance_per_year=0.1:0.5"
    with pytest.raises(CalibrationError, match="more than once"):
        calibrate(short, good, [fit, fit], n_agents=1000)


def test_fit_parameters(short: scs.Scenario) -> None:
    factor = parse_fit(f"{RATE}*=0.5:2", short)
    assert factor.factor and factor.start() == 1.0
    points = short.behaviours[0].rate
    assert factor.override(2.0) == [(d, pytest.approx(2 * v)) for d, v in points]
    days = parse_fit("court_list.duration_days=365:1095", short)
    assert days.whole and days.start() == 730
    assert isinstance(days.override(days.decode(0.3)), int)
    comply = parse_fit("court_list.compliance_per_year=0.05:0.6", short)
    assert comply.decode(comply.encode(0.25)) == 0.25  # log scale, 4 significant digits
    assert parse_fit("court_list.compliance_per_year=0.3:0.6", short).start() == pytest.approx(
        math.sqrt(0.3 * 0.6), rel=1e-3
    )  # outside the box: its (geometric) centre
    assert replicate_seeds(5, 3) == [5, 6, 7]


# ------------------------------------------------------------------------------ the fit

TRUTH = {"compliance": 0.6, "factor": 1.3}
AGENTS, SEED, REPLICATES = 10_000, 11, 1


@pytest.fixture(scope="module")
def synthetic(short: scs.Scenario, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Targets made by the simulator with known values, on the replicate seeds of the fit."""
    factor = parse_fit(f"{RATE}*=0.5:2", short)
    sc = short.with_overrides(
        {
            "court_list.compliance_per_year": TRUTH["compliance"],
            RATE: factor.override(TRUTH["factor"]),
        }
    )
    wanted = [
        ("2014-12-31", "listed_cumulative", "court_list_entries", None),
        ("2015-12-31", "listed_cumulative", "court_list_entries", None),
        ("2015-06-30", "flight_purchases_blocked_cumulative", "blocked_attempts", "flights"),
        ("2015-12-31", "flight_purchases_blocked_cumulative", "blocked_attempts", "flights"),
        ("2015-12-31", "train_purchases_blocked_cumulative", "blocked_attempts", "trains"),
    ]
    sums = [0.0] * len(wanted)
    seeds = replicate_seeds(SEED, REPLICATES)
    for seed in seeds:
        res = scs.Sim(sc, n_agents=AGENTS, seed=seed, threads=1).run()
        for i, (date, _, metric, item) in enumerate(wanted):
            sums[i] += res.series(metric, item, cumulative=True).loc[date]
    rows = [(w[0], w[1], s / len(seeds)) for w, s in zip(wanted, sums, strict=True)]
    return write_targets(tmp_path_factory.mktemp("targets") / "synthetic.csv", rows)


@pytest.fixture(scope="module")
def fitted(short: scs.Scenario, synthetic: Path):
    return calibrate(
        short,
        synthetic,
        ["court_list.compliance_per_year=0.05:1.5", f"{RATE}*=0.5:2"],
        n_agents=AGENTS,
        replicates=REPLICATES,
        budget=40,
        trials=40,
        seed=SEED,
    )


def test_calibration_recovers_known_values(fitted) -> None:
    compliance, factor = fitted.values
    assert fitted.start_values == [0.25, 1.0]
    # counts move in steps as a rate changes (the same seeds each trial), so "roughly"
    assert fitted.objective < fitted.start_objective / 10
    assert compliance == pytest.approx(TRUTH["compliance"], rel=0.2)
    assert factor == pytest.approx(TRUTH["factor"], rel=0.06)
    assert fitted.ok, fitted.table
    assert fitted.scenario.court_list.compliance_per_year == compliance
    assert fitted.scenario.time.end.isoformat() == END  # runs stopped at the last target only
    assert "calibrated" in fitted.scenario.meta.description


def test_calibration_is_deterministic(short: scs.Scenario, synthetic: Path) -> None:
    fit = ["court_list.compliance_per_year=0.05:1.5"]
    a, b = (
        calibrate(short, synthetic, fit, n_agents=AGENTS, replicates=1, trials=4, seed=3)
        for _ in range(2)
    )
    assert a.values == b.values and a.objective == b.objective and a.simulated == b.simulated
    assert a.trials == 4 and a.stopped == "trials"


def test_outputs_are_written(fitted, tmp_path: Path) -> None:
    out = fitted.save(tmp_path / "cal")
    assert sorted(p.name for p in out.iterdir()) == ["calibrated.toml", "fit.csv", "fit.png"]
    text = (out / "calibrated.toml").read_text()
    assert text.startswith("# court-list: calibrated by `socialcreditsim calibrate`")
    assert "# Fitted:" in text and "court_list.compliance_per_year = " in text
    assert "every published figure is within 10%".capitalize() in text
    again = scs.load_scenario(out / "calibrated.toml")
    assert again == fitted.scenario
    assert tomllib.loads(text)["court_list"]["compliance_per_year"] == fitted.values[0]
    table = pd.read_csv(out / "fit.csv")
    assert list(table.columns) == ["date", "series", "target", "simulated", "relative_error"]
    assert len(table) == len(fitted.targets)
    assert (out / "fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(FileExistsError):
        fitted.save(out)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial folder


def test_a_misfit_is_reported(short: scs.Scenario, tmp_path: Path) -> None:
    """Targets the fitted field cannot move: the output says it could not fit."""
    path = write_targets(tmp_path / "t.csv", [("2015-12-31", "listed_cumulative", 1e9)])
    res = calibrate(
        short,
        path,
        ["sanctions.flights.per_year_rural=0.1:1"],
        n_agents=5000,
        replicates=1,
        trials=3,
    )
    assert not res.ok and res.misfits == 1
    assert res.verdict().startswith("could not fit: 1 of 1")
    assert "> 10%" in "\n".join(res.table_lines())
    assert "Could not fit" in res.to_toml()


# ------------------------------------------------------------------------------ command line


def test_cli_calibrate(tmp_path: Path) -> None:
    targets = write_targets(
        tmp_path / "published.csv",
        [("2014-07-23", "listed_cumulative", 203000), ("2014-12-31", "listed_cumulative", 7e5)],
    )
    out = tmp_path / "cal"
    result = invoke(
        "calibrate",
        "court-list",
        "--targets",
        str(targets),
        "--fit",
        f"{RATE}*=0.5:2",
        "--set",
        "time.end=2014-12-31",
        "--agents",
        "20000",
        "--replicates",
        "1",
        "--budget",
        "20",
        "--trials",
        "6",
        "--seed",
        "2",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["calibrated.toml", "fit.csv", "fit.png"]
    assert "court-list: fit to published.csv" in result.stdout
    assert "within 10%" in result.stdout
    assert f"fitted: {RATE} x " in result.stdout
    assert "6 trials" in result.stdout and "(stopped: trials)" in result.stdout
    assert f"results written to {out}" in result.stdout
    table = pd.read_csv(out / "fit.csv")
    assert list(table["target"]) == [203000, 700000]
    # a folder in the way is refused before any work
    fit = f"{RATE}*=0.5:2"
    again = invoke(
        "calibrate", "court-list", "--targets", str(targets), "--fit", fit, "--out", str(out)
    )
    assert again.exit_code == 2 and "already exists and is not empty" in again.output


def test_the_scenario_s_published_figures_are_the_default_targets() -> None:
    sc = scs.load_scenario("court-list", [f"time.end={END}"])
    targets = published_targets(sc)
    assert [(str(t.date), t.series, t.value) for t in targets] == [
        ("2014-07-23", "listed_cumulative", 203_000),
        ("2014-12-31", "listed_cumulative", 700_000),
    ]
    with pytest.raises(CalibrationError, match="no published figures between"):
        published_targets(scs.load_scenario("rongcheng"))
