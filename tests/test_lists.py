"""Lists: Little's law for the court list (MODEL.md section 9) and blacklist mechanics."""

from __future__ import annotations

import numpy as np
import pytest

from minimal import minimal, run, total

Z = 5.0


@pytest.mark.parametrize("compliance_per_year", [0.0, 2.0])
def test_littles_law_court_list(compliance_per_year: float) -> None:
    """Stock = inflow per day x mean stay.

    Listings arrive as a Poisson stream and stay min(G, D) days, G geometric with the daily
    compliance probability h (or never), D the listing duration, so the mean stay is
    (1 - (1 - h)^D) / h (D when h = 0). Each stay is at most D days, so from day D on the stock
    is exactly Poisson with mean inflow x mean stay (an M/G/infinity queue): the tolerance is Z
    of its standard deviations.
    """
    D = 200
    beh = {
        "name": "default",
        "channel": "court",
        "rate": 0.02,
        "score_change": 0,
        "propensity": "none",
    }
    sc = minimal(
        days=400,
        behaviours=[beh],
        court_list={
            "duration_days": D,
            "extend_on_new_record": False,
            "compliance_per_year": compliance_per_year,
        },
    )
    res, sim = run(sc, n_agents=400_000)
    n_scored = sim.population.n_scored
    inflow = n_scored * 0.02 / 365  # expected listings a day (nobody listed twice at once: rare)
    h = -np.expm1(-compliance_per_year / 365)
    stay = D if h == 0 else (1 - (1 - h) ** D) / h
    stock = res.series("court_listed")
    expected = inflow * stay
    for day in (D + 50, 399):
        assert abs(stock.iloc[day] - expected) < Z * np.sqrt(expected)
    # and with the measured inflow, over the steady part
    entries = res.series("court_list_entries")
    measured = entries.iloc[D:].mean() * stay
    assert abs(stock.iloc[D:].mean() - measured) < Z * np.sqrt(expected)
    exits = total(res, "court_list_exits")
    assert stock.iloc[-1] == total(res, "court_list_entries") - exits


def test_blacklist_entry_exit_min_stay() -> None:
    """Enter below the entry threshold; leave at the exit threshold after the minimum stay."""
    beh = {
        "name": "offence",
        "channel": "records",
        "rate": 5.0,
        "score_change": -100,
        "propensity": "none",
    }
    sc = minimal(
        days=365,
        behaviours=[beh],
        score={"start": 1000, "min": 0, "max": 2000, "recovery_per_day": 5},
        blacklist={"enabled": True, "entry_below": 700, "exit_at": 900, "min_stay_days": 60},
        output={"audit_sample": 2000},
    )
    res, _ = run(sc, n_agents=20_000)
    audit = res.audit
    for _, rows in audit.groupby("person"):
        entered = None
        for r in rows.itertuples():
            if r.kind == "blacklist_entry":
                assert r.score < 700
                entered = r.date
            elif r.kind == "blacklist_exit":
                assert entered is not None
                assert (r.date - entered).days >= 60
                assert r.score >= 900
                entered = None
    stock = res.series("blacklisted")
    assert stock.iloc[-1] == total(res, "blacklist_entries") - total(res, "blacklist_exits")
    assert (audit["kind"] == "blacklist_exit").any()


def test_listed_table_matches_a_dict() -> None:
    """The per-locality hash table of listed people (insert, update, delete with backward
    shift) behaves like a dict under random operations, at high load and with collisions."""
    from socialcreditsim import kernels as kn

    rng = np.random.default_rng(5)
    tab = np.full((64, 3), kn.LS_EMPTY, dtype=np.int32)
    meta = np.zeros(1, dtype=np.int32)
    ref: dict[int, int] = {}
    for _ in range(20_000):
        off = int(rng.integers(0, 200))
        slot = kn._slot(tab, meta, off, False)
        assert (slot >= 0) == (off in ref)
        if slot >= 0:
            assert tab[slot, kn.LS_SINCE] == ref[off]
        if off in ref and (len(ref) >= 30 or rng.random() < 0.5):
            kn._keep_listing(tab, meta, off, slot, 0, 0, 0)
            del ref[off]
        elif len(ref) < 30:
            value = int(rng.integers(0, 1000))
            kn._keep_listing(tab, meta, off, slot, int(kn.CL), value, 0)
            ref[off] = value
        assert meta[0] == len(ref) == (tab[:, kn.LS_WHO] >= 0).sum()
