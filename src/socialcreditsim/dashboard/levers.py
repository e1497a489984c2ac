"""The Scenario view's levers: the fields a dashboard user may edit, each with its unit and a
one-line doc, addressed by the dotted path ``--set`` uses (``scenario.py``).

:func:`levers_for` lists a scenario's levers (per behaviour, sanction and group where the scenario
has them); :func:`overrides` turns the values the page holds into ``--set`` overrides, which
``load_scenario`` validates as it validates the CLI's, and :func:`assignments` writes them as the
``KEY=VALUE`` texts of ``--set`` and ``--variant``. A lever is a field, except those that edit a
list or a table the scenario declares: a schedule's points or the rollout's steps as lines of
text (``points``), a schedule scaled by a factor (``scale``), the rollout's pace (``pace``), a
sanction or the rewards switched off (``on``), and a group's multiplier of a behaviour it does
not name yet (its whole table of multipliers is then set; :func:`more_multipliers` lists them).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from ..scenario import Scenario, ScenarioError

__all__ = [
    "Lever", "assignments", "error_key", "field", "levers_for", "more_multipliers", "overrides",
    "points_text",
]  # fmt: skip

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")  # a TOML key that needs no quotes
LISTS = ("court", "blacklist", "red")  # what may trigger a sanction, besides grades
POINTS = ".points"  # a points lever's key: the path of the field it edits and this
MULTIPLIER = re.compile(r"(groups\.[^.]+\.(?:rate|awareness)_multipliers)\.[^.]+")


@dataclass(frozen=True)
class Lever:
    """One editable field: ``kind`` says which widget edits it (float, int: a slider from ``lo``
    to ``hi`` where both are given, else a number box; date, optional_date, bool, choices from
    ``options``, and the list edits points, scale, pace and on)."""

    key: str  # the dotted path of --set
    label: str
    unit: str
    doc: str
    section: str
    kind: str = "float"
    lo: float | None = None  # a slider's range; a value typed beyond it goes to the model
    hi: float | None = None
    step: float = 0.01
    options: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        """The field the lever edits: its key, but a points lever's key ends in ``.points``
        (the schedule's factor, or the rollout's pace, edits the same field)."""
        return self.key.removesuffix(POINTS)

    @property
    def css(self) -> str:
        """The widget's CSS class: ``lever-`` and the key, dots and underscores as dashes."""
        return "lever-" + self.key.replace(".", "-").replace("_", "-")


def field(sc: Scenario, key: str) -> Any:
    """The value of a lever's field in a scenario (``None`` where the scenario lacks it)."""
    node: Any = sc
    for part in key.split("."):
        if isinstance(node, list):
            node = next((x for x in node if getattr(x, "name", None) == part), None)
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            node = getattr(node, part, None)
        if node is None:
            return None
    return node


def _amount(v: float) -> str:
    """A count as a reader says it: '176 million', or four significant digits."""
    return f"{v / 1e6:,.0f} million" if v >= 1e6 else f"{v:,.4g}"


def _schedule_text(value: Any) -> str:
    """A schedule as a reader says it: '176 million on 2016-01-01, 350 million on ...'."""
    if isinstance(value, (int, float)):
        return _amount(value)
    return ", ".join(f"{_amount(v)} on {d}" for d, v in value)


def _number(v: float) -> str:
    """A number as a points lever writes it: '176,000,000', '0.3' (exactly, to be read back)."""
    return f"{v:,.0f}" if float(v).is_integer() else repr(float(v))


def points_text(value: Any) -> str:
    """A schedule's points, or the rollout's steps, as a points lever shows them: one
    'YYYY-MM-DD value' a line (a step of regions: 'YYYY-MM-DD region region ...')."""
    lines = []
    for point in value:
        if isinstance(point, (list, tuple)):
            lines.append(f"{point[0]} {_number(point[1])}")
        elif point.share is not None:
            lines.append(f"{point.date} {_number(point.share)}")
        else:
            lines.append(f"{point.date} {' '.join(point.regions)}")
    return "\n".join(lines)


def _parse_points(path: str, text: str) -> list[Any]:
    """A points lever's text as the field's value: [[date, value], ...] for a schedule, the
    steps' tables for the rollout. A line that is not 'YYYY-MM-DD value' gets a message naming
    the field and the line; the scenario models check the rest (dates in order, ranges)."""
    what = "'YYYY-MM-DD share' or 'YYYY-MM-DD region ...'" if path == "rollout" else (
        "'YYYY-MM-DD value'")  # fmt: skip
    out: list[Any] = []
    for i, line in enumerate(text.splitlines(), 1):
        words = line.replace(",", "").split()
        if not words:
            continue
        try:
            if len(words) < 2 or (len(words) > 2 and path != "rollout"):
                raise ValueError
            date = dt.date.fromisoformat(words[0])
            if path != "rollout":
                out.append([date, float(words[1])])
            elif len(words) == 2 and re.fullmatch(r"[0-9.eE+-]+", words[1]):
                out.append({"date": date, "share": float(words[1])})
            else:
                out.append({"date": date, "regions": words[1:]})
        except ValueError:
            raise ScenarioError(f"{path}: line {i} is not {what}: {line.strip()!r}") from None
    if not out:
        raise ScenarioError(f"{path}: give at least one line {what}")
    return out


def _points(path: str, label: str, section: str) -> Lever:
    """The lever of a schedule's points or the rollout's steps, one a line."""
    if path == "rollout":
        doc = ("The rollout's steps, one a line: the day a share of localities has joined"
               " ('2019-01-01 0.6') or the regions that join then ('2019-01-01 Beijing"
               " Shanghai'); the pace above then applies.")  # fmt: skip
    else:
        doc = ("The schedule's points, one 'YYYY-MM-DD value' a line, linear between them and"
               " flat outside; the factor above then applies.")  # fmt: skip
    return Lever(path + POINTS, label, "one a line", doc, section, "points")


def _multiplier(group: str, what: str, behaviour: str) -> Lever:
    """A group's multiplier of a behaviour's rate (``what``: rate) or of the awareness of its
    rule (awareness)."""
    sg = "Targeted groups"
    if what == "rate":
        return Lever(f"groups.{group}.rate_multipliers.{behaviour}", f"{group}: {behaviour}", "x",
                     f"The rate of '{behaviour}' among {group}, times the general rate.", sg,
                     lo=0.0, hi=10.0, step=0.1)  # fmt: skip
    return Lever(f"groups.{group}.awareness_multipliers.{behaviour}", f"{group}: know {behaviour}",
                 "x", f"Their awareness that '{behaviour}' is scored, times the general one (at"
                 " most 1).", sg, lo=0.0, hi=5.0, step=0.1)  # fmt: skip


def more_multipliers(sc: Scenario) -> list[Lever]:
    """The multipliers a group could add, each 1 until moved: the rate of each behaviour it
    does not name, and its awareness of each rule it does not name (not of a chilled behaviour:
    that follows the awareness of the rule it is chilled by)."""
    out = []
    for g in sc.groups:
        out += [_multiplier(g.name, "rate", b.name) for b in sc.behaviours
                if b.name not in g.rate_multipliers]  # fmt: skip
        out += [_multiplier(g.name, "awareness", b.name) for b in sc.behaviours
                if b.name not in g.awareness_multipliers and b.chilled_by is None]  # fmt: skip
    return out


def _prob(key: str, label: str, doc: str, section: str, unit: str = "probability") -> Lever:
    """A lever of a probability or a share: a slider from 0 to 1."""
    return Lever(key, label, unit, doc, section, lo=0.0, hi=1.0, step=0.01)


def levers_for(sc: Scenario) -> list[Lever]:
    """The levers of a scenario, in the order the page shows them, by section."""
    fr = "Face recognition"  # open first: the fewest widgets, so the page is quick to load
    out: list[Lever] = [
        _prob("surveillance.fnir", "FNIR", "False negative identification rate: an event in view"
              " is identified correctly with probability 1 - FNIR.", fr),
        Lever("surveillance.fpir", "FPIR", "probability", "False positive identification rate:"
              " an event in view and not identified correctly is attributed to a wrong person"
              " of the same locality with this probability.", fr, lo=0.0, hi=0.2, step=0.001),
    ]  # fmt: skip
    sv = "Cameras and shaming"
    cams = sc.surveillance.cameras
    if isinstance(cams, list):
        out.append(Lever(
            "surveillance.cameras", "Cameras", "x the scenario's count", "The camera count over"
            f" time, times this factor (the scenario: {_schedule_text(cams)}).", sv, "scale",
            0.0, 4.0, 0.05,
        ))  # fmt: skip
        out.append(_points("surveillance.cameras", "Cameras: points", sv))
    elif cams > 0:
        out.append(Lever("surveillance.cameras", "Cameras", "cameras", "Cameras watching public"
                         " places.", sv, step=1e6))  # fmt: skip
    out += [
        _prob("surveillance.urban_camera_share", "Cameras in towns", "Share of the cameras that"
              " watch urban localities; the rest watch rural ones.", sv, "share"),
        Lever("surveillance.coverage_per_camera_per_person", "Coverage per camera", "per camera"
              " per person", "Coverage is 1 - exp(-this x cameras per person): the chance a"
              " public act happens in view.", sv, lo=0.0, hi=5.0, step=0.05),
    ]  # fmt: skip
    for where in ("urban", "rural"):
        value = getattr(sc.surveillance, f"coverage_{where}")
        if value is not None:
            kind, hi = ("scale", 4.0) if isinstance(value, list) else ("float", 1.0)
            out.append(Lever(
                f"surveillance.coverage_{where}", f"Coverage, {where}",
                "x the scenario's" if kind == "scale" else "probability",
                f"Chance a public act in a {where} locality happens in view, given instead of"
                f" the cameras (the scenario: {_schedule_text(value)}).", sv, kind, 0.0, hi,
            ))  # fmt: skip
            if kind == "scale":
                out.append(_points(f"surveillance.coverage_{where}", f"Coverage, {where}: points",
                                   sv))  # fmt: skip
    for b in sc.behaviours:
        if b.channel == "camera":
            out.append(
                _prob(
                    f"behaviours.{b.name}.shaming_probability",
                    f"Shaming: {b.name}",
                    f"Chance a recorded '{b.name}' is shown on a public screen.",
                    sv,
                )
            )

    sc_ = "Behaviour and deterrence"
    for b in sc.behaviours:
        if b.chilled_by is not None:
            out.append(Lever(
                f"behaviours.{b.name}.chilling_elasticity", f"Chilling: {b.name}", "elasticity",
                f"The lawful '{b.name}' falls by this x the perceived chance of being recorded"
                f" for '{b.chilled_by}', among those who know that rule.", sc_, lo=0.0, hi=5.0,
                step=0.1,
            ))  # fmt: skip
        elif b.score_change < 0:
            out.append(Lever(
                f"behaviours.{b.name}.deterrence_elasticity", f"Deterrence: {b.name}",
                "elasticity", f"The rate of '{b.name}' is multiplied by max(0, 1 - this x the"
                " perceived chance of being recorded), among people who know the rule.", sc_,
                lo=0.0, hi=5.0, step=0.1,
            ))  # fmt: skip
            if isinstance(b.awareness, (int, float)):
                out.append(_prob(f"behaviours.{b.name}.awareness", f"Awareness: {b.name}",
                                 f"Share of people who know '{b.name}' is scored (only they are"
                                 " deterred).", sc_, "share"))  # fmt: skip

    sl = "Scores and lists"
    lo, hi = sc.score.min, sc.score.max
    out += [
        Lever("blacklist.enabled", "Score blacklist", "on or off", "Whether a low score puts a"
              " person on the score blacklist.", sl, "bool"),
        Lever("blacklist.entry_below", "Blacklist entry below", "score points", "A score below"
              " this puts the person on the score blacklist.", sl, "int", lo, hi, 10),
        Lever("blacklist.exit_at", "Blacklist exit at", "score points", "A listed person leaves"
              " when the score is back at or above this (and the minimum stay has passed).", sl,
              "int", lo, hi, 10),
        Lever("blacklist.min_stay_days", "Blacklist minimum stay", "days", "Days a person stays"
              " on the blacklist at least, whatever their score.", sl, "int", 0, 1825, 30),
        Lever("court_list.compliance_per_year", "Court list: compliance", "per listed person a"
              " year", "Yearly rate at which a person on the courts' list pays and leaves it.",
              sl, lo=0.0, hi=2.0, step=0.05),
        Lever("court_list.duration_days", "Court list: duration", "days", "A listing ends after"
              " this many days unless the person complies first; 0: never.", sl, "int", 0, 3650,
              30),
    ]  # fmt: skip

    sa = "Sanctions and rewards" if sc.rewards else "Sanctions"
    grades = tuple(g.name for g in sc.score.grades)
    for m in sc.sanctions:
        who = "their children" if m.target == "children" else "people"
        out.append(Lever(f"sanctions.{m.name}", f"{m.name}", "on or off", f"Whether {who} are"
                         f" barred from '{m.name}' at all.", sa, "on"))  # fmt: skip
        out.append(Lever(f"sanctions.{m.name}.trigger_lists", "triggered by lists", "lists",
                         f"Being on any of these lists bars {who} from '{m.name}'.", sa,
                         "choices", options=LISTS))  # fmt: skip
        if grades:
            out.append(Lever(f"sanctions.{m.name}.trigger_grades", "and by grades", "grades",
                             f"Holding any of these grades bars {who} from '{m.name}' too.", sa,
                             "choices", options=grades))  # fmt: skip
    if sc.rewards:
        names = ", ".join(m.name for m in sc.rewards)
        out.append(Lever("rewards", "Rewards", "on or off", f"Whether the scenario's rewards"
                         f" ({names}) are given at all.", sa, "on"))  # fmt: skip

    if any(step.date > sc.rollout[0].date for step in sc.rollout):
        steps = ", ".join(
            f"{s.share:.0%} on {s.date}"
            if s.share is not None
            else f"{len(s.regions)} regions on {s.date}"
            for s in sc.rollout
        )
        out.append(Lever(
            "rollout", "Rollout pace", "x the scenario's speed", "Each step of the rollout comes"
            " this many times sooner after the first (2: twice as fast; 0.5: half as fast); the"
            f" scenario: {steps}.", "Rollout", "pace", 0.25, 4.0, 0.05,
        ))  # fmt: skip
    if sc.rollout:
        out.append(_points("rollout", "Rollout steps", "Rollout"))

    sg = "Targeted groups"
    for g in sc.groups:
        out += [
            Lever(f"groups.{g.name}.share", f"{g.name}: share", "share of adults", f"Share of"
                  f" adults who are {g.name}.", sg, lo=0.0, hi=0.2, step=0.0005),
            Lever(f"groups.{g.name}.record_multiplier", f"{g.name}: recording", "x", "Their acts"
                  " are recorded this many times as often as other people's.", sg, lo=0.0,
                  hi=10.0, step=0.1),
            Lever(f"groups.{g.name}.court_listing_multiplier", f"{g.name}: court listing", "x",
                  "Their court records list them this many times as often.", sg, lo=0.0,
                  hi=10.0, step=0.1),
            Lever(f"groups.{g.name}.discretionary_listing_per_year", f"{g.name}: listed at"
                  " discretion", "per person a year", "Court-list orders without a debt or a"
                  " score, per person a year (unset: the general rate).", sg, lo=0.0, hi=0.02,
                  step=0.0005),
        ]  # fmt: skip
        out += [_multiplier(g.name, "rate", b) for b in g.rate_multipliers]
        out += [_multiplier(g.name, "awareness", b) for b in g.awareness_multipliers]

    sd = "Secrecy, appeals and listing at discretion"
    out += [
        Lever("rules.published", "Rules published", "date", "From this day the rulebook is"
              " public: awareness of every rule rises to the level below. Unticked: secret.",
              sd, "optional_date"),
        _prob("rules.awareness_when_published", "Awareness once published", "Share who know"
              " each rule once the rules are published.", sd, "share"),
        _prob("appeals.probability", "Appeals", "Chance that a person who knows the rule and was"
              " told of a record appeals it; 0: no appeals.", sd),
        _prob("appeals.unaware_factor", "Appeals if unaware", "The chance of appeal, times"
              " this, for people who do not know the rule.", sd, "factor"),
        _prob("appeals.disclosure", "Records disclosed", "Chance a person is told of a record"
              " against them.", sd),
        _prob("appeals.undisclosed_factor", "Appeals if not told", "The chance of appeal, times"
              " this, for a record the person was not told of.", sd, "factor"),
        Lever("appeals.delay_days", "Appeal decided after", "days", "Days from an appeal to its"
              " decision.", sd, "int", 1, 365, 5),
        Lever("appeals.random_delay", "Random delay", "on or off", "The delay is a geometric"
              " number of days with that mean, not fixed.", sd, "bool"),
        _prob("appeals.success_wrongful", "Appeal succeeds (wrongful)", "Chance an appeal of a"
              " wrongful record or a listing at discretion succeeds.", sd),
        _prob("appeals.success_rightful", "Appeal succeeds (rightful)", "Chance an appeal of a"
              " rightful record succeeds.", sd),
        Lever("discretionary_listing.per_year", "Listing at discretion", "per person a year",
              "Court-list orders without a debt or a score, per person a year, for people of no"
              " group that sets its own.", sd, lo=0.0, hi=0.01, step=0.0001),
        Lever("discretionary_listing.duration_days", "Listing at discretion lasts", "days",
              "A listing at discretion ends after this many days.", sd, "int", 1, 3650, 30),
        Lever("time.end", "Last day", "date", "Last simulated day, included.", "Period", "date"),
    ]  # fmt: skip
    return out


def value_of(sc: Scenario, lever: Lever) -> Any:
    """The value a lever's widget shows for a scenario."""
    if lever.kind in ("scale", "pace"):
        return 1.0
    if lever.kind == "on":
        return True
    value = field(sc, lever.path)
    if lever.kind == "points":
        return points_text(value)
    if lever.kind == "choices":
        return list(value)
    if value is None and lever.key.endswith(".discretionary_listing_per_year"):
        return sc.discretionary_listing.per_year  # unset: the general rate applies
    if value is None and MULTIPLIER.fullmatch(lever.key):
        return 1.0  # a multiplier the group does not name
    return value


def _list_edit(base: Scenario, path: str, values: dict[str, Any]) -> list[Any]:
    """A schedule's points (as edited) times its factor, or the rollout's steps (as edited)
    at its pace: each step comes this many times sooner after the first."""
    text = values.get(path + POINTS)
    factor = values.get(path, 1.0)
    if path == "rollout":
        steps = (_parse_points(path, text) if text is not None
                 else [step.model_dump(exclude_none=True) for step in base.rollout])  # fmt: skip
        first = steps[0]["date"]
        return [
            {**step, "date": first + dt.timedelta(days=round((step["date"] - first).days / factor))}
            for step in steps
        ]
    points = _parse_points(path, text) if text is not None else field(base, path)
    return [[d, v * factor] for d, v in points]


def _field_value(base: Scenario, lever: Lever, values: dict[str, Any]) -> tuple[str, Any]:
    """The field a changed lever sets and its value (a multiplier its group does not name:
    the group's whole table of them, which ``--set`` can extend)."""
    if lever.kind in ("scale", "pace", "points"):
        return lever.path, _list_edit(base, lever.path, values)
    table = MULTIPLIER.fullmatch(lever.key)
    if table and field(base, lever.key) is None:
        prefix = table[1] + "."
        named = {k.removeprefix(prefix): v for k, v in values.items() if k.startswith(prefix)}
        return table[1], {**field(base, table[1]), **named}
    return lever.key, values[lever.key]


def overrides(
    base: Scenario, levers: list[Lever], values: dict[str, Any], loaded: dict[str, Any]
) -> dict[str, Any]:
    """The ``--set`` overrides of the levers whose value differs from the one loaded: a
    sanction switched off replaces the list of sanctions (first, so that the others' trigger
    edits apply to it), drops its own edits and its count of blocked attempts from before the
    start; the rewards switched off empty the list of rewards."""
    changed = [lv for lv in levers if values[lv.key] != loaded[lv.key]]
    off = {lv.key for lv in changed if lv.kind == "on" and not values[lv.key]}
    out: dict[str, Any] = {}
    if "rewards" in off:
        out["rewards"] = []
        off.remove("rewards")
    if off:  # the list without them, and the counts from before the start without theirs
        kept = [m for m in base.sanctions if f"sanctions.{m.name}" not in off]
        out["sanctions"] = [m.model_dump() for m in kept]
        names = {f"blocked_attempts:{m.name}" for m in kept}
        cumulative = base.initial.cumulative
        if set(cumulative) - names:
            out["initial.cumulative"] = {k: v for k, v in cumulative.items() if k in names}
    for lv in changed:
        if lv.kind != "on" and not any(lv.key.startswith(k + ".") for k in off):
            path, value = _field_value(base, lv, values)
            out[path] = value
    # a table of multipliers set whole holds the edits of its named ones too
    return {k: v for k, v in out.items() if not ((m := MULTIPLIER.fullmatch(k)) and m[1] in out)}


def toml_value(value: Any) -> str:
    """A value as TOML writes it inline (None: the field's default, left out of tables)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float, dt.date)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (
            f"{k if BARE_KEY.fullmatch(k) else json.dumps(k)} = {toml_value(v)}"
            for k, v in value.items()
            if v is not None
        )
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"no TOML for {value!r}")


def assignments(over: dict[str, Any]) -> list[str]:
    """The overrides as ``KEY=VALUE`` texts, as ``--set`` and ``--variant`` take them; a value
    TOML cannot write (a date unset) raises ValueError."""
    unset = [k for k, v in over.items() if v is None]
    if unset:
        raise ValueError(f"{', '.join(unset)}: unset cannot be written as KEY=VALUE")
    return [f"{k}={toml_value(v)}" for k, v in over.items()]


def error_key(message: str, keys: list[str], edited: list[str]) -> str | None:
    """The lever a scenario error is about: an edited lever the message names in full (a
    points lever: by the field it edits), else a lever at or under the path the message starts
    with (``path: ...``) whose field it names, edited ones first, else an edited one under that
    path, else any under it, else the lever edited last."""
    path = message.split(":", 1)[0].strip()
    ordered = [*edited, *keys]
    below = [k for k in ordered if f"{k}.".startswith(f"{path}.") or path.startswith(f"{k}.")]
    named = [k for k in below if k.rsplit(".", 1)[-1] in message]
    for found in (
        [k for k in edited if k.removesuffix(POINTS) in message], named,
        [k for k in edited if k in below], below,
    ):  # fmt: skip
        if found:
            return found[0]
    return edited[0] if edited else None
