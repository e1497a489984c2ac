"""Scenario files: every rule of a run, declared in TOML and validated by typed models.

A scenario is a TOML file (or a built-in name, or a dict) validated by :class:`Scenario`. Errors
name the file, the field and what is allowed (:class:`ScenarioError`). ``--set key=value``
overrides address fields by dotted path; list items are addressed by their ``name``
(``behaviours.jaywalking.rate=3``).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "Scenario",
    "ScenarioError",
    "Schedule",
    "builtin_scenarios",
    "field_value",
    "load_scenario",
]

CENSUS_2020_POPULATION = 1_411_778_724


class ScenarioError(ValueError):
    """A scenario that cannot be run: the message names the file, the field and what is allowed."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


NonNeg = Annotated[float, Field(ge=0)]
Prob = Annotated[float, Field(ge=0, le=1)]

# A value that may change over time: a number, or [[date, value], ...] points interpolated
# linearly between dates and held constant before the first and after the last.
Schedule = float | list[tuple[dt.date, float]]


def _check_schedule(value: Schedule, lo: float, hi: float | None) -> Schedule:
    points = [value] if isinstance(value, (int, float)) else [v for _, v in value]
    if not isinstance(value, (int, float)):
        if not value:
            raise ValueError("a schedule needs at least one [date, value] point")
        dates = [d for d, _ in value]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("schedule dates must be strictly increasing")
    for v in points:
        if v < lo or (hi is not None and v > hi):
            allowed = f">= {lo}" if hi is None else f"between {lo} and {hi}"
            raise ValueError(f"value {v} is out of range: must be {allowed}")
    return value


def schedule_values(value: Schedule, days: list[dt.date]) -> list[float]:
    """Evaluate a schedule on each of ``days`` (linear between points, flat outside)."""
    if isinstance(value, (int, float)):
        return [float(value)] * len(days)
    xs = [d.toordinal() for d, _ in value]
    ys = [float(v) for _, v in value]
    out = []
    for day in days:
        x = day.toordinal()
        if x <= xs[0]:
            out.append(ys[0])
        elif x >= xs[-1]:
            out.append(ys[-1])
        else:
            i = next(i for i in range(1, len(xs)) if xs[i] >= x)
            w = (x - xs[i - 1]) / (xs[i] - xs[i - 1])
            out.append(ys[i - 1] + w * (ys[i] - ys[i - 1]))
    return out


class Meta(_Model):
    name: str = "unnamed"
    description: str = ""
    sources: list[str] = []
    assumptions: list[str] = []


class Time(_Model):
    start: dt.date = dt.date(2018, 1, 1)
    end: dt.date = dt.date(2020, 12, 31)

    @model_validator(mode="after")
    def _order(self) -> Time:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) must not be before start ({self.start})")
        if (self.end - self.start).days >= 30000:
            raise ValueError("a run may last at most 30,000 days (day counters are 16-bit)")
        return self


class Region(_Model):
    name: str
    share: Annotated[float, Field(gt=0)]
    urban_share: Prob


class Population(_Model):
    size: Annotated[int, Field(gt=0)] = CENSUS_2020_POPULATION
    regions: Literal["census2020"] | list[Region] = "census2020"
    locality_size: Annotated[int, Field(ge=64, le=2**20)] = 16384
    child_share: Prob = 0.21
    senior_share: Prob = 0.187
    children_per_parent: Annotated[float, Field(ge=1)] = 1.4
    propensity_shape: Annotated[float, Field(gt=0)] = 1.0
    propensity_classes: Annotated[int, Field(ge=1, le=32)] = 8
    prosocial_shape: Annotated[float, Field(gt=0)] = 2.0
    prosocial_classes: Annotated[int, Field(ge=1, le=16)] = 4

    @model_validator(mode="after")
    def _ages(self) -> Population:
        if self.child_share + self.senior_share >= 1:
            raise ValueError("child_share + senior_share must be below 1 (adults are left over)")
        return self


class Group(_Model):
    """A named share of adults treated differently: targeted enforcement."""

    name: str
    share: Annotated[float, Field(gt=0, lt=1)]
    rate_multipliers: dict[str, NonNeg] = {}
    record_multiplier: NonNeg = 1.0
    court_listing_multiplier: NonNeg = 1.0


class Behaviour(_Model):
    name: str
    channel: Literal["records", "court", "online", "camera"]
    rate: Schedule = Field(description="events per person per year")
    score_change: int
    ages: list[Literal["adult", "senior"]] = ["adult", "senior"]
    urban_multiplier: NonNeg = 1.0
    rural_multiplier: NonNeg = 1.0
    propensity: Literal["rule_breaking", "pro_social", "none"] = "rule_breaking"
    record_probability: Schedule = 1.0
    deterrence_elasticity: NonNeg = 0.0
    perception_lag_days: Annotated[float, Field(ge=1)] = 90.0
    shaming_probability: Prob = 0.0
    listing_probability: Prob = 1.0
    fnir: Prob | None = None  # camera only: overrides surveillance.fnir for this behaviour
    fpir: Prob | None = None  # camera only: overrides surveillance.fpir for this behaviour
    follows_rollout: bool = True

    @field_validator("rate")
    @classmethod
    def _rate(cls, v: Schedule) -> Schedule:
        return _check_schedule(v, 0.0, 365.0)

    @field_validator("record_probability")
    @classmethod
    def _prob(cls, v: Schedule) -> Schedule:
        return _check_schedule(v, 0.0, 1.0)

    @field_validator("ages")
    @classmethod
    def _ages(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("a behaviour needs at least one age band: 'adult' or 'senior'")
        return v

    @model_validator(mode="after")
    def _channel_fields(self) -> Behaviour:
        if self.shaming_probability > 0 and self.channel != "camera":
            raise ValueError("shaming_probability applies to camera behaviours only")
        if self.listing_probability != 1.0 and self.channel != "court":
            raise ValueError("listing_probability applies to court behaviours only")
        if (self.fnir is not None or self.fpir is not None) and self.channel != "camera":
            raise ValueError("fnir and fpir apply to camera behaviours only")
        return self


class Surveillance(_Model):
    cameras: Schedule = 0.0
    urban_camera_share: Prob = 0.8
    coverage_per_camera_per_person: NonNeg = 0.5
    coverage_urban: Schedule | None = None
    coverage_rural: Schedule | None = None
    fnir: Prob = 0.05
    fpir: Prob = 0.001

    @field_validator("cameras")
    @classmethod
    def _cams(cls, v: Schedule) -> Schedule:
        return _check_schedule(v, 0.0, None)

    @field_validator("coverage_urban", "coverage_rural")
    @classmethod
    def _cov(cls, v: Schedule | None) -> Schedule | None:
        return None if v is None else _check_schedule(v, 0.0, 1.0)


class Grade(_Model):
    name: str
    min: int


class Score(_Model):
    start: int = 1000
    min: int = 0
    max: int = 2000
    recovery_per_day: Annotated[float, Field(ge=0, le=1000)] = 0.0
    grades: list[Grade] = []

    @field_validator("grades")
    @classmethod
    def _grades(cls, v: list[Grade]) -> list[Grade]:
        mins = [g.min for g in v]
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            got = ", ".join(f"{g.name} >= {g.min}" for g in v)
            raise ValueError(
                "grades must be listed from the highest minimum to the lowest, each minimum"
                f" different; got {got}"
            )
        if len(v) > 8:
            raise ValueError(f"at most 8 grades, got {len(v)}")
        names = [g.name for g in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"grade names must be unique; repeated: {dup}")
        return v

    @model_validator(mode="after")
    def _bounds(self) -> Score:
        if not -32768 <= self.min < self.max <= 32767:
            raise ValueError(
                f"need -32768 <= min < max <= 32767 (scores are 16-bit); got min {self.min},"
                f" max {self.max}"
            )
        if not self.min <= self.start <= self.max:
            raise ValueError(
                f"start ({self.start}) must lie between min ({self.min}) and max ({self.max})"
            )
        if self.grades and self.grades[-1].min > self.min:
            raise ValueError(
                f"grades: the lowest grade ({self.grades[-1].name} >= {self.grades[-1].min}) must"
                f" start at or below score.min ({self.min}) so that every score has a grade"
            )
        return self


class Blacklist(_Model):
    enabled: bool = False
    entry_below: int = 600
    exit_at: int = 600
    min_stay_days: Annotated[int, Field(ge=0, le=30000)] = 0

    @model_validator(mode="after")
    def _order(self) -> Blacklist:
        if self.exit_at < self.entry_below:
            raise ValueError(
                f"exit_at ({self.exit_at}) must be >= entry_below ({self.entry_below})"
            )
        return self


class CourtList(_Model):
    duration_days: Annotated[int, Field(ge=0, le=30000)] = 730
    extend_on_new_record: bool = True
    compliance_per_year: NonNeg = 0.0
    pay_per_blocked_attempt: Prob = 0.0


class RedList(_Model):
    min_grade: str | None = None


class Measure(_Model):
    """A sanction or a reward: who it hits, what triggers it, how often it is tried or used."""

    name: str
    trigger_lists: list[Literal["court", "blacklist", "red"]] = []
    trigger_grades: list[str] = []
    target: Literal["person", "children", "both"] = "person"
    per_year_urban: NonNeg = 0.0
    per_year_rural: NonNeg = 0.0

    @model_validator(mode="after")
    def _trigger(self) -> Measure:
        if not self.trigger_lists and not self.trigger_grades:
            raise ValueError("needs a trigger: trigger_lists and/or trigger_grades")
        return self


class RolloutStep(_Model):
    date: dt.date
    regions: list[str] = []
    share: Prob | None = None

    @model_validator(mode="after")
    def _what(self) -> RolloutStep:
        if (self.share is None) == (not self.regions):
            raise ValueError("give either regions = [...] or share = fraction of localities")
        return self


class Initial(_Model):
    court_listed_share: Prob = 0.0
    blacklisted_share: Prob = 0.0
    score_sd: NonNeg = 0.0
    cumulative: dict[str, NonNeg] = {}


class Output(_Model):
    snapshot_every_days: Annotated[int, Field(ge=0)] = 0
    audit_sample: Annotated[int, Field(ge=0)] = 10_000
    raw_counts: bool = False
    score_bin_width: Annotated[int, Field(ge=1)] = 10


class Published(_Model):
    """A published figure the scenario should reproduce, shown beside the simulated value in
    reports (where the run covers its date). ``series`` is named as in a calibration targets
    file (``series.py``)."""

    date: dt.date
    series: str
    value: Annotated[float, Field(gt=0)]
    unit: str = ""
    source: str = ""


class Scenario(_Model):
    """A whole scenario. Field docs live in docs/scenarios.md."""

    meta: Meta = Meta()
    time: Time = Time()
    population: Population = Population()
    groups: list[Group] = []
    behaviours: list[Behaviour] = []
    surveillance: Surveillance = Surveillance()
    score: Score = Score()
    blacklist: Blacklist = Blacklist()
    court_list: CourtList = CourtList()
    red_list: RedList = RedList()
    sanctions: list[Measure] = []
    rewards: list[Measure] = []
    rollout: list[RolloutStep] = []
    initial: Initial = Initial()
    output: Output = Output()
    published: list[Published] = []

    @model_validator(mode="after")
    def _cross(self) -> Scenario:
        grade_names = {g.name for g in self.score.grades}
        for field in ("behaviours", "groups", "sanctions", "rewards"):
            names = [x.name for x in getattr(self, field)]
            dup = {n for n in names if names.count(n) > 1}
            if dup:
                raise ValueError(f"{field}: duplicate names {sorted(dup)}")
        if len(self.behaviours) > 64:
            raise ValueError("behaviours: at most 64")
        if sum(g.share for g in self.groups) >= 1:
            raise ValueError("groups: shares must add up to less than 1")
        if len(self.groups) > 7:
            raise ValueError("groups: at most 7")
        known = {b.name for b in self.behaviours}
        for g in self.groups:
            bad = set(g.rate_multipliers) - known
            if bad:
                raise ValueError(
                    f"groups.{g.name}.rate_multipliers: unknown behaviours {sorted(bad)};"
                    f" known: {sorted(known)}"
                )
        rl = self.red_list.min_grade
        if rl is not None and rl not in grade_names:
            raise ValueError(
                f"red_list.min_grade: '{rl}' is not a grade; grades are {sorted(grade_names)}"
            )
        for kind in ("sanctions", "rewards"):
            for m in getattr(self, kind):
                bad = set(m.trigger_grades) - grade_names
                if bad:
                    raise ValueError(
                        f"{kind}.{m.name}.trigger_grades: unknown grades {sorted(bad)};"
                        f" grades are {sorted(grade_names)}"
                    )
                if "red" in m.trigger_lists and rl is None:
                    raise ValueError(
                        f"{kind}.{m.name}: triggered by 'red' but red_list.min_grade is not set"
                    )
                if "blacklist" in m.trigger_lists and not self.blacklist.enabled:
                    raise ValueError(
                        f"{kind}.{m.name}: triggered by 'blacklist' but blacklist.enabled is false"
                    )
        region_list = self.region_table()[0]
        for step in self.rollout:
            bad = set(step.regions) - set(region_list)
            if bad:
                raise ValueError(
                    f"rollout (step of {step.date}): unknown regions {sorted(bad)};"
                    f" regions are {region_list}"
                )
        if self.initial.blacklisted_share and not self.blacklist.enabled:
            raise ValueError("initial.blacklisted_share needs blacklist.enabled = true")
        sanction_names = {m.name for m in self.sanctions}
        clash = sanction_names & {m.name for m in self.rewards}
        if clash:
            raise ValueError(
                f"sanctions and rewards share the names {sorted(clash)}; "
                "give each measure its own name"
            )
        for key in self.initial.cumulative:
            metric, _, item = key.partition(":")
            if metric != "blocked_attempts" or item not in sanction_names:
                raise ValueError(
                    f"initial.cumulative: unknown key '{key}'; keys are "
                    f"'blocked_attempts:<sanction>' with sanctions {sorted(sanction_names)}"
                )
        for i, fig in enumerate(self.published):
            from .series import NAMED_SERIES, series_spec  # they read the model built here

            if fig.series in NAMED_SERIES:  # a report says when its sanction is not modelled
                continue
            try:
                series_spec(fig.series, self)
            except ValueError as exc:
                raise ValueError(f"published[{i}].series: {exc}") from None
        if self.blacklist.enabled and self.score.start < self.blacklist.entry_below:
            raise ValueError(
                f"blacklist.entry_below ({self.blacklist.entry_below}) is above score.start "
                f"({self.score.start}): everybody would be blacklisted from the start"
            )
        return self

    def region_table(self) -> tuple[list[str], list[float], list[float]]:
        """Names, population shares and urban shares of the regions."""
        if self.population.regions == "census2020":
            import csv

            text = resources.files("socialcreditsim.data").joinpath("regions.csv").read_text()
            rows = list(csv.DictReader(text.splitlines()))
            total = sum(int(r["population_2020"]) for r in rows)
            return (
                [r["region"] for r in rows],
                [int(r["population_2020"]) / total for r in rows],
                [float(r["urban_share_2020"]) for r in rows],
            )
        regs = self.population.regions
        total = sum(r.share for r in regs)
        return (
            [r.name for r in regs],
            [r.share / total for r in regs],
            [r.urban_share for r in regs],
        )

    def to_toml(self) -> str:
        """The resolved scenario as TOML: every field, defaults included."""
        return tomli_w.dumps(_tomlable(self.model_dump(mode="python")))

    def with_overrides(
        self, overrides: list[str] | dict[str, Any], source: str = "--set"
    ) -> Scenario:
        """A copy with ``key=value`` overrides applied and validated again; errors name the
        option (``source``'s first word) and the field."""
        data = self.model_dump(mode="python")
        flag = source.split()[0] if source.startswith("--") else "--set"
        items = (
            overrides.items()
            if isinstance(overrides, dict)
            else (_split_override(text, flag) for text in overrides)
        )
        for key, value in items:
            table, name = _walk(data, key, flag)
            table[name] = value
        return _validate(data, source)


def _tomlable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _tomlable(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, (list, tuple)):
        return [_tomlable(v) for v in obj]
    return obj


def _split_override(text: str, flag: str) -> tuple[str, Any]:
    if "=" not in text:
        raise ScenarioError(f"{flag} {text!r}: expected key=value, for example score.start=1000")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def _walk(data: dict[str, Any], key: str, flag: str) -> tuple[dict[str, Any], str]:
    """The table holding the field at a dotted path (list items by name) and its name there."""
    node: Any = data
    parts = key.split(".")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            match = [x for x in node if isinstance(x, dict) and x.get("name") == part]
            if not match:
                names = [x.get("name") for x in node if isinstance(x, dict)]
                raise ScenarioError(
                    f"{flag} {key}: no item named '{part}' in {where}; names are {names}"
                )
            if last:
                raise ScenarioError(f"{flag} {key}: a whole item cannot be set; name a field")
            node = match[0]
        elif isinstance(node, dict):
            if part not in node:
                raise ScenarioError(
                    f"{flag} {key}: unknown field '{where}'; fields here are {sorted(node)}"
                )
            if last:
                return node, part
            node = node[part]
        else:
            raise ScenarioError(f"{flag} {key}: '{'.'.join(parts[:i])}' has no fields")
    raise ScenarioError(f"{flag} {key}: empty key")


def field_value(scenario: Scenario, key: str, flag: str = "--set") -> Any:
    """The value of the field at a dotted path, addressed as ``--set`` does."""
    table, name = _walk(scenario.model_dump(mode="python"), key, flag)
    return table[name]


def _validate(data: dict[str, Any], source: str) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: {line}" for line in _error_lines(data, exc.errors())]
        raise ScenarioError("\n".join(dict.fromkeys(lines))) from None


# Pydantic labels each branch of a union in the error location; these are the words for them.
_BRANCH_WORDS = {
    "float": "a number",
    "int": "a whole number",
    "str": "a string",
    "bool": "true or false",
    "list[tuple[date, float]]": "a list of [date, value] points",
    "literal['census2020']": '"census2020"',
    "list[Region]": "a list of [[population.regions]] tables (name, share, urban_share)",
}
_SCHEDULE_BRANCH = "list[tuple[date, float]]"
# Constraint errors whose pydantic message does not show the offending value.
_NO_VALUE_TYPES = {"missing", "extra_forbidden", "value_error", "assertion_error"}


def _is_branch(part: Any) -> bool:
    """Whether a location part is a pydantic union-branch label rather than a field name."""
    return isinstance(part, str) and (
        part in _BRANCH_WORDS or "[" in part or part[:1].isupper() or part.startswith("function-")
    )


def _error_lines(data: Any, errors: list[Any]) -> list[str]:
    """One line per problem: union branches of one field are folded into a single line."""
    lines: list[str] = []
    unions: dict[tuple[Any, ...], list[tuple[str, tuple[Any, ...], Any]]] = {}
    order: list[Any] = []
    for err in errors:
        loc = tuple(err["loc"])
        cut = _branch_index(data, loc)
        if cut is None:
            order.append(err)
            continue
        field = loc[:cut]
        if field not in unions:
            unions[field] = []
            order.append(field)
        rest = tuple(p for p in loc[cut + 1 :] if not _is_branch(p))
        unions[field].append((str(loc[cut]), rest, err))
    for item in order:
        if isinstance(item, dict):
            lines.append(_one_line(data, tuple(item["loc"]), item))
            continue
        members = unions[item]
        where = _loc_name(data, item)
        branches = list(dict.fromkeys(b for b, _, _ in members))
        deep = [(rest, err) for b, rest, err in members if rest]
        value = _lookup(data, item)
        if _SCHEDULE_BRANCH in branches:
            lines.append(
                f"{where}: expected a number or a list of [date, value] points such as"
                f" [[2018-01-01, 0.5], [2020-01-01, 1.0]]; got {value!r}"
            )
        elif deep:  # the value has the shape of one branch: report what is wrong inside it
            lines += [_one_line(data, item + rest, err) for rest, err in deep]
        else:
            words = " or ".join(_BRANCH_WORDS.get(b, b) for b in branches)
            lines.append(f"{where}: expected {words}; got {value!r}")
    return lines


def _branch_index(data: Any, loc: tuple[Any, ...]) -> int | None:
    """Position of the first union-branch label in ``loc`` (a key present in the data never is)."""
    node = data
    for i, part in enumerate(loc):
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        elif i > 0 and _is_branch(part):
            return i
        else:
            node = None
    return None


def _one_line(data: Any, loc: tuple[Any, ...], err: Any) -> str:
    where = _loc_name(data, loc)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = _unknown_field_message(loc)
    elif err["type"] not in _NO_VALUE_TYPES and not isinstance(err.get("input"), (dict, list)):
        msg = f"{msg} (got {err.get('input')!r})"
    return f"{where}: {msg}" if where else msg


def _unknown_field_message(loc: tuple[Any, ...]) -> str:
    """'unknown field', with the fields allowed at that place and the closest spelling."""
    import difflib

    name = str(loc[-1])
    model = _model_at(loc[:-1])
    if model is None:
        return "unknown field (check the spelling; `socialcreditsim show` lists every field)"
    fields = list(model.model_fields)
    close = difflib.get_close_matches(name, fields, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown field '{name}'{hint}; fields allowed here: {', '.join(fields)}"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that holds the fields at ``loc`` (list indices and branches skipped)."""
    import types
    import typing

    model: type[BaseModel] = Scenario
    for part in loc:
        if not isinstance(part, str) or _is_branch(part):
            continue
        info = model.model_fields.get(part)
        if info is None:
            return None
        ann: Any = info.annotation
        found = None
        stack = [ann]
        while stack:
            t = stack.pop()
            if isinstance(t, type) and issubclass(t, BaseModel):
                found = t
                break
            origin = typing.get_origin(t)
            if origin in (list, typing.Union, types.UnionType):
                stack.extend(typing.get_args(t))
        if found is None:
            return None
        model = found
    return model


def _lookup(data: Any, loc: tuple[Any, ...]) -> Any:
    node = data
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        elif _is_branch(part):
            continue
        else:
            return None
    return node


def _loc_name(data: Any, loc: tuple[Any, ...]) -> str:
    """Dotted field path, with list items named by their ``name`` where they have one."""
    parts: list[str] = []
    node = data
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            item = node[part]
            name = item.get("name") if isinstance(item, dict) else None
            if name:
                parts.append(str(name))
            elif parts:
                parts[-1] += f"[{part}]"
            else:
                parts.append(f"[{part}]")
            node = item
        elif isinstance(node, dict) and part in node:
            parts.append(str(part))
            node = node[part]
        elif _is_branch(part):
            continue  # pydantic union branch labels
        else:
            parts.append(str(part))
            node = None
    return ".".join(parts)


def builtin_scenarios() -> dict[str, str]:
    """Built-in scenario names and their one-line descriptions."""
    out = {}
    for entry in sorted(
        resources.files("socialcreditsim.scenarios").iterdir(), key=lambda p: p.name
    ):
        if entry.name.endswith(".toml"):
            meta = tomllib.loads(entry.read_text()).get("meta", {})
            out[entry.name.removesuffix(".toml")] = meta.get("description", "").split("\n")[0]
    return out


def load_scenario(
    source: str | Path | dict[str, Any] | Scenario = "national",
    overrides: list[str] | dict[str, Any] | None = None,
) -> Scenario:
    """Load a scenario from a built-in name, a TOML file path or a dict, then apply overrides."""
    if isinstance(source, Scenario):
        scenario = source
    elif isinstance(source, dict):
        scenario = _validate(source, "scenario")
    else:
        text, label = _read(source)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{label}: not valid TOML: {exc}") from None
        scenario = _validate(data, label)
    if overrides:
        scenario = scenario.with_overrides(overrides)
    return scenario


def _read(source: str | Path) -> tuple[str, str]:
    path = Path(source)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ScenarioError(f"{path}: no such scenario file")
        return path.read_text(), str(path)
    names = builtin_scenarios()
    if str(source) not in names:
        raise ScenarioError(
            f"'{source}' is neither a scenario file nor a built-in scenario; "
            f"built-in scenarios are: {', '.join(names)}"
        )
    text = resources.files("socialcreditsim.scenarios").joinpath(f"{source}.toml").read_text()
    return text, f"{source} (built-in)"
