"""Calibration against published figures: series names, checks before work, the fit itself,
its outputs and the command line. Tiny, short runs (court-list to the end of 2015)."""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
import tomllib
from pathlib import Path

import numpy as np
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
from socialcreditsim.scenario import schedule_values
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
            ["court_list.pay_per_blocked_attempt", "at most 1 (a probability)"],
        ),
        (
            ("2014-12-31", "listed_cumulative", 1),
            "court_list.compliance_per_year=0:inf",
            ["court_list.compliance_per_year=0:inf", "finite"],
        ),
        (
            ("2014-12-31", "listed_cumulative", 1),
            "court_list.compliance_per_year=0.1:1e300",
            ["court_list.compliance_per_year", "at most 3,650 (at most ten a day)"],
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
FIT = ["court_list.compliance_per_year=0.05:1.5", f"{RATE}*=0.5:2"]
# the fit: one replicate of a million agents, seed 11, a fixed number of trials (not a time
# budget, so the result does not depend on the machine); the targets: one run of four million
# agents on seed 1000, which no trial uses. A run costs about a second whatever N up to a few
# million (the days, not the agents, cost), so big N is the cheap way to small noise.
AGENTS, SEED, TRIALS = 1_000_000, 11, 24
TARGET_AGENTS, TARGET_SEED = 4_000_000, 1000
# series: (date, name, kind for the noise model: listed, blocked attempts of a sanction, or
# complied exits)
WANTED = [
    ("2014-12-31", "listed_cumulative", ("listed", None)),
    ("2015-12-31", "listed_cumulative", ("listed", None)),
    ("2015-06-30", "flight_purchases_blocked_cumulative", ("attempts", "flights")),
    ("2015-12-31", "flight_purchases_blocked_cumulative", ("attempts", "flights")),
    ("2015-12-31", "train_purchases_blocked_cumulative", ("attempts", "trains")),
    ("2015-12-31", "court_list_exits:complied_cumulative", ("complied", None)),
]


@pytest.fixture(scope="module")
def recent(short: scs.Scenario) -> scs.Scenario:
    """court-list from mid-2014 (the list starts empty then), to the end of 2015: two thirds of
    the days, so two thirds of the time a run takes."""
    return short.with_overrides({"time.start": "2014-07-01"})


def truth_scenario(sc: scs.Scenario, compliance: float, factor: float) -> scs.Scenario:
    """The scenario with the given compliance and the listing rate schedule times ``factor``."""
    rate = [(date, value * factor) for date, value in sc.behaviours[0].rate]
    return sc.with_overrides({"court_list.compliance_per_year": compliance, RATE: rate})


def noise_model(sc: scs.Scenario, n_agents: int) -> tuple[np.ndarray, np.ndarray]:
    """Expected values of the WANTED series in one run of ``n_agents`` agents (in agents) and
    their covariance, in closed form.

    Listings arrive as a Poisson process, separately in urban and rural places, at the
    scenario's rate times the scored people (a record against somebody already listed renews
    instead, about 1% of records: neglected). Each listing stays X = min(G, D) days: G >= 1
    geometric with the daily payment probability h = h0 + pressure (urban or rural), D the
    listing duration. Every series is a sum over listings of a mark: 1 for an entry up to the
    date; min(X, days to the date) listed days, times the attempts a day, for blocked
    attempts; 1 if it ended by payment by the date, times the chance h0 / h that it was not
    "under pressure", for complied exits. By Campbell's theorem the means are sums over entry
    days of rate x E[mark] and the covariances sums of rate x E[mark_i mark_j]; blocked
    attempts add their own Poisson variance (and covariance between dates of one sanction)."""
    start = sc.time.start
    n_days = (sc.time.end - start).days + 1
    days = [start + dt.timedelta(days=d) for d in range(n_days)]
    rate = np.array(schedule_values(sc.behaviours[0].rate, days)) / 365
    _, shares, urban = sc.region_table()
    u = float(np.dot(shares, urban) / np.sum(shares))
    scored = n_agents * (1 - sc.population.child_share)
    court = sc.court_list
    h0 = -np.expm1(-court.compliance_per_year / 365)
    D = court.duration_days
    x = np.arange(1, D + 1)  # the stay
    entry = np.arange(n_days)
    when = [((dt.date.fromisoformat(d) - start).days, kind) for d, _, kind in WANTED]
    mean = np.zeros(len(WANTED))
    cov = np.zeros((len(WANTED), len(WANTED)))
    for share, is_urban in ((u, True), (1 - u, False)):
        per_day = {
            m.name: (m.per_year_urban if is_urban else m.per_year_rural) / 365 for m in sc.sanctions
        }
        pressure = min(1.0, court.pay_per_blocked_attempt * sum(per_day.values()))
        h = h0 + pressure
        p_stay = (1 - h) ** (x - 1) * h
        p_stay[-1] = (1 - h) ** (D - 1)  # expired on day D (expiry wins a tie)
        lam = scored * share * rate  # entries a day
        marks, weights = [], []
        for t, (kind, item) in when:
            before = (entry <= t)[:, None]
            if kind == "listed":
                marks.append(np.broadcast_to(before, (n_days, D)).astype(float))
                weights.append(1.0)
            elif kind == "attempts":
                marks.append(np.minimum(x[None, :], np.maximum(t - entry + 1, 0)[:, None]))
                weights.append(per_day[item])
            else:
                paid = (x[None, :] <= (t - entry)[:, None]) & (x[None, :] < D)
                marks.append((before & paid).astype(float))
                weights.append(h0 / h)
        for i, (mi, wi) in enumerate(zip(marks, weights, strict=True)):
            mean[i] += wi * (lam[:, None] * mi * p_stay).sum()
            for j, (mj, wj) in enumerate(zip(marks, weights, strict=True)):
                both = wi if when[i][1][0] == when[j][1][0] == "complied" else wi * wj
                cov[i, j] += both * (lam[:, None] * mi * mj * p_stay).sum()
    for i, (ti, (ki, si)) in enumerate(when):  # attempts are Poisson given the listed days
        for j, (tj, (kj, sj)) in enumerate(when):
            if ki == kj == "attempts" and si == sj:
                first = i if ti <= tj else j
                cov[i, j] += mean[first]
    return mean, cov


def fit_error_sd(sc: scs.Scenario) -> np.ndarray:
    """Standard deviations of the fitted log compliance and log factor.

    The fit minimises the sum of (log simulated - log target)^2 over log compliance and log
    factor (both boxes are log scales). Linearised about the truth, its error is
    (J'J)^-1 J' e, J the derivatives of the expected log series (finite differences of
    noise_model's means), e = (noise of the fit's run) - (noise of the targets' run): relative
    covariances C / (m m') at AGENTS and at TARGET_AGENTS, independent (different seeds). So the
    covariance of the error is (J'J)^-1 J' (S_fit + S_target) J (J'J)^-1."""
    c, f = TRUTH["compliance"], TRUTH["factor"]

    def log_means(c: float, f: float) -> np.ndarray:
        return np.log(noise_model(truth_scenario(sc, c, f), AGENTS)[0])

    step = 1e-4
    here = log_means(c, f)
    J = np.column_stack(
        [
            (log_means(c * np.exp(step), f) - here) / step,
            (log_means(c, f * np.exp(step)) - here) / step,
        ]
    )
    S = np.zeros((len(WANTED), len(WANTED)))
    for n in (AGENTS, TARGET_AGENTS):
        mean, cov = noise_model(truth_scenario(sc, c, f), n)
        S += cov / np.outer(mean, mean)
    A = np.linalg.inv(J.T @ J) @ J.T
    return np.sqrt(np.diag(A @ S @ A.T))


@pytest.fixture(scope="module")
def synthetic(recent: scs.Scenario, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Targets made by the simulator with known values, on a seed the fit never uses: they
    carry their own noise, so no trial can match them all (the objective cannot reach 0)."""
    sc = truth_scenario(recent, TRUTH["compliance"], TRUTH["factor"])
    res = scs.Sim(sc, n_agents=TARGET_AGENTS, seed=TARGET_SEED, threads=1).run()
    rows = [
        (date, name, float(simulated_series(res, series_spec(name, sc)).loc[date]))
        for date, name, _ in WANTED
    ]
    return write_targets(tmp_path_factory.mktemp("targets") / "synthetic.csv", rows)


@pytest.fixture(scope="module")
def fitted(recent: scs.Scenario, synthetic: Path):
    return calibrate(
        recent,
        synthetic,
        FIT,
        n_agents=AGENTS,
        replicates=1,
        budget=3600,
        trials=TRIALS,
        seed=SEED,
        threads=1,
    )


def test_calibration_recovers_known_values(recent: scs.Scenario, fitted) -> None:
    """The fit finds the values the targets were made with, within Z = 5 standard deviations
    of its error from the noise of the two runs (fit_error_sd: about 0.05 for the log
    compliance and 0.03 for the log factor, so within about 28% and 17%)."""
    compliance, factor = fitted.values
    assert fitted.start_values == [0.25, 1.0]
    assert 0 < fitted.objective < fitted.start_objective / 10
    sd_compliance, sd_factor = fit_error_sd(recent)
    assert sd_compliance < 0.1 and sd_factor < 0.05  # the test has power
    assert abs(math.log(compliance / TRUTH["compliance"])) < 5 * sd_compliance, compliance
    assert abs(math.log(factor / TRUTH["factor"])) < 5 * sd_factor, factor
    assert fitted.ok, fitted.table
    assert fitted.scenario.court_list.compliance_per_year == compliance
    assert fitted.scenario.time.end.isoformat() == END  # runs stopped at the last target only
    assert "calibrated" in fitted.scenario.meta.description


def test_calibration_is_deterministic(recent: scs.Scenario, synthetic: Path) -> None:
    fit = ["court_list.compliance_per_year=0.05:1.5"]
    a, b = (
        calibrate(recent, synthetic, fit, n_agents=10_000, replicates=1, trials=4, seed=3)
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
    assert "6 trials" in result.stdout and "(stopped: trials)" in result.stdout
    assert f"results written to {out}" in result.stdout
    table = pd.read_csv(out / "fit.csv")
    assert list(table["target"]) == [203000, 700000]
    # the printed table says what fit.csv says, row by row: the numbers and "within 10%"
    lines = result.stdout.splitlines()
    for r in table.itertuples(index=False):
        row = [line for line in lines if r.date in line and r.series in line]
        assert len(row) == 1, (r.date, result.stdout)
        within = "yes" if abs(r.relative_error) <= 0.10 else "NO"
        for text in (f"{r.target:,.0f}", f"{r.simulated:,.0f}", f"{r.relative_error:+.1%}"):
            assert text in row[0], (text, row[0])
        assert row[0].replace("│", " ").split()[-1] == within, row[0]  # the last column
    misfits = int((table["relative_error"].abs() > 0.10).sum())
    verdict = (
        "every published figure is within 10% (2 of 2)"
        if misfits == 0
        else f"could not fit: {misfits} of 2 published figures are off by more than 10%"
    )
    assert verdict in result.stdout
    # the factor printed is the one written: the calibrated rate over the scenario's rate
    printed = re.search(rf"fitted: {re.escape(RATE)} x ([0-9.]+)", result.stdout)
    assert printed is not None, result.stdout
    calibrated = tomllib.loads((out / "calibrated.toml").read_text())["behaviours"][0]["rate"]
    original = scs.load_scenario("court-list").behaviours[0].rate
    ratios = [new[1] / old[1] for new, old in zip(calibrated, original, strict=True)]
    assert max(ratios) == pytest.approx(min(ratios), rel=1e-5)
    assert float(printed.group(1)) == pytest.approx(ratios[0], rel=1e-3)
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


def test_on_a_cluster_this_machines_memory_is_not_what_limits_a_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run too big for this machine is refused before any work, unless it runs on a cluster,
    whose workers' memory the executor checks."""
    from socialcreditsim import engine
    from socialcreditsim.calibrate import prepare

    monkeypatch.setattr(engine, "available_memory", lambda: 2**20)
    sc = scs.load_scenario("court-list")
    fit = ["court_list.compliance_per_year=0.1:0.5"]
    with pytest.raises(scs.NotEnoughMemory, match="GiB is available"):
        prepare(sc, None, fit, n_agents=100_000)
    targets, params, seeds = prepare(sc, None, fit, n_agents=100_000, local=False)
    assert targets and [p.key for p in params] == ["court_list.compliance_per_year"] and seeds
