"""Scenario files: every rule of a run, declared in TOML and validated by typed models.

A scenario is a TOML file (or a built-in name, or a dict) validated by :class:`Scenario`. Errors
name the file, the field and what is allowed (:class:`ScenarioError`). ``--set key=value``
overrides address fields by dotted path; list items are addressed by their ``name``
(``behaviours.jaywalking.rate=3``).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "DEFAULT_BAND",
    "Scenario",
    "ScenarioError",
    "check_band",
    "Schedule",
    "builtin_scenarios",
    "check_strings",
    "check_whole",
    "field_value",
    "load_scenario",
]

CENSUS_2020_POPULATION = 1_411_778_724


class ScenarioError(ValueError):
    """A scenario that cannot be run: the message names the file, the field and what is allowed."""


# the percentiles of an output over replicates that summaries show (replicates, compare, sweep)
DEFAULT_BAND = (10.0, 90.0)


def check_band(band: Sequence[float]) -> tuple[float, float]:
    """A band as (lower, upper) percentiles, 0 <= lower < 50 < upper <= 100."""
    import numbers

    if isinstance(band, (str, bytes)) or not isinstance(band, Sequence) or len(band) != 2:
        raise ScenarioError(f"band: expected two percentiles (LO, HI), e.g. (10, 90); got {band!r}")
    if any(isinstance(x, bool) or not isinstance(x, numbers.Real) for x in band):
        raise ScenarioError(f"band: percentiles must be numbers; got {band!r}")
    lo, hi = (float(x) for x in band)
    if not 0 <= lo < 50 < hi <= 100:
        raise ScenarioError(
            f"need percentiles LO:HI with 0 <= LO < 50 < HI <= 100, e.g. 10:90; got {lo:g}:{hi:g}"
        )
    return lo, hi


class _Model(BaseModel):
    # strict: no string for a number or a boolean, no boolean for a number; no NaN or infinity
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# Numbers are strict (a TOML 12 is a number, "12" is not) and finite; a whole number is accepted
# where a real one is expected. Dates stay lax: "2018-01-01" is as clear as 2018-01-01.
Num = Annotated[float, Strict()]
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]

# Bounds, each with its reason (docs/scenarios.md, "Limits").
SCORE_LO, SCORE_HI = -32768, 32767  # scores are int16 in the engine
MAX_SCORE_CHANGE = SCORE_HI - SCORE_LO  # a bigger change only clamps (and overflows int32)
MAX_RATE = 365.0  # events per person a year: one a day
MAX_MULTIPLIER = 1000.0  # with rates <= 365 a year, expected daily counts stay far below 2**62
MAX_PER_YEAR = 3650.0  # attempts or compliance chances: at most ten a day
MAX_POPULATION = 10**10  # more people than live on Earth
MAX_SHARE = 1e9  # region shares are relative weights
MAX_CAMERAS = 1e11  # ten cameras for every person on Earth
MAX_DAYS = 30_000  # day counters are int16
MAX_AUDIT = 10_000_000  # the audit table holds a record a day per sampled person
MAX_COUNT = 1e15  # published figures and initial counts: far beyond any real count
MAX_NAME = 64
MAX_TEXT = 10_000
MAX_POINTS = 1000  # points of a schedule
MAX_REGIONS = 256  # each region has its own urban and rural localities
MAX_ITEMS = 1000  # rollout steps, published figures, sources, assumptions
MAX_MEASURES = 64  # sanctions, rewards
MAX_BEHAVIOURS = 64
MAX_GROUPS = 7
MAX_GRADES = 8
MAX_FILE_BYTES = 1_000_000  # the built-in scenarios are under 10 kB
MAX_DEPTH = 10  # the deepest field is a schedule point: behaviours[i].rate[j][k]
MAX_LIST = 10_000  # any list, before the per-field limits are checked


def _fmt(x: float) -> str:
    """1,000 or 0.01: whole bounds with thousands separators."""
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def _in(
    lo: float, hi: float, why: str, lo_open: bool = False, hi_open: bool = False
) -> AfterValidator:
    """A range check whose message says what is allowed and why."""

    def check(v: float) -> float:
        if v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi):
            low = f"above {_fmt(lo)}" if lo_open else f"at least {_fmt(lo)}"
            high = f"below {_fmt(hi)}" if hi_open else f"at most {_fmt(hi)}"
            raise ValueError(f"must be {low} and {high} ({why}); got {v!r}")
        return v

    return AfterValidator(check)


def _name(v: str) -> str:
    if not v or len(v) > MAX_NAME or not v.isprintable() or v != v.strip():
        raise ValueError(
            f"a name must be 1 to {MAX_NAME} printable characters, without leading or trailing"
            f" spaces; got {v!r}"
        )
    if "." in v or "=" in v:
        raise ValueError(
            f"a name may not contain '.' or '=' (--set addresses items by name); got {v!r}"
        )
    return v


def _text(v: str) -> str:
    if len(v) > MAX_TEXT:
        raise ValueError(f"at most {MAX_TEXT:,} characters; got {len(v):,}")
    return v


Name = Annotated[str, Strict(), AfterValidator(_name)]
Text = Annotated[str, Strict(), AfterValidator(_text)]
Prob = Annotated[float, Strict(), _in(0, 1, "a probability")]
Share = Annotated[float, Strict(), _in(0, 1, "a share")]
Multiplier = Annotated[
    float, Strict(), _in(0, MAX_MULTIPLIER, "keeps daily counts far below 2**62")
]
PerYear = Annotated[float, Strict(), _in(0, MAX_PER_YEAR, "at most ten a day")]
ScoreInt = Annotated[int, Strict(), _in(SCORE_LO, SCORE_HI, "scores are 16-bit")]
Days = Annotated[int, Strict(), _in(0, MAX_DAYS, "day counters are 16-bit")]


def _at_most(n: int, what: str) -> AfterValidator:
    def check(v: Any) -> Any:
        if len(v) > n:
            raise ValueError(f"at most {n:,} {what}; got {len(v):,}")
        return v

    return AfterValidator(check)


def _unique(items: list[Any], field: str | None) -> None:
    """Refuse repeated names (linear: a Counter, not list.count)."""
    from collections import Counter

    dup = sorted(n for n, k in Counter(x.name for x in items).items() if k > 1)
    if dup:
        raise ValueError(f"{field + ': ' if field else ''}duplicate names {dup}")


def _plain_name(name: Any) -> bool:
    """Whether a name can stand in a dotted field path as it is."""
    try:
        return isinstance(name, str) and _name(name) == name
    except ValueError:
        return False


# A value that may change over time: a number, or [[date, value], ...] points interpolated
# linearly between dates and held constant before the first and after the last.
Schedule = Num | list[tuple[dt.date, Num]]


def _check_schedule(value: Schedule, lo: float, hi: float, why: str) -> Schedule:
    points = [value] if isinstance(value, (int, float)) else [v for _, v in value]
    if not isinstance(value, (int, float)):
        if not value:
            raise ValueError("a schedule needs at least one [date, value] point")
        if len(value) > MAX_POINTS:
            raise ValueError(f"a schedule has at most {MAX_POINTS} points; got {len(value):,}")
        dates = [d for d, _ in value]
        if any(a >= b for a, b in zip(dates, dates[1:], strict=False)):
            raise ValueError("schedule dates must be strictly increasing")
    for v in points:
        if v < lo or v > hi:
            raise ValueError(
                f"value {v} is out of range: must be between {_fmt(lo)} and {_fmt(hi)} ({why})"
            )
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
    name: Text = "unnamed"
    description: Text = ""
    sources: Annotated[list[Text], _at_most(MAX_ITEMS, "sources")] = []
    assumptions: Annotated[list[Text], _at_most(MAX_ITEMS, "assumptions")] = []


class Time(_Model):
    start: dt.date = dt.date(2018, 1, 1)
    end: dt.date = dt.date(2020, 12, 31)

    @model_validator(mode="after")
    def _order(self) -> Time:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) must not be before start ({self.start})")
        if (self.end - self.start).days >= MAX_DAYS:
            raise ValueError("a run may last at most 30,000 days (day counters are 16-bit)")
        return self


class Region(_Model):
    name: Name
    share: Annotated[float, Strict(), _in(0, MAX_SHARE, "a relative weight", lo_open=True)]
    urban_share: Share


class Population(_Model):
    size: Annotated[int, Strict(), _in(1, MAX_POPULATION, "more than live on Earth")] = (
        CENSUS_2020_POPULATION
    )
    regions: Literal["census2020"] | list[Region] = "census2020"
    locality_size: Annotated[Int, _in(64, 2**20, "people per locality")] = 16384
    child_share: Share = 0.21
    senior_share: Share = 0.187
    children_per_parent: Annotated[float, Strict(), _in(1, 20, "children per parent")] = 1.4
    propensity_shape: Annotated[float, Strict(), _in(0.01, 1000, "a gamma shape")] = 1.0
    propensity_classes: Annotated[Int, _in(1, 32, "classes of the layout")] = 8
    prosocial_shape: Annotated[float, Strict(), _in(0.01, 1000, "a gamma shape")] = 2.0
    prosocial_classes: Annotated[Int, _in(1, 16, "classes of the layout")] = 4

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: Any) -> Any:
        if isinstance(v, list):
            if not v:
                raise ValueError('needs at least one region (or "census2020")')
            if len(v) > MAX_REGIONS:
                raise ValueError(
                    f"at most {MAX_REGIONS} regions (each has its own localities); got {len(v):,}"
                )
            _unique(v, None)
        return v

    @model_validator(mode="after")
    def _ages(self) -> Population:
        if self.child_share + self.senior_share >= 1:
            raise ValueError("child_share + senior_share must be below 1 (adults are left over)")
        return self


class Group(_Model):
    """A named share of adults treated differently: targeted enforcement."""

    name: Name
    share: Annotated[float, Strict(), _in(0, 1, "a share of adults", lo_open=True, hi_open=True)]
    rate_multipliers: Annotated[
        dict[str, Multiplier], _at_most(MAX_BEHAVIOURS, "rate multipliers")
    ] = {}
    record_multiplier: Multiplier = 1.0
    court_listing_multiplier: Multiplier = 1.0
    # MODEL.md section 10: the group's awareness of each rule (times the behaviour's, at most 1)
    awareness_multipliers: Annotated[
        dict[str, Multiplier], _at_most(MAX_BEHAVIOURS, "awareness multipliers")
    ] = {}
    # listings at discretion per person-year (None: discretionary_listing.per_year)
    discretionary_listing_per_year: PerYear | None = None


class Behaviour(_Model):
    name: Name
    channel: Literal["records", "court", "online", "camera"]
    rate: Schedule = Field(description="events per person per year")
    score_change: Annotated[
        int,
        Strict(),
        _in(-MAX_SCORE_CHANGE, MAX_SCORE_CHANGE, "scores are 16-bit: a bigger change only clamps"),
    ]
    ages: list[Literal["adult", "senior"]] = ["adult", "senior"]
    urban_multiplier: Multiplier = 1.0
    rural_multiplier: Multiplier = 1.0
    propensity: Literal["rule_breaking", "pro_social", "none"] = "rule_breaking"
    record_probability: Schedule = 1.0
    deterrence_elasticity: Annotated[float, Strict(), _in(0, 100, "deterrence saturates")] = 0.0
    perception_lag_days: Annotated[float, Strict(), _in(1, MAX_DAYS, "days of a run")] = 90.0
    shaming_probability: Prob = 0.0
    listing_probability: Prob = 1.0
    fnir: Prob | None = None  # camera only: overrides surveillance.fnir for this behaviour
    fpir: Prob | None = None  # camera only: overrides surveillance.fpir for this behaviour
    follows_rollout: Bool = True
    # MODEL.md section 10: the share who know the rule is scored (urban, and rural unless
    # awareness_rural is given); deterrence acts only on them
    awareness: Schedule = 1.0
    awareness_rural: Schedule | None = None
    # a lawful behaviour (never recorded, no score change) chilled among those who know that
    # the scored behaviour ``chilled_by`` is scored
    chilled_by: Name | None = None
    chilling_elasticity: Annotated[float, Strict(), _in(0, 100, "chilling saturates")] = 0.0

    @field_validator("rate")
    @classmethod
    def _rate(cls, v: Schedule) -> Schedule:
        return _check_schedule(v, 0.0, MAX_RATE, "events per person a year: at most one a day")

    @field_validator("record_probability", "awareness", "awareness_rural")
    @classmethod
    def _prob(cls, v: Schedule | None) -> Schedule | None:
        return None if v is None else _check_schedule(v, 0.0, 1.0, "a probability")

    @field_validator("ages")
    @classmethod
    def _ages(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("a behaviour needs at least one age band: 'adult' or 'senior'")
        if len(v) != len(set(v)):
            raise ValueError(f"each age band at most once; got {v}")
        return v

    @model_validator(mode="after")
    def _channel_fields(self) -> Behaviour:
        if self.shaming_probability > 0 and self.channel != "camera":
            raise ValueError("shaming_probability applies to camera behaviours only")
        if self.listing_probability != 1.0 and self.channel != "court":
            raise ValueError("listing_probability applies to court behaviours only")
        if (self.fnir is not None or self.fpir is not None) and self.channel != "camera":
            raise ValueError("fnir and fpir apply to camera behaviours only")
        if self.chilling_elasticity > 0 and self.chilled_by is None:
            raise ValueError("chilling_elasticity needs chilled_by: the scored behaviour it fears")
        if self.chilled_by is not None:
            lawful = {
                "score_change": self.score_change != 0,
                "record_probability": self.record_probability != 0.0,
                "deterrence_elasticity": self.deterrence_elasticity != 0.0,
            }
            bad = [k for k, v in lawful.items() if v]
            # (not model_fields_set: overrides rebuild a scenario with every field set)
            borrowed = [
                k
                for k in ("awareness", "awareness_rural", "perception_lag_days")
                if getattr(self, k) != type(self).model_fields[k].default
            ]
            if borrowed:
                raise ValueError(
                    f"a chilled behaviour responds to who knows, and how they perceive, the"
                    f" behaviour it is chilled_by: set {', '.join(borrowed)} there"
                )
            if bad or self.channel in ("court", "camera"):
                raise ValueError(
                    "a chilled behaviour (chilled_by) is lawful: it is never recorded or scored,"
                    " so it needs score_change = 0, record_probability = 0,"
                    " deterrence_elasticity = 0 and channel 'online' or 'records'"
                    + (f"; got {', '.join(bad)} set" if bad else "")
                )
        return self


class Surveillance(_Model):
    cameras: Schedule = 0.0
    urban_camera_share: Share = 0.8
    coverage_per_camera_per_person: Multiplier = 0.5
    coverage_urban: Schedule | None = None
    coverage_rural: Schedule | None = None
    fnir: Prob = 0.05
    fpir: Prob = 0.001

    @field_validator("cameras")
    @classmethod
    def _cams(cls, v: Schedule) -> Schedule:
        return _check_schedule(v, 0.0, MAX_CAMERAS, "ten for every person on Earth")

    @field_validator("coverage_urban", "coverage_rural")
    @classmethod
    def _cov(cls, v: Schedule | None) -> Schedule | None:
        return None if v is None else _check_schedule(v, 0.0, 1.0, "a probability")


class Grade(_Model):
    name: Name
    min: ScoreInt


class Score(_Model):
    start: ScoreInt = 1000
    min: ScoreInt = 0
    max: ScoreInt = 2000
    recovery_per_day: Annotated[float, Strict(), _in(0, 1000, "points a day")] = 0.0
    grades: Annotated[list[Grade], _at_most(MAX_GRADES, "grades")] = []

    @field_validator("recovery_per_day")
    @classmethod
    def _recovery(cls, v: float) -> float:
        if 0 < v < 1e-4:
            raise ValueError(
                f"must be 0 (no recovery) or at least 0.0001 points a day (the engine keeps"
                f" scores exactly in steps of 1/10,000 of a point); got {v!r}"
            )
        return v

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
        names = [g.name for g in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"grade names must be unique; repeated: {dup}")
        return v

    @model_validator(mode="after")
    def _bounds(self) -> Score:
        if not SCORE_LO <= self.min < self.max <= SCORE_HI:
            raise ValueError(
                f"need -32768 <= min < max <= 32767 (scores are 16-bit); got min {self.min},"
                f" max {self.max}"
            )
        if not self.min <= self.start <= self.max:
            raise ValueError(
                f"start ({self.start}) must lie between min ({self.min}) and max ({self.max})"
            )
        if self.recovery_per_day > 0:  # as scoring.recovery_fraction writes it: p/q, q <= 10^4
            from fractions import Fraction

            f = Fraction(repr(float(self.recovery_per_day))).limit_denominator(10_000)
            p = f.numerator
            if self.min - p < SCORE_LO or self.max + p > SCORE_HI:
                raise ValueError(
                    f"recovery_per_day ({self.recovery_per_day}) is {f} points a day: scores are"
                    f" 16-bit and kept within {p} of their value, so need min - {p} >= -32768 and"
                    f" max + {p} <= 32767; got min {self.min}, max {self.max}"
                )
        if self.grades and self.grades[-1].min > self.min:
            raise ValueError(
                f"grades: the lowest grade ({self.grades[-1].name} >= {self.grades[-1].min}) must"
                f" start at or below score.min ({self.min}) so that every score has a grade"
            )
        return self


class Blacklist(_Model):
    enabled: Bool = False
    entry_below: ScoreInt = 600
    exit_at: ScoreInt = 600
    min_stay_days: Days = 0

    @model_validator(mode="after")
    def _order(self) -> Blacklist:
        if self.exit_at < self.entry_below:
            raise ValueError(
                f"exit_at ({self.exit_at}) must be >= entry_below ({self.entry_below})"
            )
        return self


class CourtList(_Model):
    duration_days: Days = 730
    extend_on_new_record: Bool = True
    compliance_per_year: PerYear = 0.0
    pay_per_blocked_attempt: Prob = 0.0
    # credit repair: a declared exit path open from repair_after_days after the listing began
    repair_per_year: PerYear = 0.0
    repair_after_days: Days = 0


class Rules(_Model):
    """Whether the rules are public (MODEL.md section 10): from ``published`` on, every
    behaviour's awareness is at least ``awareness_when_published``."""

    published: dt.date | None = None
    awareness_when_published: Share = 1.0


class DiscretionaryListing(_Model):
    """Court-list orders without a debt or a score (MODEL.md section 10): per person-year in
    the general population (groups may set their own), ending after ``duration_days``."""

    per_year: PerYear = 0.0
    duration_days: Annotated[int, Strict(), _in(1, MAX_DAYS, "day counters are 16-bit")] = 730


class Appeals(_Model):
    """Appeals and correction of records (MODEL.md section 10). A record that lowers a score or
    lists a person, and a listing at discretion, is appealed with ``probability`` by a person
    who knows the rule and was told of the record, times ``unaware_factor`` if they do not know
    the rule, times ``undisclosed_factor`` if the record was not disclosed (``disclosure``:
    the chance it is). The appeal is decided ``delay_days`` later (``random_delay``: a
    geometric number of days with that mean) and succeeds with ``success_wrongful`` (wrongful
    records and listings at discretion) or ``success_rightful``."""

    probability: Prob = 0.0
    unaware_factor: Prob = 0.0
    undisclosed_factor: Prob = 0.0
    disclosure: Prob = 1.0
    delay_days: Annotated[int, Strict(), _in(1, MAX_DAYS, "day counters are 16-bit")] = 60
    random_delay: Bool = False
    success_wrongful: Prob = 0.5
    success_rightful: Prob = 0.0


class RedList(_Model):
    min_grade: Name | None = None


class Measure(_Model):
    """A sanction or a reward: who it hits, what triggers it, how often it is tried or used."""

    name: Name
    trigger_lists: list[Literal["court", "blacklist", "red"]] = []
    trigger_grades: Annotated[list[Name], _at_most(MAX_GRADES, "trigger grades")] = []
    target: Literal["person", "children", "both"] = "person"
    per_year_urban: PerYear = 0.0
    per_year_rural: PerYear = 0.0

    @model_validator(mode="after")
    def _trigger(self) -> Measure:
        if not self.trigger_lists and not self.trigger_grades:
            raise ValueError("needs a trigger: trigger_lists and/or trigger_grades")
        return self


class RolloutStep(_Model):
    date: dt.date
    regions: Annotated[list[Name], _at_most(MAX_REGIONS, "regions")] = []
    share: Prob | None = None

    @model_validator(mode="after")
    def _what(self) -> RolloutStep:
        if (self.share is None) == (not self.regions):
            raise ValueError("give either regions = [...] or share = fraction of localities")
        return self


class Initial(_Model):
    court_listed_share: Share = 0.0
    blacklisted_share: Share = 0.0
    score_sd: Annotated[
        float, Strict(), _in(0, MAX_SCORE_CHANGE, "wider than the 16-bit score range")
    ] = 0.0
    cumulative: Annotated[
        dict[str, Annotated[float, Strict(), _in(0, MAX_COUNT, "a count")]],
        _at_most(MAX_MEASURES, "keys"),
    ] = {}


class Output(_Model):
    snapshot_every_days: Days = 0
    audit_sample: Annotated[int, Strict(), _in(0, MAX_AUDIT, "memory: a record a day each")] = (
        10_000
    )
    raw_counts: Bool = False
    score_bin_width: Annotated[int, Strict(), _in(1, MAX_SCORE_CHANGE, "16-bit scores")] = 10


class Published(_Model):
    """A published figure the scenario should reproduce, shown beside the simulated value in
    reports (where the run covers its date). ``series`` is named as in a calibration targets
    file (``series.py``)."""

    date: dt.date
    series: Text
    value: Annotated[float, Strict(), _in(0, MAX_COUNT, "a published count", lo_open=True)]
    unit: Text = ""
    source: Text = ""


class Scenario(_Model):
    """A whole scenario. Field docs live in docs/scenarios.md."""

    meta: Meta = Meta()
    time: Time = Time()
    population: Population = Population()
    groups: Annotated[list[Group], _at_most(MAX_GROUPS, "groups")] = []
    behaviours: Annotated[list[Behaviour], _at_most(MAX_BEHAVIOURS, "behaviours")] = []
    surveillance: Surveillance = Surveillance()
    score: Score = Score()
    blacklist: Blacklist = Blacklist()
    court_list: CourtList = CourtList()
    red_list: RedList = RedList()
    rules: Rules = Rules()
    discretionary_listing: DiscretionaryListing = DiscretionaryListing()
    appeals: Appeals = Appeals()
    sanctions: Annotated[list[Measure], _at_most(MAX_MEASURES, "sanctions")] = []
    rewards: Annotated[list[Measure], _at_most(MAX_MEASURES, "rewards")] = []
    rollout: Annotated[list[RolloutStep], _at_most(MAX_ITEMS, "rollout steps")] = []
    initial: Initial = Initial()
    output: Output = Output()
    published: Annotated[list[Published], _at_most(MAX_ITEMS, "published figures")] = []

    @model_validator(mode="after")
    def _cross(self) -> Scenario:
        grade_names = {g.name for g in self.score.grades}
        for field in ("behaviours", "groups", "sanctions", "rewards"):
            _unique(getattr(self, field), field)
        if sum(g.share for g in self.groups) >= 1:
            raise ValueError("groups: shares must add up to less than 1")
        lo, hi = self.score.min, self.score.max
        for field in ("entry_below", "exit_at"):
            value = getattr(self.blacklist, field)
            if self.blacklist.enabled and not lo <= value <= hi:
                raise ValueError(
                    f"blacklist.{field} ({value}) must lie within the score range"
                    f" [score.min, score.max] = [{lo}, {hi}]"
                )
        dates = [step.date for step in self.rollout]
        if dates != sorted(dates):
            raise ValueError(f"rollout: steps must be in date order; got {[str(d) for d in dates]}")
        shares = [step.share for step in self.rollout if step.share is not None]
        if any(a > b for a, b in zip(shares, shares[1:], strict=False)):
            raise ValueError(
                f"rollout: shares must not go down from one step to the next (localities that"
                f" joined stay joined); got {shares}"
            )
        known = {b.name for b in self.behaviours}
        for g in self.groups:
            for field in ("rate_multipliers", "awareness_multipliers"):
                bad = set(getattr(g, field)) - known
                if bad:
                    raise ValueError(
                        f"groups.{g.name}.{field}: unknown behaviours {sorted(bad)};"
                        f" known: {sorted(known)}"
                    )
        by_name = {b.name: b for b in self.behaviours}
        for g in self.groups:
            chilled = sorted(k for k in g.awareness_multipliers if by_name[k].chilled_by)
            if chilled:
                raise ValueError(
                    f"groups.{g.name}.awareness_multipliers: {chilled} are chilled behaviours,"
                    " which follow the awareness of the behaviour they are chilled_by: name that"
                )
        for b in self.behaviours:
            n = b.chilled_by
            if n is not None and (n not in by_name or by_name[n].chilled_by is not None):
                scored = sorted(k for k, v in by_name.items() if v.chilled_by is None)
                raise ValueError(
                    f"behaviours.{b.name}.chilled_by: '{n}' is not a scored behaviour;"
                    f" scored behaviours: {scored}"
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

    def measures(self) -> list[tuple[Measure, bool]]:
        """Sanctions then rewards, each with whether it is a reward: the order of every
        per-measure array of the engine and column of its tables."""
        return [(m, False) for m in self.sanctions] + [(m, True) for m in self.rewards]

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
        if isinstance(overrides, dict):
            items: Any = overrides.items()
            if any(not isinstance(k, str) for k in overrides):
                raise ScenarioError(f"{flag}: override keys must be strings such as 'score.start'")
        elif isinstance(overrides, (list, tuple)):
            items = (_split_override(text, flag) for text in overrides)
        else:
            raise ScenarioError(
                f"{flag}: overrides must be a list of 'key=value' strings or a dict; got"
                f" {type(overrides).__name__}"
            )
        for key, value in items:
            table, name = _walk(data, key, flag)
            table[name] = value
        return _validate(data, source)


def check_whole(value: Any, name: str, lo: int, hi: int, why: str = "") -> int:
    """``value`` as an int if it is a whole number (not a bool, not 2.5, not "10") within
    [lo, hi]; otherwise :class:`ScenarioError` naming ``name`` and what is allowed."""
    import numbers

    allowed = f"a whole number from {lo:,} to {hi:,}" + (f" ({why})" if why else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ScenarioError(f"{name}: expected {allowed}; got {value!r}")
    if not lo <= value <= hi:
        raise ScenarioError(f"{name}: expected {allowed}; got {value:,}")
    return int(value)


def check_strings(value: Any, name: str) -> list[str]:
    """A list of strings (a single string is refused: it would be read one letter at a time)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ScenarioError(f"{name}: expected a list of strings; got {value!r}")
    bad = [v for v in value if not isinstance(v, str)]
    if bad:
        raise ScenarioError(f"{name}: expected a list of strings; got {bad[0]!r} in it")
    return list(value)


def _tomlable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _tomlable(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, (list, tuple)):
        return [_tomlable(v) for v in obj]
    return obj


def _split_override(text: Any, flag: str) -> tuple[str, Any]:
    if not isinstance(text, str):
        raise ScenarioError(f"{flag} {text!r}: expected a 'key=value' string")
    if "=" not in text:
        raise ScenarioError(f"{flag} {text!r}: expected key=value, for example score.start=1000")
    key, raw = text.split("=", 1)
    _check_text(raw, f"{flag} {key.strip()}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def _check_text(text: str, label: str) -> None:
    """Refuse a TOML text too big or nested too deep to parse safely, before parsing it.

    Brackets, braces and the dots of dotted keys outside strings and comments are counted; the
    deepest real scenario nests three levels (a schedule point inside a list inside an item)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise ScenarioError(
            f"{label}: {size:,} bytes; a scenario may have at most {MAX_FILE_BYTES:,}"
        )
    depth = deepest = dots = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in "\"'":
            triple = text.startswith(c * 3, i)
            quote = c * 3 if triple else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if c == '"' and text[j] == "\\":
                    j += 1
                elif not triple and text[j] == "\n":
                    break
                j += 1
            i = j + len(quote)
            continue
        elif c == ".":  # a.b.c = 1 nests as deep as a bracket does
            dots += 1
            if dots > MAX_DEPTH:
                raise ScenarioError(
                    f"{label}: a dotted key of more than {MAX_DEPTH} parts (line"
                    f" {text.count(chr(10), 0, i) + 1}); a scenario nests at most 3"
                )
        elif c in "[{":
            dots = 0
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    raise ScenarioError(
                        f"{label}: nested more than {MAX_DEPTH} levels deep (line"
                        f" {text.count(chr(10), 0, i) + 1}); a scenario nests at most 3"
                    )
        elif c in "]}":
            dots = 0
            depth = max(0, depth - 1)
        elif c in "=,\n":
            dots = 0
        i += 1


def _check_data(data: Any, source: str) -> None:
    """Refuse data nested too deep, or with a list too long to validate quickly, by walking it
    without recursion before pydantic (which recurses) sees it."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    seen = 0
    while stack:
        node, loc = stack.pop()
        seen += 1
        if len(loc) > MAX_DEPTH:
            where = _loc_name(data, loc[:3]) or "the scenario"
            raise ScenarioError(f"{source}: {where}: nested more than {MAX_DEPTH} levels deep")
        if seen > 10 * MAX_LIST:
            raise ScenarioError(f"{source}: more than {10 * MAX_LIST:,} values in all")
        if isinstance(node, dict):
            stack.extend((v, (*loc, k)) for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            if len(node) > MAX_LIST:
                where = _loc_name(data, loc) or "the scenario"
                raise ScenarioError(
                    f"{source}: {where}: a list of {len(node):,} items; at most {MAX_LIST:,}"
                    " (and fewer where a field says so)"
                )
            stack.extend((v, (*loc, i)) for i, v in enumerate(node))


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
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: expected a table of fields, got {type(data).__name__}")
    _check_data(data, source)
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
        if _SCHEDULE_BRANCH in branches and any(
            err["type"] == "finite_number" for _, _, err in members
        ):
            lines.append(f"{where}: NaN and infinity are not allowed; got {value!r}")
        elif _SCHEDULE_BRANCH in branches:
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
            if _plain_name(name):
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
    for name in _builtin_names():
        text = resources.files("socialcreditsim.scenarios").joinpath(f"{name}.toml").read_text()
        out[name] = tomllib.loads(text).get("meta", {}).get("description", "").split("\n")[0]
    return out


def _builtin_names() -> list[str]:
    """The built-in scenarios' names, from their files' names (reading and parsing every file
    to load one took 20 ms of each command)."""
    files = resources.files("socialcreditsim.scenarios").iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


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
        data, label = _parse(source, ())
        scenario = _validate(data, label)
    if overrides:
        scenario = scenario.with_overrides(overrides)
    return scenario


def _parse(source: str | Path, seen: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    """A scenario file's tables, with those of the scenario it is ``based_on`` under them."""
    text, label = _read(source)
    _check_text(text, label)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{label}: not valid TOML: {exc}") from None
    except RecursionError:  # a nesting the bracket count above did not see
        raise ScenarioError(f"{label}: nested too deep to read") from None
    base = data.pop("based_on", None)
    if base is None:
        return data, label
    if not isinstance(base, str) or not base:
        raise ScenarioError(
            f"{label}: based_on: the name of a built-in scenario or the path of a scenario"
            f" file; got {base!r}"
        )
    if label in seen or len(seen) >= MAX_BASES:
        chain = " -> ".join((*seen, label))
        raise ScenarioError(f"{label}: based_on: scenarios based on each other in a loop: {chain}")
    beside = Path(str(source)).parent / base
    if not label.endswith("(built-in)") and beside.suffix == ".toml" and beside.exists():
        base = str(beside)  # a path is relative to the file that names it
    under, _ = _parse(base, (*seen, label))
    return _merged(under, data), label


MAX_BASES = 8  # scenarios based on scenarios, at most this deep


def _merged(under: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``under``: tables merged key by key, anything else (arrays of
    tables such as [[behaviours]] included) replaced whole."""
    out = dict(under)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _read(source: str | Path) -> tuple[str, str]:
    if not isinstance(source, (str, Path)):
        raise ScenarioError(
            f"scenario: expected a built-in name, a TOML file path, a dict or a Scenario;"
            f" got {type(source).__name__}"
        )
    path = Path(source)
    if path.suffix == ".toml" or path.exists():
        if path.is_dir():
            raise ScenarioError(f"{path}: a folder, not a scenario file")
        if not path.is_file():
            raise ScenarioError(f"{path}: no such scenario file")
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ScenarioError(
                    f"{path}: {path.stat().st_size:,} bytes; a scenario may have at most"
                    f" {MAX_FILE_BYTES:,}"
                )
            return path.read_text(encoding="utf-8"), str(path)
        except UnicodeDecodeError as exc:
            raise ScenarioError(f"{path}: not a text file (not UTF-8: {exc.reason})") from None
        except OSError as exc:
            raise ScenarioError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    names = _builtin_names()
    if str(source) not in names:
        raise ScenarioError(
            f"'{source}' is neither a scenario file nor a built-in scenario; "
            f"built-in scenarios are: {', '.join(names)}"
        )
    text = resources.files("socialcreditsim.scenarios").joinpath(f"{source}.toml").read_text()
    return text, f"{source} (built-in)"
