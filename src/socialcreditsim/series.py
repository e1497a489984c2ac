"""Names for what a run measures: daily national series (published figures, calibration targets)
and scalar outputs (replicates, comparisons, sweeps).

**Series** name a daily national series of a run; counts are people (scaled to the population;
with ``output.raw_counts`` the simulated counts are scaled up to compare):

==========================================  ================================================
series                                      simulated value at the date
==========================================  ================================================
``listed_cumulative``                       ``court_list_entries`` summed from ``time.start``
``flight_purchases_blocked_cumulative``     ``blocked_attempts`` of the sanction ``flights``
                                            summed from ``time.start``, plus
                                            ``initial.cumulative["blocked_attempts:flights"]``
``train_purchases_blocked_cumulative``      the same for the sanction ``trains``
``complied_under_pressure_cumulative``      ``court_list_exits``, item
                                            ``complied_under_pressure``, summed
``<metric>``                                any time series metric on that day, summed over
                                            its items and truths
``<metric>:<item>``                         one item of it (a behaviour, sanction, exit reason)
``<metric>[:<item>]_cumulative``            a flow summed from ``time.start`` to the date, plus
                                            ``initial.cumulative["<metric>:<item>"]`` where the
                                            scenario gives the count from before its start
==========================================  ================================================

**Outputs** are one number per run, keyed ``<metric>[:<item>][/wrongful]``: a flow summed over
the run, a stock at its last day, counted as in the run's tables; ``/wrongful`` keeps the
wrongful part only. ``mean_score`` is the national mean score on the last day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .lists import BLACKLIST_EXIT_REASONS, COURT_EXIT_REASONS

if TYPE_CHECKING:
    import pandas as pd

    from .scenario import Scenario

__all__ = [
    "CUMULATIVE",
    "Headline",
    "NAMED_SERIES",
    "Run",
    "MetricKind",
    "SeriesError",
    "SeriesSpec",
    "TimeseriesLayout",
    "check_output",
    "headline",
    "headline_outputs",
    "metric_kinds",
    "output_keys",
    "outputs",
    "series_spec",
    "simulated_series",
]

# published series name -> (metric, sanction or item, cumulative); sanction-based ones check the
# scenario has that sanction
NAMED_SERIES: dict[str, tuple[str, str | None, bool]] = {
    "listed_cumulative": ("court_list_entries", None, True),
    "flight_purchases_blocked_cumulative": ("blocked_attempts", "flights", True),
    "train_purchases_blocked_cumulative": ("blocked_attempts", "trains", True),
    "complied_under_pressure_cumulative": ("court_list_exits", "complied_under_pressure", True),
}
CUMULATIVE = "_cumulative"
WRONGFUL = "/wrongful"
MEAN_SCORE = "mean_score"


class TimeseriesLayout:
    """Names of the per-locality flow and stock counters the kernels fill, in kernel order."""

    def __init__(self, sc: Scenario, behaviours: list[str]):
        R, W = "rightful", "wrongful"
        flows: list[tuple[str, str, str]] = []
        for b in behaviours:
            flows += [
                ("events_true", b, ""),
                ("events_recorded", b, R),
                ("events_recorded", b, W),
                ("shamings", b, R),
                ("shamings", b, W),
                ("events_deterred", b, ""),  # a lawful behaviour's: acts forgone (chilling)
            ]
        flows += [("court_list_entries", "", ""), ("court_list_entries", "at_discretion", "")]
        flows += [("court_list_exits", reason, "") for reason in COURT_EXIT_REASONS]
        flows += [("blacklist_entries", "", R), ("blacklist_entries", "", W)]
        flows += [("blacklist_exits", reason, "") for reason in BLACKLIST_EXIT_REASONS]
        for metric in ("appeals", "corrections"):
            flows += [(metric, "records", R), (metric, "records", W), (metric, "at_discretion", "")]
        flows += [("correction_days", "records", W), ("correction_days", "at_discretion", "")]
        stocks: list[tuple[str, str, str]] = [
            ("court_listed", "", ""),
            ("court_listed_at_discretion", "", ""),
            ("blacklisted", "", R),
            ("blacklisted", "", W),
            ("sanctioned_people_any", "", R),
            ("sanctioned_people_any", "", W),
        ]
        for measure, reward in sc.measures():
            name = measure.name
            verb = "reward_uses" if reward else "blocked_attempts"
            who = "rewarded" if reward else "sanctioned"
            flows += [(verb, name, R), (verb, name, W)]
            stocks += [
                (f"{who}_people", name, R),
                (f"{who}_people", name, W),
                (f"{who}_children", name, R),
                (f"{who}_children", name, W),
            ]
        grades = [g.name for g in sc.score.grades] or ["all"]
        stocks += [("grade_holders", g, "") for g in grades]
        self.flows, self.stocks = flows, stocks
        self.n_flows, self.n_stocks = len(flows), len(stocks)
        self.grades = grades
        red = sc.red_list.min_grade
        self.red_grades = grades[: grades.index(red) + 1] if red else []


class Run(Protocol):
    """What the readers of a run's tables need (:class:`~socialcreditsim.results.Results` is
    one): the four tables, the manifest, the scenario and its daily series."""

    timeseries: pd.DataFrame
    snapshots: pd.DataFrame
    audit: pd.DataFrame
    people: pd.DataFrame
    manifest: dict[str, Any]

    @property
    def scenario(self) -> Scenario: ...

    def series(
        self,
        metric: str,
        item: str | None = None,
        truth: str | None = None,
        region: str = "national",
        cumulative: bool = False,
    ) -> pd.Series: ...


class SeriesError(ValueError):
    """A series or output name this scenario does not have; the message lists what it has."""


@dataclass(frozen=True)
class MetricKind:
    """A time series metric: a flow (per day) or a stock (end of day), its items, and whether
    it splits rightful from wrongful."""

    flow: bool
    items: list[str]
    truths: bool


def metric_kinds(scenario: Scenario) -> dict[str, MetricKind]:
    """The time series metrics a run of this scenario has."""
    names = [b.name for b in scenario.behaviours]
    layout = TimeseriesLayout(scenario, names)
    out: dict[str, MetricKind] = {}
    for flow, cols in ((True, layout.flows), (False, layout.stocks)):
        for metric, item, truth in cols:
            kind = out.setdefault(metric, MetricKind(flow, [], False))
            if item and item not in kind.items:
                kind.items.append(item)
            if truth == "wrongful":
                out[metric] = MetricKind(flow, kind.items, True)
    if layout.red_grades:
        out["red_listed"] = MetricKind(False, [], False)
    return out


@dataclass(frozen=True)
class SeriesSpec:
    """A daily national series of a run: ``metric`` (one ``item`` or all), cumulative or not,
    plus a count from before the start (people)."""

    metric: str
    item: str | None = None
    cumulative: bool = False
    offset: float = 0.0


def series_spec(name: str, scenario: Scenario) -> SeriesSpec:
    """What a series name means for this scenario (module docstring)."""
    metrics = metric_kinds(scenario)
    if name in NAMED_SERIES:
        metric, item, cumulative = NAMED_SERIES[name]
        sanctions = [m.name for m in scenario.sanctions]
        if metric == "blocked_attempts" and item not in sanctions:
            raise SeriesError(
                f"series '{name}' needs a sanction named '{item}'; this scenario's sanctions are"
                f" {sanctions}"
            )
    else:
        base = name.removesuffix(CUMULATIVE)
        cumulative = base != name
        metric, item = _metric_item(base, metrics, f"series '{name}'")
        if metric is None:
            raise SeriesError(
                f"unknown series '{name}'; allowed: {', '.join(NAMED_SERIES)}, or"
                f" <metric>[:<item>][{CUMULATIVE}] with the metrics {', '.join(sorted(metrics))}"
            )
        if cumulative and not metrics[metric].flow:
            raise SeriesError(
                f"series '{name}': {metric} is a stock (a count at the end of each day), so it"
                f" has no cumulative sum; use '{base}'"
            )
    offset = 0.0
    if cumulative:
        offset = scenario.initial.cumulative.get(f"{metric}:{item}", 0.0)
    return SeriesSpec(metric, item, cumulative, offset)


def _metric_item(
    text: str, metrics: dict[str, MetricKind], what: str
) -> tuple[str | None, str | None]:
    """Split ``metric[:item]``; None for an unknown metric, an error for an unknown item."""
    metric, _, item_text = text.partition(":")
    item = item_text or None
    if metric not in metrics:
        return None, None
    items = metrics[metric].items
    if item is not None and item not in items:
        known = f"items are {items}" if items else "it has no items"
        sanction = " (sanctions)" if metric == "blocked_attempts" else ""
        raise SeriesError(f"{what}: unknown item '{item}' of {metric}{sanction}; {known}")
    return metric, item


def simulated_series(results: Run, spec: SeriesSpec) -> pd.Series:
    """The daily national series, in people (raw counts are scaled up), offset included."""
    s = results.series(spec.metric, spec.item, cumulative=spec.cumulative)
    if results.manifest["counts"] == "raw":
        s = s * results.manifest["scale"]
    return s + spec.offset


# ------------------------------------------------------------------------------ outputs


def output_keys(scenario: Scenario) -> list[str]:
    """Every output a run of this scenario has (module docstring)."""
    keys = []
    for metric, kind in metric_kinds(scenario).items():
        for base in [metric] + [f"{metric}:{i}" for i in kind.items]:
            keys.append(base)
            if kind.truths:
                keys.append(base + WRONGFUL)
    return keys + [MEAN_SCORE]


def check_output(key: str, scenario: Scenario) -> str:
    """``key`` if this scenario's runs have that output, else a :class:`SeriesError` that says
    what is allowed."""
    metrics = metric_kinds(scenario)
    if key == MEAN_SCORE:
        return key
    base = key.removesuffix(WRONGFUL)
    metric, _ = _metric_item(base, metrics, f"output '{key}'")
    if metric is None:
        raise SeriesError(
            f"unknown output '{key}'; outputs are <metric>[:<item>][{WRONGFUL}] with the metrics"
            f" {', '.join(sorted(metrics))}, or {MEAN_SCORE}"
        )
    if base != key and not metrics[metric].truths:
        raise SeriesError(f"output '{key}': {metric} does not split rightful from wrongful")
    return key


def outputs(results: Run) -> pd.Series:
    """Every output of one run (module docstring), indexed by key."""
    import pandas as pd

    ts = results.timeseries
    nat = ts[ts["region"] == "national"]
    kinds = metric_kinds(results.scenario)
    out: dict[str, float] = {}
    grouped = nat.groupby(["metric", "item", "truth"], observed=True, sort=False)["value"]
    sums, lasts = grouped.sum(), grouped.last()  # rows are in date order: last is the last day
    for (metric, item, truth), total in sums.items():
        kind = kinds[metric]
        value = float(total if kind.flow else lasts[(metric, item, truth)])
        for key in {metric, f"{metric}:{item}" if item else metric}:
            out[key] = out.get(key, 0.0) + value
            if truth == "wrongful":
                out[key + WRONGFUL] = out.get(key + WRONGFUL, 0.0) + value
    for key in output_keys(results.scenario):
        out.setdefault(key, 0.0)
    snap = results.snapshots
    mean = np.nan
    if len(snap):
        final = snap[(snap["date"] == snap["date"].max()) & (snap["dimension"] == "national")]
        sel = final[final["metric"] == MEAN_SCORE]["value"]
        mean = float(sel.iloc[0]) if len(sel) else np.nan
    out[MEAN_SCORE] = mean
    return pd.Series(out, dtype=float).reindex(output_keys(results.scenario))


@dataclass(frozen=True)
class Headline:
    """A headline figure: its output key and label, the label of its wrongful part where it
    has one, and whether it belongs to a sanction (tables list sanctions apart)."""

    key: str
    label: str
    wrongly: str = ""
    sanction: bool = False


def headline(scenario: Scenario) -> list[Headline]:
    """The figures a reader wants first: lists, sanctions, rewards, records, shamings, score."""
    sc = scenario
    rows = [
        Headline("court_listed", "court list: people listed (now)"),
        Headline("court_list_entries", "court list: new listings (over the run)"),
    ]
    if sc.blacklist.enabled:
        rows += [
            Headline(
                "blacklisted",
                "score blacklist: people listed (now)",
                "score blacklist: wrongly listed (now)",
            ),
            Headline(
                "blacklist_entries",
                "score blacklist: entries (over the run)",
                "score blacklist: wrongful entries (over the run)",
            ),
        ]
    discretion = sc.discretionary_listing.per_year > 0 or any(
        g.discretionary_listing_per_year for g in sc.groups
    )
    if discretion:
        rows += [
            Headline("court_listed_at_discretion", "court list: listed at discretion (now)"),
            Headline(
                "court_list_entries:at_discretion",
                "court list: listings at discretion (over the run)",
            ),
        ]
    if sc.court_list.repair_per_year > 0:
        rows.append(
            Headline("court_list_exits:repaired", "court list: credit repairs (over the run)")
        )
    if sc.red_list.min_grade:
        rows.append(Headline("red_listed", "red list: people listed (now)"))
    if sc.sanctions:
        rows.append(
            Headline(
                "sanctioned_people_any",
                "barred from anything: people (now)",
                "barred from anything: wrongly (now)",
            )
        )
    for m in sc.sanctions:
        rows += [
            Headline(
                f"sanctioned_people:{m.name}",
                f"{m.name}: people barred (now)",
                f"{m.name}: wrongly barred (now)",
                sanction=True,
            ),
            Headline(
                f"blocked_attempts:{m.name}",
                f"{m.name}: blocked attempts (over the run)",
                sanction=True,
            ),
        ]
    rows += [Headline(f"rewarded_people:{m.name}", f"rewarded: {m.name} (now)") for m in sc.rewards]
    rows.append(
        Headline(
            "events_recorded",
            "recorded events (over the run)",
            "wrongly recorded events (over the run)",
        )
    )
    if sc.appeals.probability > 0:
        rows += [
            Headline(
                "appeals", "appeals (over the run)", "appeals of wrongful records (over the run)"
            ),
            Headline(
                "corrections",
                "records and listings corrected on appeal (over the run)",
                "wrongful records corrected (over the run)",
            ),
        ]
    for b in sc.behaviours:
        if b.chilled_by is not None:
            rows.append(
                Headline(
                    f"events_deterred:{b.name}", f"{b.name}: lawful acts forgone (over the run)"
                )
            )
        elif b.deterrence_elasticity > 0:
            rows.append(
                Headline(
                    f"events_deterred:{b.name}", f"{b.name}: prevented by deterrence (over the run)"
                )
            )
    if any(b.shaming_probability > 0 for b in sc.behaviours):
        rows.append(
            Headline(
                "shamings",
                "shamed on public screens (over the run)",
                "wrongly shamed (over the run)",
            )
        )
    rows.append(Headline(MEAN_SCORE, "mean score (now)"))
    return rows


def headline_outputs(scenario: Scenario) -> dict[str, str]:
    """The headline outputs, wrongful parts included, with their labels (:func:`headline`)."""
    out = {}
    for h in headline(scenario):
        out[h.key] = h.label
        if h.wrongly:
            out[h.key + WRONGFUL] = h.wrongly
    return out
