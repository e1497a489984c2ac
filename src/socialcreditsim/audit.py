"""The audit trail: who was sampled, what happened to them, and their story in plain words.

The sample is every ``stride``-th scored person from a seeded offset, so it spreads evenly over
regions, age bands, groups and propensity classes. Every recorded event, list entry and exit,
grade change, sanction, blocked attempt and reward use of a sampled person is kept.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from .columns import arrow_column, arrow_table
from .folders import DATE
from .kernels import AUDIT_COLUMNS, AUDIT_KINDS
from .lists import BLACKLIST_EXIT_REASONS, COURT_EXIT_REASONS, NEVER
from .rng import new_stream, randint
from .series import WRONGFUL, Run, headline, outputs

if TYPE_CHECKING:
    import pandas as pd

    from .population import Population
    from .sanctions import Measures
    from .scenario import Scenario

__all__ = ["audit_sample", "explain", "headline_rows", "start_score"]

TRUTH = ("", "rightful", "wrongful", "at_start")
APPEAL_OUTCOMES = ("", "refused", "granted")  # the truth column of an appeal record
AT_DISCRETION = "listing_at_discretion"  # the item of an appeal or correction of such a listing

# the stream of the sample's offset: no locality's (locality 0, day -2, a purpose nobody else
# uses; kernels.py uses 0-3, population.py 10, rollout.py 11)
P_AUDIT = 12


def audit_sample(n_scored: int, want: int, seed: int) -> tuple[int, int]:
    """(stride, offset): scored index a is audited iff a % stride == offset (stride 0: none)."""
    if want == 0 or n_scored == 0:
        return 0, 0
    stride = max(1, n_scored // want)
    return stride, int(randint(new_stream(seed, 0, -2, P_AUDIT), stride))


def people_frame(sc: Scenario, pop: Population, seed: int) -> pa.Table:
    """Who the audited people are (a table as ``tables`` builds them)."""
    stride, offset = audit_sample(pop.n_scored, sc.output.audit_sample, seed)
    scored = np.arange(offset, pop.n_scored, stride) if stride else np.zeros(0, dtype=np.int64)
    d = pop.describe(scored)
    groups = np.array(["general"] + [g.name for g in sc.groups], dtype=object)
    return arrow_table(
        {
            "person": pop.person_of_scored(scored),
            "region": d["region"].astype(str),
            "urban": d["urban"].astype(bool),
            "age_band": d["age_band"].astype(str),
            "group": groups[d["group_index"]].astype(str),
            "propensity_class": d["propensity_class"] + 1,
            "rule_breaking_propensity": d["rule_breaking_propensity"].astype(float),
            "children": d["children"].astype(np.int64),
        }
    )


def audit_frame(
    chunks: list[np.ndarray],
    pop: Population,
    days: list[dt.date],
    behaviours: list[str],
    measures: Measures,
    grades: list[str],
) -> pa.Table:
    """The audit records as a table (as ``tables`` builds them), by person and date, each
    person's records of a day in the order they were made."""
    cols = ["person", "date", "kind", "item", "truth", "value", "score"]
    if not chunks:
        return pa.Table.from_arrays([pa.nulls(0)] * len(cols), names=cols)
    rec = np.concatenate(chunks)
    raw = {name: rec[:, j] for j, name in enumerate(AUDIT_COLUMNS)}
    kind = raw["kind"]
    item_idx = raw["item"]
    truth_idx = raw["truth"]
    kind_names = np.array(AUDIT_KINDS)[kind]
    by_behaviour = np.isin(kind_names, ["event", "shamed", "appeal", "correction"])
    of_listing = by_behaviour & (item_idx < 0)  # an appeal of a listing at discretion
    by_behaviour &= ~of_listing
    by_measure = np.isin(kind_names, ["measure_start", "measure_end", "attempts"])
    item = np.full(len(kind), "", dtype=object)
    item[by_behaviour] = np.array(behaviours, dtype=object)[item_idx[by_behaviour]]
    item[of_listing] = AT_DISCRETION
    if measures.names:
        item[by_measure] = np.array(measures.names, dtype=object)[item_idx[by_measure]]
    is_grade = kind_names == "grade_change"
    item[is_grade] = np.array(grades, dtype=object)[item_idx[is_grade]]
    truth = np.full(len(kind), "", dtype=object)
    for name, labels in (
        ("court_list_exit", COURT_EXIT_REASONS),
        ("blacklist_exit", BLACKLIST_EXIT_REASONS),
        ("appeal", APPEAL_OUTCOMES),
    ):
        mask = kind_names == name
        truth[mask] = np.array(labels, dtype=object)[truth_idx[mask]]
    other = ~np.isin(kind_names, ["court_list_exit", "blacklist_exit", "appeal"])
    truth[other] = np.array(TRUTH, dtype=object)[truth_idx[other]]
    person = pop.person_of_scored(raw["who"])
    date = (np.datetime64(days[0], "D") + raw["day"].astype("timedelta64[D]")).astype(DATE)
    order = np.lexsort((date, person))  # stable: a person's records of a day keep their order
    return arrow_table(
        {
            "person": person[order],
            "date": date[order],
            "kind": arrow_column(kind[order], list(AUDIT_KINDS)),
            "item": item[order],
            "truth": truth[order],
            "value": raw["value"][order],
            "score": raw["score"][order],
        }
    )


def _fmt(x: float) -> str:
    if np.isnan(x):
        return ""
    if abs(x) >= 100 or float(x).is_integer():
        return f"{x:,.0f}"
    return f"{x:,.3g}"


class _National:
    """Totals of the national rows of a run's time series."""

    def __init__(self, res: Run):
        ts = res.timeseries
        self.nat = ts[ts["region"] == "national"]
        self.last = self.nat["date"].max()

    def total(
        self, metric: str, item: str | None = None, at_end: bool = False
    ) -> tuple[float, float]:
        """(all, wrongful): at the end of the run for a stock, summed over it for a flow."""
        nat = self.nat
        sel = nat["metric"] == metric
        if item is not None:
            sel &= nat["item"] == item
        if at_end:
            sel &= nat["date"] == self.last
        part = nat[sel]
        return float(part["value"].sum()), float(part[part["truth"] == "wrongful"]["value"].sum())


def _share(value: float, wrongful: float) -> float:
    return wrongful / value if value > 0 else np.nan


def headline_rows(res: Run) -> pd.DataFrame:
    """The headline figures but the sanctions (``series.headline``), national, at the end of the
    run or summed over it, with their wrongful part where they have one."""
    import pandas as pd

    values = outputs(res)
    rows = [
        (h.label, values[h.key], values[h.key + WRONGFUL] if h.wrongly else np.nan)
        for h in headline(res.scenario)
        if not h.sanction
    ]
    frame = pd.DataFrame(rows, columns=["figure", "value", "wrongful"])
    frame["wrongful_share"] = [
        _share(v, w) for v, w in zip(frame["value"], frame["wrongful"], strict=True)
    ]
    return frame


def sanction_rows(res: Run) -> pd.DataFrame:
    """One row per sanction: people (and children) barred at the end, blocked attempts over the
    run (and since the list began, where the scenario gives the count before its start)."""
    import pandas as pd

    nat = _National(res)
    sc = res.scenario
    rows = []
    for m in sc.sanctions:
        people, people_w = nat.total("sanctioned_people", m.name, at_end=True)
        kids, kids_w = nat.total("sanctioned_children", m.name, at_end=True)
        att, att_w = nat.total("blocked_attempts", m.name)
        before = sc.initial.cumulative.get(f"blocked_attempts:{m.name}")
        if before is not None and res.manifest["counts"] == "raw":
            before /= res.manifest["scale"]  # the published count, in agents
        rows.append(
            {
                "sanction": m.name,
                "people_barred": people,
                "people_wrongful_share": _share(people, people_w),
                "children_barred": kids,
                "blocked_attempts": att,
                "attempts_wrongful_share": _share(att, att_w),
                "blocked_attempts_since_list_began": np.nan if before is None else att + before,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "sanction",
            "people_barred",
            "people_wrongful_share",
            "children_barred",
            "blocked_attempts",
            "attempts_wrongful_share",
            "blocked_attempts_since_list_began",
        ],
    )


def explain(res: Run, person: int) -> str:
    """The story of one audited person, every line traceable to a row of audit.parquet."""
    people = res.people
    who = people[people["person"] == person]
    if who.empty:
        sample = ", ".join(str(p) for p in people["person"].head(5))
        raise KeyError(
            f"person {person} is not in this run's audited sample "
            f"({len(people):,} people; for example {sample})"
        )
    p = who.iloc[0]
    sc = res.scenario
    change = {b.name: b.score_change for b in sc.behaviours}
    channel = {b.name: b.channel for b in sc.behaviours}
    kids = int(p["children"])
    lines = [
        f"Person {person}: {p['age_band']}, {'urban' if p['urban'] else 'rural'} {p['region']}, "
        f"group '{p['group']}', rule-breaking propensity class {p['propensity_class']} "
        f"({p['rule_breaking_propensity']:.2f}x the average), "
        f"{kids} {'child' if kids == 1 else 'children'}.",
    ]
    ev = res.audit[res.audit["person"] == person]
    lines.append(_start_line(res, ev))
    if ev.empty:
        lines.append("Nothing about this person was recorded: no events, lists or sanctions.")
        return "\n".join(lines)
    for r in ev.itertuples(index=False):
        d = str(r.date)[:10]
        wrong = r.truth == "wrongful"
        at_start = r.truth == "at_start"
        match r.kind:
            case "event":
                how = {
                    "camera": "caught on camera",
                    "online": "seen online",
                    "court": "in a court judgment",
                    "records": "in records",
                }[channel[r.item]]
                if wrong:
                    text = (
                        f"WRONGLY recorded for '{r.item}' ({how}): face recognition "
                        "attributed somebody else's act to this person"
                    )
                else:
                    text = f"recorded for '{r.item}' ({how})"
                lines.append(f"{d}  {text}; score {change[r.item]:+d} -> {r.score}.")
            case "shamed":
                lines.append(
                    f"{d}  shown on a public screen for '{r.item}'"
                    + (" (it was not them)." if wrong else ".")
                )
            case "court_list_entry":
                what = "already on" if at_start else "put on"
                lines.append(
                    f"{d}  {what} the courts' list of dishonest judgment debtors "
                    f"({_expiry(res, r.value)})."
                )
            case "court_list_extended":
                lines.append(
                    f"{d}  court listing extended by a new judgment ({_expiry(res, r.value)})."
                )
            case "listed_at_discretion":
                lines.append(
                    f"{d}  LISTED AT DISCRETION: put on the courts' list by an order, without a"
                    f" debt or a score (until {_date(res, r.value)})."
                )
            case "court_list_exit":
                why = {
                    "complied": "paid the debt",
                    "complied_under_pressure": "paid the debt under the pressure of sanctions",
                    "expired": "the listing expired",
                    "corrected": "the record it rested on was corrected on appeal",
                    "repaired": "credit repair",
                }[r.truth]
                lines.append(f"{d}  removed from the court list: {why}.")
            case "appeal":
                what = "the listing at discretion" if r.item == AT_DISCRETION else f"'{r.item}'"
                lines.append(
                    f"{d}  appealed {what}; the appeal will be {r.truth} on {_date(res, r.value)}."
                )
            case "correction":
                what = "the listing at discretion" if r.item == AT_DISCRETION else f"'{r.item}'"
                undo = "" if r.item == AT_DISCRETION else f" (score {-change[r.item]:+d})"
                lines.append(
                    f"{d}  appeal granted: the record of {what} from {_date(res, r.value)} is"
                    f" reversed{undo}; score {r.score}."
                )
            case "blacklist_entry":
                note = " A wrongly attributed record was part of that score." if wrong else ""
                lines.append(
                    f"{d}  {'already ' if at_start else ''}blacklisted: score {r.score} "
                    f"below {sc.blacklist.entry_below}.{note}"
                )
            case "blacklist_exit" if r.truth == "corrected":
                lines.append(
                    f"{d}  left the blacklist: a record it rested on was corrected (score"
                    f" {r.score}, at or above the entry threshold {sc.blacklist.entry_below})."
                )
            case "blacklist_exit":
                lines.append(
                    f"{d}  left the blacklist: score back at {r.score} "
                    f"(exit at {sc.blacklist.exit_at})."
                )
            case "grade_change":
                lines.append(f"{d}  grade is now {r.item} (score {r.score}).")
            case "measure_start":
                lines.append(
                    f"{d}  {'at the start: ' if at_start else ''}"
                    f"{_measure_text(sc, r.item, True, kids)}"
                    + (" -- wrongfully, through a wrong record." if wrong else ".")
                )
            case "measure_end":
                lines.append(f"{d}  {_measure_text(sc, r.item, False, kids)}.")
            case "attempts":
                lines.append(f"{d}  {_attempt_text(sc, r.item, int(r.value))}.")
    return "\n".join(lines)


def start_score(res: Run, person: int) -> int | None:
    """An audited person's score at the start of the run, or None where the audit trail does
    not hold it.

    Records with truth ``at_start`` carry it: they are written for whoever starts listed, in
    another grade than ``score.start``'s, or under a measure. Without a spread
    (``initial.score_sd`` 0) anybody else starts at ``score.start`` (an initial blacklist draw
    lists the person, so it is recorded). With a spread, for anybody else it is the score
    before the first day of recorded events: the last score recorded that day less that day's
    changes, provided no recovery can have moved the score before (recovery 0, or events on the
    first day) and no record that day sits at a bound (a clipped score hides the change). Else
    None: the draw of a person untouched at the start is not written down.
    """
    return _start_score(res, res.audit[res.audit["person"] == person])


def _start_score(res: Run, ev: pd.DataFrame) -> int | None:
    at_start = ev[ev["truth"] == "at_start"]
    if len(at_start):
        return int(at_start["score"].iloc[0])
    sc = res.scenario
    if sc.initial.score_sd == 0 and (sc.initial.blacklisted_share == 0 or sc.blacklist.enabled):
        return sc.score.start
    events = ev[ev["kind"] == "event"]
    if events.empty:
        return None
    first = events["date"].iloc[0]
    if sc.score.recovery_per_day > 0 and str(first)[:10] != res.manifest["start"]:
        return None
    day = events[events["date"] == first]
    if day["score"].isin([sc.score.min, sc.score.max]).any():
        return None
    change = {b.name: b.score_change for b in sc.behaviours}
    return int(day["score"].iloc[-1]) - sum(change[item] for item in day["item"])


def _start_line(res: Run, ev: pd.DataFrame) -> str:
    sc = res.scenario
    head = f"Score at the start ({res.manifest['start']})"
    score = _start_score(res, ev)
    if score is not None:
        return f"{head}: {score}."
    if sc.initial.score_sd > 0:
        drawn = f"drawn around {sc.score.start} (standard deviation {sc.initial.score_sd:g})"
    else:
        drawn = f"{sc.score.start}, or lower if drawn into the initial blacklist share"
    return f"{head}: {drawn}; this person's start score is not in the audit trail."


def _date(res: Run, day: int) -> str:
    return str(dt.date.fromisoformat(res.manifest["start"]) + dt.timedelta(days=int(day)))


def _expiry(res: Run, day: int) -> str:
    if day >= NEVER:
        return "with no end date unless they pay"
    end = dt.date.fromisoformat(res.manifest["start"]) + dt.timedelta(days=int(day))
    return f"until {end} unless they pay"


def _measure_text(sc: Scenario, name: str, start: bool, kids: int) -> str:
    """A measure's start or end; one that bars children is recorded whether or not the person
    has any (it follows their lists and grade), and the text says when they have none."""
    reward = name in {m.name for m in sc.rewards}
    m = next(m for m in sc.sanctions + sc.rewards if m.name == name)
    whom = {
        "person": "",
        "children": " (for their children)" if kids else " (for their children; they have none)",
        "both": " (and their children)" if kids else "",
    }
    if reward:
        return f"{'now receives' if start else 'no longer receives'} reward '{name}'"
    return f"{'barred from' if start else 'no longer barred from'} '{name}'{whom[m.target]}"


def _attempt_text(sc: Scenario, name: str, k: int) -> str:
    if name in {m.name for m in sc.rewards}:
        return f"used reward '{name}' {k} time{'s' if k > 1 else ''}"
    return f"{k} attempt{'s' if k > 1 else ''} at '{name}' blocked"
