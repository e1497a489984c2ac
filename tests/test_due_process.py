"""Secrecy's counterparts (MODEL.md section 10): listings at discretion, appeals and
corrections, credit repair, and that with all of them off a scenario runs as without them.

Counts are Poisson or binomial, so each tolerance is Z standard errors of that distribution;
where a stock is compared with its steady-state mean, the stock of an M/G/infinity queue is
Poisson, and the time average of a Poisson stock varies less than one day's value, so one
day's standard error bounds it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import socialcreditsim as scs
from minimal import camera, minimal, records, run, total

Z = 5.0


def _in_group(sim: scs.Sim, group: int) -> int:
    pop = sim.population
    return int(np.diff(pop.blocks, axis=1)[:, pop.block_group == group].sum())


def test_listings_at_discretion_are_poisson_at_the_rate_of_each_group() -> None:
    """Orders come at the declared rate per person-year, the group's own where it sets one; the
    audit names each one 'listed at discretion', and sanctions follow as from any listing."""
    days, general, targeted = 365, 0.004, 0.05
    scenario = minimal(
        days=days,
        behaviours=[records("nothing", 0.0, -1)],
        groups=[{"name": "journalists", "share": 0.1, "discretionary_listing_per_year": targeted}],
        discretionary_listing={"per_year": general, "duration_days": 100},
        sanctions=[{"name": "flights", "trigger_lists": ["court"], "per_year_urban": 1.0}],
        output={"audit_sample": 10**6, "snapshot_every_days": 73},
    )
    res, sim = run(scenario, 200_000)
    n_g = _in_group(sim, 1)
    n_rest = sim.population.n_scored - n_g
    expected = days / 365 * (n_g * targeted + n_rest * general)
    got = total(res, "court_list_entries", item="at_discretion")
    assert abs(got - expected) < Z * np.sqrt(expected)
    assert total(res, "court_list_entries", item="") == 0
    orders = res.audit[res.audit["kind"] == "listed_at_discretion"]
    assert len(orders) == got  # everybody is audited
    group = res.people.set_index("person").loc[orders["person"], "group"]
    in_group = days / 365 * n_g * targeted
    assert abs((group == "journalists").sum() - in_group) < Z * np.sqrt(in_group)
    assert "LISTED AT DISCRETION" in res.explain(int(orders["person"].iloc[0]))
    assert total(res, "blocked_attempts", item="flights") > 0
    # the snapshots count the people listed at discretion as the daily stock does, nationally
    # and summed over groups (they look people up only until a locality's stock is found)
    snap = res.snapshots.set_index(["date", "dimension", "category", "metric"])["value"]
    share, people = (snap.xs(m, level="metric") for m in ("share_listed_at_discretion", "people"))
    listed = (share * people).groupby(level=["date", "dimension"]).sum().unstack()
    ts = res.timeseries
    stock = ts[(ts["metric"] == "court_listed_at_discretion") & (ts["region"] == "national")]
    stock = stock.set_index("date")["value"].loc[listed.index]
    assert len(stock) == 5 and stock.iloc[-1] > 100
    for dimension in ("national", "group"):
        np.testing.assert_allclose(listed[dimension], stock, rtol=1e-9)


def test_appeals_follow_littles_law_with_the_closed_form_stay() -> None:
    """Listings at discretion (rate lam, duration T) appealed with probability a, decided D days
    later, granted with probability s: a listing stands min(D, T) a s + T (1 - a s) days on
    average, so the court list holds lam N times that; a granted appeal corrects after exactly
    D days; of the appeals decided within the run, a share s is granted."""
    lam, T, a, D, s, days = 0.02, 200, 0.6, 50, 0.5, 600
    scenario = minimal(
        days=days,
        behaviours=[records("nothing", 0.0, -1)],
        discretionary_listing={"per_year": lam, "duration_days": T},
        appeals={"probability": a, "delay_days": D, "success_wrongful": s},
    )
    res, sim = run(scenario, 1_000_000)
    inflow = sim.population.n_scored * lam / 365
    stay = min(D, T) * a * s + T * (1 - a * s)
    stock = res.series("court_listed").to_numpy()[T + D :]
    assert abs(stock.mean() - inflow * stay) < Z * np.sqrt(inflow * stay)
    assert abs(stock.mean() - inflow * T) > 10 * np.sqrt(inflow * T)  # appeals matter here
    corrections = total(res, "corrections", item="at_discretion")
    assert total(res, "correction_days", item="at_discretion") == D * corrections
    appealed = res.series("appeals", item="at_discretion").to_numpy()[: days - D].sum()
    assert abs(corrections - s * appealed) < Z * np.sqrt(appealed * s * (1 - s))
    entries = total(res, "court_list_entries", item="at_discretion")
    assert abs(total(res, "appeals") - a * entries) < Z * np.sqrt(entries * a * (1 - a))
    # a granted appeal ends its listing unless a new order re-listed the person while it waited
    # (probability lam D / 365)
    superseded = corrections - res.series("court_list_exits", item="corrected").sum()
    expected = corrections * lam * D / 365
    assert abs(superseded - expected) < Z * np.sqrt(expected)


@pytest.mark.parametrize(("k", "d"), [(1.0, 1.0), (0.4, 0.3)])
def test_who_appeals_depends_on_knowing_the_rule_and_being_told(k: float, d: float) -> None:
    """A record is appealed with a x (1 if the person knows the rule, else u) x (1 if it was
    disclosed, else w). A wrongful record's person knows with probability k; a rightful one's
    did it, and those who know do it less: k (1 - e q) / (1 - k e q)."""
    a, u, w, e, q = 0.5, 0.4, 0.2, 1.0, 0.5
    scenario = minimal(
        days=60,
        behaviours=[
            records(
                "offence", 20.0, -1, record_probability=q, deterrence_elasticity=e, awareness=k
            ),
            {**camera("passing", rate=50.0, fpir=0.2), "score_change": -1, "awareness": k},
        ],  # fmt: skip
        surveillance={"coverage_urban": 1.0},
        appeals={"probability": a, "unaware_factor": u, "undisclosed_factor": w, "disclosure": d},
    )
    res, _ = run(scenario, 50_000)
    told = d + (1 - d) * w
    know_right = k * (1 - e * q) / (1 - k * e * q)
    for truth, know in (("rightful", know_right), ("wrongful", k)):
        n = total(res, "events_recorded", truth=truth)
        p = a * (know + (1 - know) * u) * told
        got = total(res, "appeals", item="records", truth=truth)
        assert abs(got - n * p) < Z * np.sqrt(n * p * (1 - p)), truth


def test_a_correction_reverses_the_record_and_ends_what_rested_on_it() -> None:
    """Every wrongful record appealed and granted after 10 days: the score change is undone
    (with no recovery, a corrected person's score is back where it was), and a blacklisting
    that rested on it ends as 'corrected' although the minimum stay has not passed."""
    scenario = minimal(
        days=200,
        behaviours=[{**camera("passing", rate=20.0, fpir=0.5), "score_change": -100}],
        surveillance={"coverage_urban": 1.0},
        blacklist={"enabled": True, "entry_below": 950, "exit_at": 1000, "min_stay_days": 1000},
        appeals={"probability": 1.0, "delay_days": 10, "success_wrongful": 1.0},
        output={"audit_sample": 10**6},
    )
    res, sim = run(scenario, 20_000)
    recorded = total(res, "events_recorded", truth="wrongful")
    assert total(res, "appeals") == recorded
    decided_in_run = res.series("events_recorded", truth="wrongful").to_numpy()[:-10].sum()
    assert total(res, "corrections") == decided_in_run
    assert total(res, "blacklist_exits", item="recovered") == 0
    exits = total(res, "blacklist_exits", item="corrected")
    assert exits == total(res, "blacklist_entries") - res.series("blacklisted").iloc[-1]
    assert exits > 0
    # nobody wronged more than 10 days before the end is below the start score
    audit = res.audit
    last = audit[audit["kind"] == "event"]["date"].max()
    early = audit[(audit["kind"] == "event") & (audit["date"] <= last - np.timedelta64(10, "D"))]
    late = set(
        audit[(audit["kind"] == "event") & (audit["date"] > last - np.timedelta64(10, "D"))][
            "person"
        ]
    )
    final = audit.groupby("person")["score"].last()
    settled = sorted(set(early["person"]) - late)
    assert (final.loc[settled] == 1000).all()


def test_credit_repair_opens_after_the_minimum_time() -> None:
    """With no compliance and no expiry, court listings end only by repair, never sooner than
    repair_after_days after they began; the number repaired is the sum over listings of
    1 - (1 - r)^(days open to repair within the run)."""
    after, per_year, days = 60, 3.0, 240
    scenario = minimal(
        days=days,
        behaviours=[{**records("debt", 2.0, -1), "channel": "court"}],
        court_list={"duration_days": 0, "repair_per_year": per_year, "repair_after_days": after},
        output={"audit_sample": 10**6},
    )
    res, _ = run(scenario, 20_000)
    audit = res.audit
    entry = audit[audit["kind"] == "court_list_entry"].groupby("person")["date"].first()
    exits = audit[audit["kind"] == "court_list_exit"]
    assert set(exits["truth"]) == {"repaired"}
    first_exit = exits.groupby("person")["date"].first()
    stay = (first_exit - entry.loc[first_exit.index]).dt.days
    assert stay.min() >= after
    r = -np.expm1(-per_year / 365)
    start = np.datetime64(res.manifest["start"])
    open_days = np.maximum(
        0, days - ((entry.to_numpy() - start).astype("timedelta64[D]").astype(int) + after)
    )
    p = 1 - (1 - r) ** open_days
    assert abs(len(first_exit) - p.sum()) < Z * np.sqrt((p * (1 - p)).sum())


def _parquet(res: scs.Results, folder: Path) -> dict[str, bytes]:
    res.save(folder)
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.parquet"))}


def test_with_every_new_element_off_the_output_is_byte_identical(tmp_path: Path) -> None:
    """Section 10's elements declared but off (zero rates and probabilities, awareness 1,
    publication that raises nothing) give the same bytes as the scenario without them
    (``national`` less its secrecy, lawful posts and orders)."""
    data = scs.load_scenario("national").model_dump(mode="python")
    data["behaviours"] = [b for b in data["behaviours"] if b["chilled_by"] is None]
    for b in data["behaviours"]:
        b["awareness"] = 1.0
    for g in data["groups"]:
        g["discretionary_listing_per_year"] = None
    plain = scs.load_scenario(data)
    for b in data["behaviours"]:
        b["awareness"] = [[plain.time.start, 1.0], [plain.time.end, 1.0]]
        b["awareness_rural"] = 1.0
    for g in data["groups"]:
        g["awareness_multipliers"] = {"jaywalking": 1.0}
        g["discretionary_listing_per_year"] = 0.0
    data["rules"] = {"published": plain.time.start, "awareness_when_published": 0.0}
    data["discretionary_listing"] = {"per_year": 0.0, "duration_days": 10}
    data["appeals"] = {"probability": 0.0, "delay_days": 5, "success_wrongful": 1.0}
    data["court_list"] |= {"repair_per_year": 0.0, "repair_after_days": 30}
    off = scs.load_scenario(data)
    assert off != plain
    a = _parquet(scs.Sim(plain, n_agents=30_000, seed=3).run(), tmp_path / "plain")
    b = _parquet(scs.Sim(off, n_agents=30_000, seed=3).run(), tmp_path / "off")
    assert a == b


def test_a_correction_ends_only_the_listing_its_record_began() -> None:
    """Court listings that end fast (compliance) and records all appealed and granted after 30
    days: a listing ends as 'corrected' only when the corrected record is the one it began
    with, never a listing begun later (for example by a new record on the day of the
    decision), also for people who stay blacklisted in between (whose record of their last
    court listing is kept)."""
    scenario = minimal(
        days=200,
        behaviours=[{**records("debt", 3.0, -100), "channel": "court"}],
        court_list={"compliance_per_year": 50.0},
        blacklist={"enabled": True, "entry_below": 950, "exit_at": 1000, "min_stay_days": 1000},
        appeals={"probability": 1.0, "delay_days": 30, "success_rightful": 1.0},
        output={"audit_sample": 10**6},
    )
    res, _ = run(scenario, 20_000)
    audit = res.audit
    entries = audit[audit["kind"] == "court_list_entry"]
    corrections = audit[audit["kind"] == "correction"]
    start = np.datetime64(res.manifest["start"])
    exits = audit[(audit["kind"] == "court_list_exit") & (audit["truth"] == "corrected")]
    assert len(exits) > 100
    for person, day in zip(exits["person"], exits["date"], strict=True):
        began = entries[(entries["person"] == person) & (entries["date"] <= day)]["date"].max()
        today = corrections[(corrections["person"] == person) & (corrections["date"] == day)]
        record_days = start + today["value"].to_numpy().astype("timedelta64[D]")
        assert np.datetime64(began, "D") in record_days.astype("datetime64[D]")
