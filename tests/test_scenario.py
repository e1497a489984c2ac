"""Scenario files: the built-ins, TOML round trips, overrides, and the errors of bad files.

Every bad file must give ONE ScenarioError, on one line, that names the file and the field.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import socialcreditsim as scs
from socialcreditsim.scenario import Scenario, ScenarioError, builtin_scenarios, load_scenario

BUILTINS = ("national", "court-list", "rongcheng", "shenzhen-crossings")


def builtin_text(name: str) -> str:
    return resources.files("socialcreditsim.scenarios").joinpath(f"{name}.toml").read_text()


# ------------------------------------------------------------------------------- built-ins


def test_builtin_scenarios_lists_all_four_with_descriptions() -> None:
    names = builtin_scenarios()
    assert set(BUILTINS) <= set(names)
    for name, description in names.items():
        assert description, f"{name} has no meta.description"
        assert "\n" not in description
        assert description == load_scenario(name).meta.description


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_loads_and_validates(name: str) -> None:
    sc = load_scenario(name)
    assert isinstance(sc, Scenario)
    assert sc.meta.name == name
    assert sc.meta.sources and sc.meta.assumptions
    assert sc.behaviours, "a built-in scenario declares its behaviours"
    # the file itself validates as plain TOML data too (not only through the name lookup)
    assert Scenario.model_validate(tomllib.loads(builtin_text(name))) == sc


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_has_a_header_naming_sources_and_assumptions(name: str) -> None:
    text = builtin_text(name)
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    assert header and header[0].startswith(f"# {name}:")
    body = "\n".join(header)
    assert "# Sources" in body
    assert "# Assumptions" in body


def test_builtin_specifics() -> None:
    rc = load_scenario("rongcheng")
    assert rc.population.size == 700_000
    assert [r.name for r in rc.population.regions] == ["Rongcheng"]
    assert rc.score.start == 1000
    grades = [(g.name, g.min) for g in rc.score.grades]
    assert grades[:5] == [("AAA", 1050), ("AA", 1030), ("A", 960), ("B", 850), ("C", 600)]
    assert grades[-1][0] == "D" and grades[-1][1] <= rc.score.min
    assert rc.red_list.min_grade == "AA"
    assert rc.blacklist.enabled and rc.blacklist.entry_below == 600

    cl = load_scenario("court-list")
    assert cl.time.start == dt.date(2013, 10, 1)
    assert not cl.rollout
    assert {s.name for s in cl.sanctions} == {"flights", "trains"}
    assert all(s.trigger_lists == ["court"] for s in cl.sanctions)
    assert [b.channel for b in cl.behaviours] == ["court"]
    assert not isinstance(cl.behaviours[0].rate, float)  # a schedule rising over time
    assert cl.surveillance.cameras == 0.0

    sz = load_scenario("shenzhen-crossings")
    assert [b.channel for b in sz.behaviours] == ["camera"]
    assert sz.behaviours[0].shaming_probability > 0
    assert sz.surveillance.coverage_urban is not None
    assert sz.surveillance.coverage_rural is not None
    assert (sz.time.end - sz.time.start).days < 366


# ------------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("name", BUILTINS)
def test_to_toml_round_trips(name: str, tmp_path: Path) -> None:
    sc = load_scenario(name)
    path = tmp_path / f"{name}.toml"
    path.write_text(sc.to_toml())
    again = load_scenario(path)
    assert again == sc
    assert again.to_toml() == sc.to_toml()


def test_to_toml_round_trips_after_overrides(tmp_path: Path) -> None:
    sc = load_scenario(
        "national",
        ["behaviours.jaywalking.rate=[[2018-01-01, 1.0], [2019-01-01, 2.5]]", "score.start=990"],
    )
    path = tmp_path / "changed.toml"
    path.write_text(sc.to_toml())
    assert load_scenario(path) == sc


# ------------------------------------------------------------------------------- overrides


def test_override_by_dotted_path() -> None:
    sc = load_scenario("national")
    changed = sc.with_overrides(["score.start=990", "time.end=2018-06-30"])
    assert changed.score.start == 990
    assert changed.time.end == dt.date(2018, 6, 30)
    assert sc.score.start == 1000, "the original is left unchanged"


def test_override_by_list_item_name() -> None:
    sc = load_scenario("national").with_overrides(
        ["behaviours.jaywalking.rate=3", "sanctions.flights.per_year_urban=2.5"]
    )
    assert next(b for b in sc.behaviours if b.name == "jaywalking").rate == 3
    assert next(s for s in sc.sanctions if s.name == "flights").per_year_urban == 2.5


def test_override_schedule_and_dict_forms() -> None:
    sc = load_scenario("national").with_overrides(
        {"behaviours.jaywalking.rate": [[dt.date(2018, 1, 1), 1.0], [dt.date(2019, 1, 1), 4.0]]}
    )
    rate = next(b for b in sc.behaviours if b.name == "jaywalking").rate
    assert rate == [(dt.date(2018, 1, 1), 1.0), (dt.date(2019, 1, 1), 4.0)]
    sc = load_scenario(
        "national", ["behaviours.online_rumours.record_probability=[[2018-01-01, 0.5]]"]
    )
    rp = next(b for b in sc.behaviours if b.name == "online_rumours").record_probability
    assert rp == [(dt.date(2018, 1, 1), 0.5)]


def test_override_through_sim() -> None:
    sim = scs.Sim("rongcheng", n_agents=1000, seed=1, overrides=["behaviours.volunteering.rate=0"])
    assert next(b for b in sim.scenario.behaviours if b.name == "volunteering").rate == 0


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("score.strat=1", ["score.strat", "unknown field"]),
        ("behaviours.flying.rate=1", ["behaviours.flying", "flying", "jaywalking"]),
        ("sanctions.boats.per_year_urban=1", ["sanctions.boats", "boats"]),
        ("behaviours.jaywalking.speed=1", ["behaviours.jaywalking.speed", "unknown field"]),
        ("behaviours.jaywalking=1", ["behaviours.jaywalking", "whole item"]),
        ("score.start.x=1", ["score.start.x", "score.start"]),
        ("score.start", ["score.start", "key=value"]),
        ("behaviours.jaywalking.rate=-1", ["behaviours.jaywalking.rate", "-1"]),
        ("score.start=high", ["score.start", "high"]),
        ("time.end=2017-01-01", ["time", "end", "start"]),
    ],
)
def test_bad_override_names_the_key(override: str, fragments: list[str]) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario("national").with_overrides([override])
    msg = str(err.value)
    assert len(msg.splitlines()) == 1, msg
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in {msg!r}"


# ------------------------------------------------------------------------------- bad files

BASE = """
[meta]
name = "bad"

[time]
start = 2018-01-01
end = 2018-12-31

[population]
size = 1000000
regions = [{ name = "Testland", share = 1.0, urban_share = 0.6 }]

[[behaviours]]
name = "jaywalking"
channel = "camera"
rate = 12.0
score_change = -5

[score]
start = 1000
min = 0
max = 1300

[[score.grades]]
name = "A"
min = 960
[[score.grades]]
name = "B"
min = 0

[blacklist]
enabled = true
entry_below = 850
exit_at = 960

[[sanctions]]
name = "flights"
trigger_lists = ["court", "blacklist"]
trigger_grades = ["B"]
per_year_urban = 1.0

[[rollout]]
date = 2018-01-01
regions = ["Testland"]
"""


def write(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_base_file_is_valid(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, BASE, "good.toml"))
    assert sc.meta.name == "bad"


BAD_FILES = {
    "unknown field": (
        ("start = 1000\n", "start = 1000\nstrat = 5\n"),
        ["score.strat", "unknown field", "'start'"],
    ),
    "unknown field in a list item": (
        ("score_change = -5\n", "score_change = -5\nshame = 0.1\n"),
        ["behaviours.jaywalking.shame", "unknown field", "shaming_probability"],
    ),
    "wrong type": (("max = 1300", 'max = "lots"'), ["score.max", "lots"]),
    "wrong type of a schedule": (
        ("rate = 12.0", 'rate = "often"'),
        ["behaviours.jaywalking.rate", "often", "[date, value]"],
    ),
    "wrong type of a date": (("end = 2018-12-31", 'end = "soon"'), ["time.end", "soon"]),
    "negative rate": (("rate = 12.0", "rate = -1.0"), ["behaviours.jaywalking.rate", "-1.0"]),
    "negative point of a rate schedule": (
        ("rate = 12.0", "rate = [[2018-01-01, 1.0], [2018-06-01, -2.0]]"),
        ["behaviours.jaywalking.rate", "-2.0"],
    ),
    "negative attempt rate": (
        ("per_year_urban = 1.0", "per_year_urban = -1.0"),
        ["sanctions.flights.per_year_urban", "-1.0"],
    ),
    "blacklist thresholds out of order": (
        ("exit_at = 960", "exit_at = 800"),
        ["blacklist", "exit_at (800)", "entry_below (850)"],
    ),
    "grades out of order": (
        ('name = "A"\nmin = 960', 'name = "A"\nmin = -10'),
        ["score.grades", "highest", "A >= -10", "B >= 0"],
    ),
    "end before start": (
        ("end = 2018-12-31", "end = 2017-12-31"),
        ["time", "end (2017-12-31)", "start (2018-01-01)"],
    ),
    "unknown grade in a trigger": (
        ('trigger_grades = ["B"]', 'trigger_grades = ["Z"]'),
        ["sanctions.flights.trigger_grades", "'Z'", "'A'", "'B'"],
    ),
    "unknown region in rollout": (
        ('regions = ["Testland"]\n', 'regions = ["Atlantis"]\n'),
        ["rollout", "Atlantis", "Testland"],
    ),
    "unknown channel": (
        ('channel = "camera"', 'channel = "radio"'),
        ["behaviours.jaywalking.channel", "radio", "camera"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_gives_one_clear_error(case: str, tmp_path: Path) -> None:
    (old, new), fragments = BAD_FILES[case]
    assert BASE.count(old) == 1, f"test setup: {old!r} must occur once in BASE"
    path = write(tmp_path, BASE.replace(old, new))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    msg = str(err.value)
    assert len(msg.splitlines()) == 1, f"{case}: expected one line, got:\n{msg}"
    assert msg.startswith(f"{path}: "), msg
    for frag in fragments:
        assert frag in msg, f"{case}: {frag!r} not in {msg!r}"


def test_not_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "[score\nstart = 1")
    with pytest.raises(ScenarioError, match="not valid TOML") as err:
        load_scenario(path)
    assert str(path) in str(err.value)


def test_missing_file_and_unknown_builtin(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "nowhere.toml")
    with pytest.raises(ScenarioError) as err:
        load_scenario("atlantis")
    for name in BUILTINS:
        assert name in str(err.value)


def test_errors_from_a_dict_name_the_source() -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario({"score": {"strat": 1}})
    assert str(err.value).startswith("scenario: score.strat: unknown field")


# ------------------------------------------------------------------------------- runs

# a short stretch of each built-in (court-list: one where the list is filling fast)
SHORT = {
    "national": ["time.end=2018-03-31"],
    "court-list": ["time.start=2016-01-01", "time.end=2016-06-30"],
    "rongcheng": ["time.end=2014-06-30"],
    "shenzhen-crossings": ["time.end=2018-05-31"],
}


@pytest.fixture(scope="module")
def short_runs() -> dict[str, scs.Results]:
    return {
        name: scs.Sim(name, n_agents=20_000, seed=1, threads=1, overrides=SHORT[name]).run()
        for name in BUILTINS
    }


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_runs_briefly(name: str, short_runs: dict[str, scs.Results]) -> None:
    res = short_runs[name]
    sc = res.scenario
    days = (sc.time.end - sc.time.start).days + 1
    ts = res.timeseries
    assert ts["date"].nunique() == days
    assert np.isfinite(ts["value"]).all() and (ts["value"] >= 0).all()
    head = res.headline()
    assert len(head) and np.isfinite(head["value"]).all()
    assert res.series("events_true").sum() > 0
    # every scored person holds exactly one grade every day (scaled to the population)
    holders = res.series("grade_holders")
    expected = res.manifest["n_scored"] * res.manifest["scale"]
    assert np.allclose(holders.to_numpy(), expected)


def test_short_runs_show_what_each_scenario_is_about(short_runs: dict[str, scs.Results]) -> None:
    cl = short_runs["court-list"]
    assert cl.series("court_list_entries").sum() > 0
    assert cl.series("blocked_attempts", item="flights").sum() > 0
    assert cl.series("blocked_attempts", truth="wrongful").sum() == 0  # courts do not misidentify

    rc = short_runs["rongcheng"]
    assert rc.series("red_listed").iloc[-1] > 0
    assert rc.series("reward_uses").sum() > 0

    sz = short_runs["shenzhen-crossings"]
    shown = sz.series("shamings").sum()
    assert shown > 0
    assert shown == pytest.approx(sz.series("events_recorded").sum())  # all identified are shown
