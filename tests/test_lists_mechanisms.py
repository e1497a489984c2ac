"""List mechanisms: the court list's "complied under pressure" split and Little's law on the score
blacklist with hysteresis and a minimum stay (MODEL.md sections 5 and 9).

Every expected value is computed in closed form from the scenario; counts are binomial or
Poisson, so each tolerance is Z standard errors of that distribution.
"""

from __future__ import annotations

import numpy as np

from minimal import minimal, run, total

Z = 5.0
REGIONS = [
    {"name": "Town", "share": 1.0, "urban_share": 1.0},
    {"name": "Country", "share": 1.0, "urban_share": 0.0},
]


def test_complied_under_pressure_split() -> None:
    """A fifth of scored people court-listed at the start, for good unless they pay: a base
    compliance of 1 a year (h0 = 1 - exp(-1/365) a day), plus 0.2 per blocked flight attempt,
    6 a year in the town and 1.5 in the country (pressure = 0.2 x 6 / 365 and 0.2 x 1.5 / 365 a
    day).

    Each listed person pays on day G >= 1, geometric with daily probability h = h0 + pressure,
    so by the last day (364) a share 1 - (1 - h)^364 has paid: 88.9% in the town, 72.7% in the
    country; the payers are binomial: tolerance Z sqrt(n p (1 - p)), 2.0% and 3.4%. Each payment
    is "under pressure" with probability pressure / (pressure + h0): 0.546 in the town, 0.231 in
    the country; binomial given the payments: tolerance Z sqrt(s (1 - s) / payments), 0.03. The
    reverse split (h0 over the sum) would be off by 0.09 and 0.54; no pressure at all would
    leave 63% paid."""
    days, base, pay = 365, 1.0, 0.2
    rates = {"Town": 6.0, "Country": 1.5}
    sc = minimal(
        days=days,
        behaviours=[{"name": "idle", "channel": "records", "rate": 0.0, "score_change": 0}],
        population={"regions": REGIONS, "locality_size": 4096},
        initial={"court_listed_share": 0.2},
        court_list={
            "duration_days": 0,
            "compliance_per_year": base,
            "pay_per_blocked_attempt": pay,
        },
        sanctions=[
            {
                "name": "flights",
                "trigger_lists": ["court"],
                "per_year_urban": rates["Town"],
                "per_year_rural": rates["Country"],
            }
        ],
    )
    res, _ = run(sc, n_agents=100_000)
    h0 = -np.expm1(-base / 365)
    for region, rate in rates.items():
        pressure = pay * rate / 365
        listed = res.series("court_listed", region=region).iloc[0]  # nobody pays on day 0
        paid_share = 1 - (1 - h0 - pressure) ** (days - 1)
        under = total(res, "court_list_exits", item="complied_under_pressure", region=region)
        plain = total(res, "court_list_exits", item="complied", region=region)
        paid = under + plain
        assert total(res, "court_list_exits", item="expired", region=region) == 0
        assert abs(paid - listed * paid_share) < Z * np.sqrt(
            listed * paid_share * (1 - paid_share)
        ), (region, paid, listed * paid_share)
        share = pressure / (pressure + h0)
        assert abs(under / paid - share) < Z * np.sqrt(share * (1 - share) / paid), (
            region,
            under / paid,
            share,
        )


def test_littles_law_blacklist_hysteresis_and_minimum_stay() -> None:
    """Stock on the blacklist = entries per day x mean stay, in the steady state.

    Scores start at 1000 and recover 2 points a day; the blacklist takes people below 800 and
    lets them go at 900 (hysteresis) after at least 90 days (minimum stay). A fraud (-400, to
    600) keeps a person listed until recovery reaches 900: 150 days. A fine (-201, to 799)
    is recovered to 900 in 51 days, but the minimum stay holds them 90. Both happen at 0.0025 a
    person-year, so the steady stock is people x 0.0025 / 365 x (150 + 90), about 5,200.
    Without hysteresis (exit at 800) it would be 0.79 of that, without the minimum stay 0.84.

    Entries are Poisson, a days each; with fixed stays the stock is a sum of Poisson entries
    over the last S days (an M/D/infinity queue), so the mean of the stock over days t0 .. t1 - 1
    is (1 / W) x sum over types and entry days s of a x c(s), c(s) the number of those days on
    which an entry of day s is still listed, with variance (1 / W^2) x sum of a x c(s)^2:
    tolerance Z standard deviations (3.7%). A second offence during a stay or the recovery
    after it (a chance of about 0.3% per stay) lengthens that stay by at most about 200 days,
    and an offence while listed makes no entry: together well under 1% of the stock, a
    quarter of a standard deviation, neglected."""
    lam, recovery, days, t0 = 0.0025, 2, 550, 150
    stays = {"fraud": (-400, 150), "fine": (-201, 90)}
    beh = [
        {"name": n, "channel": "records", "rate": lam, "score_change": d, "propensity": "none"}
        for n, (d, _) in stays.items()
    ]
    sc = minimal(
        days=days,
        behaviours=beh,
        # raw counts and no cameras: the size only has to cover the agents (one person each)
        population={"locality_size": 65536, "size": 4_000_000},
        score={"start": 1000, "min": 0, "max": 2000, "recovery_per_day": recovery},
        blacklist={"enabled": True, "entry_below": 800, "exit_at": 900, "min_stay_days": 90},
    )
    res, sim = run(sc, n_agents=4_000_000)
    a = sim.population.n_scored * lam / 365  # entries a day of each type
    stock = res.series("blacklisted").to_numpy()[t0:]
    W = len(stock)
    mean, var = 0.0, 0.0
    for _, stay in stays.values():
        entry = np.arange(t0 - stay + 1, days)
        covered = np.minimum(entry + stay, days) - np.maximum(entry, t0)
        mean += a * covered.sum() / W
        var += a * (covered.astype(float) ** 2).sum() / W**2
    assert abs(mean / (a * (150 + 90)) - 1) < 1e-9  # t0 >= the longest stay: steady already
    assert abs(stock.mean() - mean) < Z * np.sqrt(var), (stock.mean(), mean, np.sqrt(var))
    # the inflow itself: entries over the whole run are Poisson with mean 2 a days
    entries = total(res, "blacklist_entries")
    assert abs(entries - 2 * a * days) < Z * np.sqrt(2 * a * days)
    assert total(res, "blacklist_entries", truth="wrongful") == 0


def test_a_judgment_on_the_day_a_listing_ends_lists_the_person_anew() -> None:
    """Without extension (``extend_on_new_record = false``) a judgment leaves a listing as it
    was; on the day that listing ends the judgment lists the person anew (MODEL.md section 5: a
    recorded court behaviour lists the person; section 7: exits come after the day's records).

    Judgments at 36.5 a person-year (lam = 0.1 a day), listings of exactly D = 10 days (no
    compliance): a person is listed for D days, then, at the exit, listed again at once if a
    judgment came that day (probability p = 1 - e^-lam), else after a geometric wait with mean
    (1 - p) / p days. The stationary share listed at a day's end is D / (D + (1 - p) / p) =
    0.5126; losing the exit day's judgment would make the wait 1 / p and the share 0.4876.
    After 400 days (20 cycles) people are independent draws of it: binomial tolerance Z
    standard errors (0.014 at the 31,500 scored of 40,000 agents; the shares are 0.025
    apart). In the audit trail of 2,000 people, every exit on a day with a judgment is followed
    by an entry that day."""
    lam, duration, days, n = 36.5 / 365, 10, 400, 40_000
    sc = minimal(
        days=days,
        behaviours=[
            {
                "name": "judgment",
                "channel": "court",
                "rate": 36.5,
                "score_change": 0,
                "propensity": "none",
            }
        ],
        court_list={
            "duration_days": duration,
            "extend_on_new_record": False,
            "compliance_per_year": 0.0,
        },
        output={"audit_sample": 2_000},
    )
    res, sim = run(sc, n_agents=n)
    p = -np.expm1(-lam)
    share = duration / (duration + (1 - p) / p)
    listed = res.series("court_listed").iloc[-1] / sim.population.n_scored
    assert abs(listed - share) < Z * np.sqrt(share * (1 - share) / sim.population.n_scored), (
        listed,
        share,
    )
    au = res.audit.reset_index(drop=True).reset_index(names="row")
    keys = ["person", "date"]
    judged = au.loc[au["kind"] == "event", keys].drop_duplicates()
    exits = au[au["kind"] == "court_list_exit"].merge(judged, on=keys)
    entries = au[au["kind"] == "court_list_entry"]
    then = exits.merge(entries, on=keys, suffixes=("", "_entry"))
    relisted = then.loc[then["row_entry"] > then["row"], "row"].nunique()
    assert relisted == len(exits), (relisted, len(exits))
    assert len(exits) > 1_000  # p x the exits (about 14,000 in the sample)
