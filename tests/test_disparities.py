"""Disparities (disparities.py): per-capita shares listed and barred by category, their relative
risk against the national share and its interval over replicates; the `disparities` command and
the report's section.

The arithmetic (time weights, wrongful shares, metrics present or absent, the interval) is
checked exactly on hand-made snapshots; the meaning on runs: a targeted group's prevalence ratio
against the closed form of a court list without exits, and a time average that is person-days.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

import socialcreditsim as scs
from minimal import minimal, run
from socialcreditsim import report
from socialcreditsim.cli import app
from socialcreditsim.disparities import COLUMNS, disparities, run_shares, time_weights

Z = 5.0  # sigmas: a false alarm about once in 3.5 million runs
ENV = {"COLUMNS": "250"}  # wide tables, so rows are not wrapped in the captured output
BASE = ["court_listed", "blacklisted", "blacklisted/wrongful_share", "sanctioned",
        "sanctioned/wrongful_share", "rewarded"]  # fmt: skip


# ------------------------------------------------------------------------------ hand-made


def fake(
    seed: int = 1,
    values: dict[tuple[str, str, str], list[float]] | None = None,
    dates: tuple[str, ...] = ("2020-01-01", "2020-02-01", "2020-02-29"),
    scenario: Any = "s",
) -> scs.Results:
    """A run whose snapshots hold ``values`` by (dimension, category, metric), one value per
    date; the national row and a group "j" of 20 people among 100 by default."""
    people = {("national", "national"): 100, ("group", "general"): 80, ("group", "j"): 20}
    rows = []
    for k, date in enumerate(dates):
        for (dim, cat), n in people.items():
            rows += [(date, dim, cat, "people", np.nan, float(n))]
            rows += [(date, dim, cat, "mean_score", np.nan, 990.0)]
            rows += [(date, dim, cat, "share_grade_A", np.nan, 0.5)]
        for (dim, cat, metric), v in (values or {}).items():
            rows.append((date, dim, cat, metric, np.nan, v[k]))
        rows.append((date, "national", "national", "score_histogram", 990.0, 100.0))
    snap = pd.DataFrame(rows, columns=["date", "dimension", "category", "metric", "bin", "value"])
    snap["date"] = pd.to_datetime(snap["date"]).astype("datetime64[ms]")
    manifest = {"seed": seed, "start": dates[0], "n_agents": 100, "resolved_scenario": scenario}
    empty = pd.DataFrame()
    return scs.Results(empty, snap, empty, empty, manifest)


def everywhere(metric: str, national: list[float], j: list[float]) -> dict:
    """A metric for the national row and the group j; the general group makes up the rest."""
    general = [(100 * a - 20 * b) / 80 for a, b in zip(national, j, strict=True)]
    return {
        ("national", "national", metric): national,
        ("group", "j", metric): j,
        ("group", "general", metric): general,
    }


def row(frame: pd.DataFrame, category: str, metric: str) -> pd.Series:
    sel = (frame["category"] == category) & (frame["metric"] == metric)
    assert sel.sum() == 1, (category, metric)
    return frame[sel].iloc[0]


def test_a_snapshot_counts_for_the_days_since_the_one_before() -> None:
    """Monthly snapshots on 1 January, 1 February and the last day, 29 February: they stand for
    1, 31 and 28 days of the 60, so the time average of 10%, 20% and 30% listed is (0.1 x 1 +
    0.2 x 31 + 0.3 x 28) / 60 = 24.5% (person-days), not their plain mean 20%."""
    dates = np.array(["2020-02-29", "2020-01-01", "2020-02-01", "2020-01-01"], "datetime64[D]")
    assert list(time_weights(dates, "2020-01-01")) == [28, 1, 31, 1]
    res = fake(values=everywhere("share_court_listed", [0.1, 0.2, 0.3], [0.2, 0.4, 0.6]))
    frame = disparities(res)
    nat = row(frame, "national", "court_listed")
    assert nat["share"] == pytest.approx((0.1 * 1 + 0.2 * 31 + 0.3 * 28) / 60, rel=1e-12)
    assert nat["people"] == 100
    j = row(frame, "j", "court_listed")
    assert j["relative_risk"] == pytest.approx(2.0, rel=1e-12)
    assert j["people"] == 20


def test_wrongful_shares_sanctions_rewards_and_discretion() -> None:
    """Rightful and wrongful parts add up; a wrongful share is the wrongful person-days over all
    (NaN where nobody); every sanction and reward of the snapshots has its rows, as has a share
    listed at discretion; grades, mean scores and histograms are not metrics here."""
    values = {}
    values |= everywhere("share_court_listed", [0.1] * 3, [0.1] * 3)
    values |= everywhere("share_listed_at_discretion", [0.01] * 3, [0.04] * 3)
    values |= everywhere("share_blacklisted_rightful", [0.0] * 3, [0.0] * 3)
    values |= everywhere("share_blacklisted_wrongful", [0.0] * 3, [0.0] * 3)
    values |= everywhere("share_sanctioned_rightful", [0.1, 0.2, 0.2], [0.1, 0.3, 0.3])
    values |= everywhere("share_sanctioned_wrongful", [0.01, 0.02, 0.05], [0.03, 0.05, 0.1])
    values |= everywhere("share_sanctioned_rightful:flights", [0.05] * 3, [0.05] * 3)
    values |= everywhere("share_sanctioned_wrongful:flights", [0.01] * 3, [0.0] * 3)
    values |= everywhere("share_rewarded", [0.3] * 3, [0.15] * 3)
    values |= everywhere("share_rewarded:energy", [0.3] * 3, [0.15] * 3)
    values[("age_band", "child", "share_sanctioned_rightful")] = [0.02] * 3
    values[("age_band", "child", "share_sanctioned_wrongful")] = [0.0] * 3
    frame = disparities(fake(values=values))
    assert list(frame.columns) == COLUMNS
    assert list(dict.fromkeys(frame["metric"])) == [
        "court_listed",
        "listed_at_discretion",
        "blacklisted",
        "blacklisted/wrongful_share",
        "sanctioned",
        "sanctioned/wrongful_share",
        "sanctioned:flights",
        "sanctioned:flights/wrongful_share",
        "rewarded",
        "rewarded:energy",
    ]
    w = np.array([1, 31, 28]) / 60

    def avg(x: list[float]) -> float:
        return float(np.dot(w, x))

    j = frame[frame["category"] == "j"].set_index("metric")
    right, wrong = avg([0.1, 0.3, 0.3]), avg([0.03, 0.05, 0.1])
    assert j.at["sanctioned", "share"] == pytest.approx(right + wrong, rel=1e-12)
    assert j.at["sanctioned/wrongful_share", "share"] == pytest.approx(
        wrong / (right + wrong), rel=1e-12
    )
    nat_wrong = avg([0.01, 0.02, 0.05]) / avg([0.11, 0.22, 0.25])
    assert j.at["sanctioned/wrongful_share", "relative_risk"] == pytest.approx(
        wrong / (right + wrong) / nat_wrong, rel=1e-12
    )
    assert j.at["listed_at_discretion", "relative_risk"] == pytest.approx(4.0, rel=1e-12)
    assert j.at["sanctioned:flights/wrongful_share", "share"] == 0.0
    assert j.at["sanctioned:flights/wrongful_share", "relative_risk"] == 0.0  # national: 1/6
    nat = frame[frame["dimension"] == "national"].set_index("metric")
    assert nat.at["sanctioned:flights/wrongful_share", "share"] == pytest.approx(1 / 6)
    # nobody blacklisted: a share of 0 with no relative risk, and no wrongful share
    assert nat.at["blacklisted", "share"] == 0.0
    assert np.isnan(nat.at["blacklisted", "relative_risk"])
    assert np.isnan(j.at["blacklisted/wrongful_share", "share"])
    assert j.at["rewarded:energy", "relative_risk"] == pytest.approx(0.5, rel=1e-12)
    # children: only what they are barred from through a parent, against the national share
    child = frame[frame["category"] == "child"].set_index("metric")
    assert list(child.index) == ["sanctioned", "sanctioned/wrongful_share"]
    assert child.at["sanctioned", "relative_risk"] == pytest.approx(0.02 / avg([0.11, 0.22, 0.25]))
    assert frame["dimension"].iloc[0] == "national"  # the reference first


def test_metrics_a_run_does_not_have_are_left_out() -> None:
    """Snapshots from before listing at discretion and per-sanction shares: those metrics are
    absent, the rest is there."""
    values = {}
    for m in ("court_listed", "blacklisted_rightful", "blacklisted_wrongful",
              "sanctioned_rightful", "sanctioned_wrongful", "rewarded"):  # fmt: skip
        values |= everywhere(f"share_{m}", [0.1] * 3, [0.2] * 3)
    frame = disparities(fake(values=values), ["group"])
    assert list(dict.fromkeys(frame["metric"])) == BASE
    assert set(frame["dimension"]) == {"national", "group"}
    assert len(frame) == 3 * len(BASE)


def test_the_national_row_is_the_reference() -> None:
    res = fake(values=everywhere("share_court_listed", [0.1, 0.2, 0.3], [0.3, 0.3, 0.3]))
    nat = row(disparities(res), "national", "court_listed")
    assert nat["relative_risk"] == 1.0 and nat["replicates"] == 1
    assert np.isnan(nat["rr_low"]) and np.isnan(nat["rr_high"])


def test_the_interval_over_replicates_is_students_t() -> None:
    """Three runs whose group j has relative risks 2, 3 and 4: the mean 3 and the 95% interval
    3 ± t(0.975, 2) x 1 / sqrt(3); shares are the runs' means. One run: no interval. Risks 0, 0
    and 3: the interval's lower end is 0, not negative."""
    runs = [
        fake(seed=s, values=everywhere("share_court_listed", [0.1] * 3, [0.1 * k] * 3))
        for s, k in ((1, 2.0), (2, 3.0), (3, 4.0))
    ]
    j = row(disparities(runs), "j", "court_listed")
    half = stats.t.ppf(0.975, 2) / np.sqrt(3)
    assert j["relative_risk"] == pytest.approx(3.0, rel=1e-12)
    assert (j["rr_low"], j["rr_high"]) == pytest.approx((3 - half, 3 + half), rel=1e-12)
    assert j["share"] == pytest.approx(0.3, rel=1e-12) and j["replicates"] == 3
    nat = row(disparities(runs), "national", "court_listed")
    assert (nat["relative_risk"], nat["rr_low"], nat["rr_high"]) == (1.0, 1.0, 1.0)
    one = row(disparities(runs[:1]), "j", "court_listed")
    assert one["replicates"] == 1 and np.isnan(one["rr_low"]) and np.isnan(one["rr_high"])
    # a replicates folder keeps the first replicate's snapshots only: its table is that run's
    multi = scs.MultiResults(series=pd.DataFrame(), outputs=pd.DataFrame(), first=runs[0])
    pd.testing.assert_frame_equal(disparities(multi), disparities(runs[0]))
    zeros = [
        fake(seed=s, values=everywhere("share_court_listed", [0.1] * 3, [0.1 * k] * 3))
        for s, k in ((1, 0.0), (2, 0.0), (3, 3.0))
    ]
    z = row(disparities(zeros), "j", "court_listed")
    assert z["rr_low"] == 0.0 and z["rr_high"] == pytest.approx(1 + stats.t.ppf(0.975, 2))


def test_replicates_are_one_scenario_with_different_seeds() -> None:
    values = everywhere("share_court_listed", [0.1] * 3, [0.2] * 3)
    a, b = fake(1, values), fake(1, values)
    with pytest.raises(ValueError, match="the same seed 1"):
        disparities([a, b])
    with pytest.raises(ValueError, match="its scenario differs"):
        disparities([a, fake(2, values, scenario="other")])
    with pytest.raises(ValueError, match="no runs"):
        disparities([])
    with pytest.raises(TypeError, match="not Results"):
        disparities([a, "run"])
    with pytest.raises(ValueError, match="dimension town: expected some of group"):
        disparities(a, ["town"])
    with pytest.raises(ValueError, match="no snapshots"):
        disparities(scs.Results(*(pd.DataFrame(),) * 4, {"seed": 1}))


# ------------------------------------------------------------------------------ runs

# Court records at 2.4 a person-year, each listing with probability 1/4 (targeted: rate x 3;
# accused: listing probability x 3); listings never end, so a person is listed on day d with
# probability 1 - exp(-r d / 365), r the listing rate a person-year.
DAYS = 60
LISTING_RATES = {"general": 0.6, "targeted": 1.8, "accused": 1.8}
M = 3.0  # the targeted group's rate multiplier


@pytest.fixture(scope="module")
def court_run() -> scs.Results:
    judgment = {
        "name": "judgment",
        "channel": "court",
        "rate": 2.4,
        "listing_probability": 0.25,
        "score_change": 0,
        "propensity": "none",
    }
    sc = minimal(
        days=DAYS,
        behaviours=[judgment],
        groups=[
            {"name": "targeted", "share": 0.2, "rate_multipliers": {"judgment": M}},
            {"name": "accused", "share": 0.2, "court_listing_multiplier": 3.0},
        ],
        court_list={"duration_days": 0, "compliance_per_year": 0.0},
        output={"snapshot_every_days": 1},
    )
    return run(sc, n_agents=100_000)[0]


def test_prevalence_ratio_of_a_targeted_group_closed_form(court_run: scs.Results) -> None:
    """With daily snapshots a group's time-averaged share has expectation S = mean over days
    d = 1..60 of 1 - exp(-r d / 365). Each person is listed on a fraction Y in [0, 1] of the
    days, independently of the others, so the share is a mean of n such Y, with variance at
    most S (1 - S) / n: the binomial bound. The relative risk against the national share (of
    all scored people: every group) and the ratio of two groups' relative risks (their
    prevalence ratio) are checked against the closed form within Z times their relative
    standard deviations added up (about 13%); the groups' risks 1.59 and 0.58 times the
    national one are far apart. The targeted group's prevalence ratio to the general public
    tends to its rate multiplier m = 3 as listings get rare: (1 - e^(-m x)) / (1 - e^(-x)) lies
    within m (m - 1) x / 2 of m (x = 0.6 x 60 / 365 at most, 0.30 here)."""
    frame = disparities(court_run, ["group"])
    court = frame[frame["metric"] == "court_listed"].set_index("category")
    days = np.arange(1, DAYS + 1)
    expect = {g: float(np.mean(-np.expm1(-r * days / 365))) for g, r in LISTING_RATES.items()}
    n = {g: float(court.at[g, "people"]) for g in expect}
    assert sum(n.values()) == court.at["national", "people"]
    rel = {g: np.sqrt((1 - s) / (n[g] * s)) for g, s in expect.items()}
    nat = sum(n[g] * expect[g] for g in expect) / sum(n.values())
    rel_nat = np.sqrt(sum(n[g] * expect[g] * (1 - expect[g]) for g in expect)) / (
        nat * sum(n.values())
    )
    for g in expect:
        share = court.at[g, "share"]
        assert abs(share - expect[g]) < Z * rel[g] * expect[g], (g, share, expect[g])
        rr = court.at[g, "relative_risk"]
        assert abs(rr - expect[g] / nat) < Z * (rel[g] + rel_nat) * expect[g] / nat, (g, rr)
    assert court.at["national", "relative_risk"] == 1.0
    # the groups' risks are told apart: targeted and accused well above 1, the general below
    for g in ("targeted", "accused"):
        assert court.at[g, "relative_risk"] * (1 - Z * (rel[g] + rel_nat)) > 1.3
    assert court.at["general", "relative_risk"] * (1 + Z * (rel["general"] + rel_nat)) < 0.7
    # the prevalence ratio of the targeted to the general public: closed form, and near m
    ratio = court.at["targeted", "relative_risk"] / court.at["general", "relative_risk"]
    exact = expect["targeted"] / expect["general"]
    tol = Z * (rel["targeted"] + rel["general"]) * exact
    assert abs(ratio - exact) < tol, (ratio, exact)
    x = LISTING_RATES["general"] * DAYS / 365
    assert M - M * (M - 1) * x / 2 <= exact < M
    assert abs(ratio - M) < tol + M * (M - 1) * x / 2


def test_a_time_average_is_person_days(court_run: scs.Results) -> None:
    """With a snapshot every day, the national share listed is the daily stock on the courts'
    list summed over the run, over the people times the days: person-days."""
    frame = disparities(court_run)
    nat = row(frame, "national", "court_listed")
    daily = court_run.series("court_listed")
    assert len(daily) == DAYS
    assert nat["share"] == pytest.approx(daily.sum() / (nat["people"] * DAYS), rel=1e-12)
    assert set(frame["dimension"]) == {"national", "group", "region", "urban_rural", "age_band"}


def test_listed_at_discretion_by_group_closed_form() -> None:
    """Orders list people at 0.3 a person-year, journalists at 3, for longer than the run: a
    group's time-averaged share listed at discretion is the mean over days d of 1 - exp(-r d /
    365), within the binomial bound of the closed-form test above, and so is the ratio of the
    journalists' relative risk to the general public's."""
    rates = {"general": 0.3, "journalists": 3.0}
    sc = minimal(
        days=DAYS,
        behaviours=[{"name": "nothing", "channel": "records", "rate": 0.0, "score_change": -1}],
        groups=[{"name": "journalists", "share": 0.2, "discretionary_listing_per_year": 3.0}],
        discretionary_listing={"per_year": 0.3, "duration_days": 1000},
        output={"snapshot_every_days": 1},
    )
    frame = disparities(run(sc, n_agents=100_000)[0], ["group"])
    listed = frame[frame["metric"] == "listed_at_discretion"].set_index("category")
    days = np.arange(1, DAYS + 1)
    expect = {g: float(np.mean(-np.expm1(-r * days / 365))) for g, r in rates.items()}
    rel = {g: np.sqrt((1 - s) / (listed.at[g, "people"] * s)) for g, s in expect.items()}
    for g, s in expect.items():
        assert abs(listed.at[g, "share"] - s) < Z * rel[g] * s, (g, listed.at[g, "share"], s)
    ratio = listed.at["journalists", "relative_risk"] / listed.at["general", "relative_risk"]
    exact = expect["journalists"] / expect["general"]
    assert abs(ratio - exact) < Z * (rel["journalists"] + rel["general"]) * exact, ratio
    assert listed.at["national", "relative_risk"] == 1.0


def mixed(days: int = 120) -> dict[str, Any]:
    """An urban and a rural region, a group targeted by the courts, cameras that attribute
    some acts to the wrong person, a score blacklist, flights (people and their children) and
    trains barred."""
    return minimal(
        days=days,
        behaviours=[
            {
                "name": "judgment",
                "channel": "court",
                "rate": 1.0,
                "listing_probability": 0.5,
                "score_change": 0,
                "propensity": "none",
            },
            {
                "name": "jaywalking",
                "channel": "camera",
                "rate": 12.0,
                "score_change": -60,
                "propensity": "none",
                "fnir": 0.1,
                "fpir": 0.05,
            },
        ],  # fmt: skip
        population={
            "regions": [
                {"name": "North", "share": 0.5, "urban_share": 1.0},
                {"name": "South", "share": 0.5, "urban_share": 0.0},
            ]
        },
        groups=[{"name": "targeted", "share": 0.2, "rate_multipliers": {"judgment": 4.0}}],
        surveillance={"coverage_urban": 0.5, "coverage_rural": 0.2},
        blacklist={"enabled": True, "entry_below": 900, "exit_at": 900},
        court_list={"duration_days": 0},
        sanctions=[
            {
                "name": "flights",
                "trigger_lists": ["court", "blacklist"],
                "target": "both",
                "per_year_urban": 1.0,
                "per_year_rural": 0.5,
            },
            {"name": "trains", "trigger_lists": ["blacklist"], "per_year_urban": 1.0},
        ],  # fmt: skip
        output={"snapshot_every_days": 30},
    )


@pytest.fixture(scope="module")
def mixed_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three replicates (seeds 1, 2, 3) of the mixed scenario, as run folders."""
    folder = tmp_path_factory.mktemp("disparities")
    return [run(mixed(), n_agents=20_000, seed=s)[0].save(folder / f"seed{s}") for s in (1, 2, 3)]


def test_replicate_runs_give_an_interval(mixed_runs: list[Path]) -> None:
    """Over three runs the relative risk is the mean of the runs' risks, with the Student's t
    interval of their spread; every risk defined in all three runs has a finite interval
    around it, and one run has none."""
    runs = [scs.Results.load(p) for p in mixed_runs]
    frame = disparities(runs)
    singles = [run_shares(r) for r in runs]
    keys = ["dimension", "category", "metric"]
    both = frame.set_index(keys)
    rrs = pd.concat([s.set_index(keys)["relative_risk"] for s in singles], axis=1)
    full = rrs.notna().all(axis=1)
    assert full.sum() > 30
    mean, sd = rrs[full].mean(axis=1), rrs[full].std(axis=1, ddof=1)
    half = stats.t.ppf(0.975, 2) * sd / np.sqrt(3)
    np.testing.assert_allclose(both.loc[full[full].index, "relative_risk"], mean, rtol=1e-12)
    np.testing.assert_allclose(
        both.loc[full[full].index, "rr_high"], mean + half, rtol=1e-12, atol=1e-15
    )
    assert (both.loc[full[full].index, "replicates"] == 3).all()
    assert np.isfinite(both.loc[full[full].index, ["rr_low", "rr_high"]]).all().all()
    targeted = both.loc[("group", "targeted", "court_listed")]
    assert targeted["rr_low"] < targeted["relative_risk"] < targeted["rr_high"]
    assert targeted["rr_low"] > 1.5  # courts' records 4 times as often
    rural = both.loc[("urban_rural", "rural", "blacklisted")]
    assert rural["rr_high"] < 0.7  # cameras see 0.2 of the rural acts, 0.5 of the urban ones
    assert both.loc[("age_band", "child", "sanctioned"), "replicates"] == 3
    assert 0 < both.loc[("national", "national", "sanctioned/wrongful_share"), "share"] < 0.1
    # every sanction and reward the snapshots split out has its rows
    snap = runs[0].snapshots
    assert (frame["metric"] == "sanctioned:trains/wrongful_share").any()
    for metric in snap.loc[snap["metric"].str.contains(":"), "metric"].unique():
        stem, item = metric.removeprefix("share_").split(":")
        stem = stem.removesuffix("_rightful").removesuffix("_wrongful")
        assert (frame["metric"] == f"{stem}:{item}").any(), metric
    one = disparities(runs[0])
    assert one["rr_low"].isna().all() and one["rr_high"].isna().all()
    assert set(one["replicates"]) == {0, 1}


# ------------------------------------------------------------------------------ command


def invoke(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], env=ENV)


def test_command_prints_a_table_per_dimension(mixed_runs: list[Path]) -> None:
    result = invoke("disparities", mixed_runs[0])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for title in ("by group", "by region", "by urban or rural", "by age band"):
        assert title in out
    for column in ("court listed", "blacklisted", "barred", "barred, wrongful share", "RR"):
        assert column in out
    frame = disparities(scs.Results.load(mixed_runs[0]))
    rr = row(frame, "targeted", "court_listed")["relative_risk"]
    (line,) = [x for x in out.splitlines() if "│ targeted" in x]
    assert f"{rr:.2f}" in line and f"{row(frame, 'targeted', 'court_listed')['share']:.2%}" in line
    assert "national (reference)" in out and "one run" in out
    assert "listed at discretion" not in out  # nobody is: the column is left out
    trains = invoke("disparities", mixed_runs[0], "-d", "group", "-m", "sanctioned:trains")
    assert trains.exit_code == 0, trains.output
    rr = row(frame, "targeted", "sanctioned:trains")["relative_risk"]
    assert "barred: trains" in trains.stdout and f"{rr:.2f}" in trains.stdout
    chosen = invoke("disparities", mixed_runs[0], "-d", "group", "-m", "blacklisted")
    assert chosen.exit_code == 0, chosen.output
    assert "by region" not in chosen.stdout and "blacklisted" in chosen.stdout
    assert "court listed" not in chosen.stdout


def test_command_csv_is_the_table(mixed_runs: list[Path]) -> None:
    result = invoke("disparities", *mixed_runs, "--csv")
    assert result.exit_code == 0, result.output
    got = pd.read_csv(pd.io.common.StringIO(result.stdout))
    want = disparities([scs.Results.load(p) for p in mixed_runs])
    assert list(got.columns) == COLUMNS
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-12)
    defined = (got["category"] == "targeted") & (got["replicates"] == 3)
    assert defined.sum() >= 4 and np.isfinite(got.loc[defined, ["rr_low", "rr_high"]]).all().all()
    part = invoke("disparities", mixed_runs[0], "--csv", "-d", "age_band", "-m", "sanctioned")
    part = pd.read_csv(pd.io.common.StringIO(part.stdout))
    assert list(part["category"]) == ["national", "adult", "senior", "child"]
    assert set(part["metric"]) == {"sanctioned"}
    assert part["rr_low"].isna().all()


def test_command_with_replicates_prints_intervals(mixed_runs: list[Path]) -> None:
    result = invoke("disparities", *mixed_runs, "-d", "group")
    assert result.exit_code == 0, result.output
    assert "95% interval of the mean RR over 3 runs" in result.stdout
    frame = disparities([scs.Results.load(p) for p in mixed_runs], ["group"])
    t = row(frame, "targeted", "court_listed")
    assert f"{t['rr_low']:.2f} to {t['rr_high']:.2f}" in result.stdout


def test_command_errors_name_the_folder(mixed_runs: list[Path], tmp_path: Path) -> None:
    missing = tmp_path / "nothing"
    result = invoke("disparities", missing)
    assert result.exit_code == 2 and str(missing) in result.output
    damaged = tmp_path / "damaged"
    shutil.copytree(mixed_runs[0], damaged)
    (damaged / "snapshots.parquet").write_bytes(b"PAR1 not parquet")
    result = invoke("disparities", damaged)
    assert result.exit_code == 2 and str(damaged / "snapshots.parquet") in result.output
    result = invoke("disparities", mixed_runs[0], mixed_runs[0])
    assert result.exit_code == 2 and "the same seed" in result.output
    result = invoke("disparities", mixed_runs[0], "--dimension", "town")
    assert result.exit_code == 2 and "--dimension town" in result.output
    result = invoke("disparities", mixed_runs[0], "--metric", "sanctioned:boats")
    assert result.exit_code == 2 and "--metric sanctioned:boats" in result.output
    # a replicates folder: its first replicate, with a note that there is no interval
    reps = tmp_path / "reps"
    shutil.copytree(mixed_runs[0], reps)
    manifest = json.loads((reps / "manifest.json").read_text())
    manifest["replicates"] = {"seeds": [1, 2], "band": [10, 90]}
    (reps / "manifest.json").write_text(json.dumps(manifest))
    result = invoke("disparities", reps)
    assert result.exit_code == 0, result.output
    assert "keeps the snapshots of its first replicate" in result.output
    assert "by group" in result.stdout


# ------------------------------------------------------------------------------ report


def test_report_section(mixed_runs: list[Path], tmp_path: Path) -> None:
    """The report's Disparities section: a figure (PNG and SVG) and a table whose relative
    risks are those of :func:`disparities`, regions included."""
    folder = tmp_path / "run"
    shutil.copytree(mixed_runs[0], folder)
    report.write_report(folder)
    text = (folder / "report.html").read_text()
    (body,) = re.findall(r'<section id="disparities">(.*?)</section>', text, re.S)
    assert "data:image/svg+xml;base64," in body and "Relative risk" in body
    assert (folder / "figures" / "disparities.svg").is_file()
    assert (folder / "figures" / "disparities.png").read_bytes().startswith(b"\x89PNG")
    header = [html.unescape(h) for h in re.findall(r"<th>(.*?)</th>", body)]
    frame = disparities(scs.Results.load(folder))
    checked = 0
    for tr in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[-1]):
        cells = re.findall(r'<td(?: class="num" data-value="([^"]*)")?>(.*?)</td>', tr)
        got = dict(zip(header, cells, strict=True))
        cat = html.unescape(got["category"][1])
        for column, metric in (("RR court listed", "court_listed"), ("RR barred", "sanctioned")):
            value = got[column][0]
            if value:
                assert float(value) == row(frame, cat, metric)["relative_risk"], (cat, column)
                checked += 1
    assert checked >= 2 * 9  # national, 2 groups, 2 regions, urban, rural, adult, senior
    assert "North" in body and "wrongful share of the barred" in header
