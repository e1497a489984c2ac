"""Scenario files: the built-ins, TOML round trips, overrides, and the errors of bad files.

Every bad file must give ONE ScenarioError, on one line, that names the file and the field.
"""

from __future__ import annotations

import datetime as dt
import os
import time
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


JAYWALKING = '[[behaviours]]\nname = "jaywalking"\nchannel = "camera"\nrate = 12.0\n'
JAYWALKING += "score_change = -5\n"


def records_behaviour(name: str) -> str:
    return f'[[behaviours]]\nname = "{name}"\nchannel = "records"\nrate = 1.0\nscore_change = 0\n'


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
    # issue 10: what cannot mean anything is refused, with the field and the reason
    "NaN rate": (("rate = 12.0", "rate = nan"), ["behaviours.jaywalking.rate", "NaN"]),
    "infinite point of a rate schedule": (
        ("rate = 12.0", "rate = [[2018-01-01, 1.0], [2018-06-01, inf]]"),
        ["behaviours.jaywalking.rate", "infinity"],
    ),
    "rate above one a day": (
        ("rate = 12.0", "rate = 1000.0"),
        ["behaviours.jaywalking.rate", "1000.0", "at most one a day"],
    ),
    "schedule dates out of order": (
        ("rate = 12.0", "rate = [[2018-06-01, 1.0], [2018-01-01, 2.0]]"),
        ["behaviours.jaywalking.rate", "strictly increasing"],
    ),
    "string for a number": (("max = 1300", 'max = "1300"'), ["score.max", "'1300'"]),
    "string for a boolean": (
        ("enabled = true", 'enabled = "yes"'),
        ["blacklist.enabled", "boolean", "'yes'"],
    ),
    "whole number for a boolean": (
        ("enabled = true", "enabled = 1"),
        ["blacklist.enabled", "boolean", "(got 1)"],
    ),
    "boolean for a number": (("start = 1000\n", "start = true\n"), ["score.start", "True"]),
    "fraction for a whole number": (
        ("size = 1000000", "size = 1000000.5"),
        ["population.size", "integer", "1000000.5"],
    ),
    "score change beyond 16 bits": (
        ("score_change = -5", "score_change = -3000000000"),
        ["behaviours.jaywalking.score_change", "16-bit", "-3000000000"],
    ),
    "score change as a huge real": (
        ("score_change = -5", "score_change = 1e20"),
        ["behaviours.jaywalking.score_change", "integer", "1e+20"],
    ),
    "blacklist threshold below the lowest score": (
        ("entry_below = 850", "entry_below = -5"),
        ["blacklist.entry_below (-5)", "score range", "[0, 1300]"],
    ),
    "blacklist threshold beyond 16 bits": (
        ("entry_below = 850", "entry_below = -100000000000000000000"),
        ["blacklist.entry_below"],
    ),
    "grade minimum beyond 16 bits": (
        ('name = "B"\nmin = 0', 'name = "B"\nmin = -100000'),
        ["score.grades.B.min", "16-bit", "-100000"],
    ),
    "huge urban multiplier": (
        ("score_change = -5\n", "score_change = -5\nurban_multiplier = 1e300\n"),
        ["behaviours.jaywalking.urban_multiplier", "1,000", "2**62", "1e+300"],
    ),
    "infinite deterrence": (
        ("score_change = -5\n", "score_change = -5\ndeterrence_elasticity = inf\n"),
        ["behaviours.jaywalking.deterrence_elasticity", "finite"],
    ),
    "record probability above 1": (
        ("score_change = -5\n", "score_change = -5\nrecord_probability = 1.5\n"),
        ["behaviours.jaywalking.record_probability", "1.5", "probability"],
    ),
    "infinite attempts a year": (
        ("per_year_urban = 1.0", "per_year_urban = inf"),
        ["sanctions.flights.per_year_urban", "finite", "inf"],
    ),
    "attempts beyond ten a day": (
        ("per_year_urban = 1.0", "per_year_urban = 1e6"),
        ["sanctions.flights.per_year_urban", "ten a day", "1000000.0"],
    ),
    "population beyond the Earth's": (
        ("size = 1000000", "size = 100000000000"),
        ["population.size", "Earth", "100000000000"],
    ),
    "infinite population": (("size = 1000000", "size = inf"), ["population.size", "integer"]),
    "infinite region share": (
        ("share = 1.0, urban", "share = inf, urban"),
        ["population.regions.Testland.share", "finite"],
    ),
    "no regions": (
        ('regions = [{ name = "Testland", share = 1.0, urban_share = 0.6 }]', "regions = []"),
        ["population.regions", "at least one region"],
    ),
    "duplicate region names": (
        (
            '{ name = "Testland", share = 1.0, urban_share = 0.6 }',
            '{ name = "Testland", share = 1.0, urban_share = 0.6 },'
            ' { name = "Testland", share = 2.0, urban_share = 0.5 }',
        ),
        ["population.regions", "duplicate names", "Testland"],
    ),
    "empty name": (('name = "jaywalking"', 'name = ""'), ["behaviours[0].name", "printable"]),
    "control character in a name": (
        ('name = "jaywalking"', 'name = "jay\\u0007walking"'),
        ["behaviours[0].name", "printable", "\\x07"],
    ),
    "dot in a name": (('name = "jaywalking"', 'name = "jay.walking"'), ["name", "'.'"]),
    "duplicate behaviours": (
        (
            "score_change = -5\n",
            'score_change = -5\n[[behaviours]]\nname = "jaywalking"\n'
            'channel = "camera"\nrate = 1.0\nscore_change = -1\n',
        ),
        ["behaviours", "duplicate names", "jaywalking"],
    ),  # fmt: skip
    "65 behaviours": (
        (
            "score_change = -5\n",
            "score_change = -5\n" + "".join(records_behaviour(f"b{i}") for i in range(64)),
        ),
        ["behaviours", "at most 64 behaviours", "65"],
    ),  # fmt: skip
    "rollout share going down": (
        (
            '[[rollout]]\ndate = 2018-01-01\nregions = ["Testland"]\n',
            "[[rollout]]\ndate = 2018-01-01\nshare = 0.5\n"
            "[[rollout]]\ndate = 2018-06-01\nshare = 0.2\n",
        ),
        ["rollout", "must not go down", "[0.5, 0.2]"],
    ),
    "rollout out of date order": (
        (
            '[[rollout]]\ndate = 2018-01-01\nregions = ["Testland"]\n',
            "[[rollout]]\ndate = 2018-06-01\nshare = 0.2\n"
            "[[rollout]]\ndate = 2018-01-01\nshare = 0.5\n",
        ),
        ["rollout", "date order", "2018-06-01"],
    ),
    "audit sample beyond memory": (
        ("[meta]\n", "[output]\naudit_sample = 100000000\n[meta]\n"),
        ["output.audit_sample", "10,000,000", "100000000"],
    ),
    "snapshot period beyond any run": (
        ("[meta]\n", "[output]\nsnapshot_every_days = 100000\n[meta]\n"),
        ["output.snapshot_every_days", "30,000", "16-bit"],
    ),
    "recovery below a ten-thousandth of a point": (
        ("max = 1300", "max = 1300\nrecovery_per_day = 0.00001"),
        ["score.recovery_per_day", "0.0001", "1e-05"],
    ),
    "recovery with no room beyond the 16-bit bounds": (
        ("max = 1300", "max = 32767\nrecovery_per_day = 2.5"),
        ["score", "recovery_per_day (2.5)", "5/2", "max + 5 <= 32767"],
    ),
    "infinite initial score spread": (
        ("[meta]\n", "[initial]\nscore_sd = inf\n[meta]\n"),
        ["initial.score_sd", "finite"],
    ),
    "huge initial score spread": (
        ("[meta]\n", "[initial]\nscore_sd = 1e300\n[meta]\n"),
        ["initial.score_sd", "65,535", "16-bit"],
    ),
    "infinite propensity shape": (
        ("size = 1000000", "size = 1000000\npropensity_shape = inf"),
        ["population.propensity_shape", "finite"],
    ),
    "NaN in the camera schedule": (
        ("[meta]\n", "[surveillance]\ncameras = [[2018-01-01, nan]]\n[meta]\n"),
        ["surveillance.cameras", "NaN"],
    ),
    "children per parent beyond reason": (
        ("size = 1000000", "size = 1000000\nchildren_per_parent = 1e300"),
        ["population.children_per_parent", "20"],
    ),
    "a schedule of 1,001 points": (
        (
            "rate = 12.0",
            "rate = ["
            + ", ".join(f"[{dt.date(2018, 1, 1) + dt.timedelta(days=i)}, 1.0]" for i in range(1001))
            + "]",
        ),
        ["behaviours.jaywalking.rate", "at most 1000 points"],
    ),  # fmt: skip
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


# ------------------------------------------------------------------------------- limits

TEXTS = {
    "arrays nested 100,000 deep": ("x = " + "[" * 100_000 + "]" * 100_000, "nested more than"),
    "inline tables nested 5,000 deep": ("x = " + "{a=" * 5000 + "1" + "}" * 5000, "nested more"),
    "a dotted key of 100,000 parts": ("a" + ".a" * 100_000 + " = 1", "dotted key"),
    "a table header of 100,000 parts": ("[" + "a." * 100_000 + "a]", "dotted key"),
    "a file over 1 MB": ("# " + "x" * 1_000_001, "at most 1,000,000"),
}


@pytest.mark.parametrize("case", list(TEXTS))
def test_size_and_nesting_are_refused_before_parsing(case: str, tmp_path: Path) -> None:
    text, fragment = TEXTS[case]
    path = write(tmp_path, text)
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert time.perf_counter() - t0 < 2, "refused before the (recursive, or slow) parse"
    msg = str(err.value)
    assert msg.startswith(f"{path}: ") and fragment in msg, msg
    assert len(msg.splitlines()) == 1, msg


def test_a_run_needs_a_behaviour(tmp_path: Path) -> None:
    """A scenario without behaviours (an empty file: all defaults) describes a population and
    loads; a run of it is refused, naming the field."""
    empty = write(tmp_path, "", "empty.toml")
    assert load_scenario(empty).behaviours == []
    with pytest.raises(ScenarioError, match="behaviours: a run needs at least one"):
        scs.Sim(empty, n_agents=1000)
    with pytest.raises(ScenarioError, match="behaviours: a run needs at least one"):
        scs.Sim("national", n_agents=1000, overrides=["behaviours=[]", "groups=[]"])


def test_deep_or_long_data_from_python_is_refused_quickly() -> None:
    deep: dict = {}
    node = deep
    for _ in range(100_000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(ScenarioError, match="nested more than 10 levels"):
        load_scenario({"meta": deep})
    many = [
        {"name": f"b{i}", "channel": "records", "rate": 1.0, "score_change": 0}
        for i in range(100_000)
    ]
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError, match="behaviours: a list of 100,000 items; at most"):
        load_scenario({"behaviours": many})
    assert time.perf_counter() - t0 < 2
    with pytest.raises(ScenarioError, match="at most 64 behaviours; got 5,000"):
        load_scenario({"behaviours": many[:5000]})  # the count comes before the names
    with pytest.raises(ScenarioError, match="scenario: expected a built-in name"):
        load_scenario([1, 2])  # type: ignore[arg-type]


def test_unreadable_files_name_the_file(tmp_path: Path) -> None:
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00 [score]")
    with pytest.raises(ScenarioError, match=r"binary\.toml: not a text file"):
        load_scenario(binary)
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    with pytest.raises(ScenarioError, match=r"folder\.toml: a folder, not a scenario file"):
        load_scenario(folder)
    if os.geteuid() != 0:  # root reads anything
        locked = write(tmp_path, BASE, "locked.toml")
        locked.chmod(0)
        with pytest.raises(ScenarioError, match=r"locked\.toml: cannot be read"):
            load_scenario(locked)


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("behaviours.jaywalking.rate=nan", ["behaviours.jaywalking.rate", "NaN"]),
        ("behaviours.jaywalking.record_probability=inf", ["record_probability", "infinity"]),
        ("surveillance.cameras=[[2018-01-01, nan]]", ["surveillance.cameras", "NaN"]),
        ("population.propensity_shape=inf", ["population.propensity_shape", "finite"]),
        ("behaviours.jaywalking.urban_multiplier=1e300", ["urban_multiplier", "2**62"]),
        ("blacklist.entry_below=-1e20", ["blacklist.entry_below", "integer"]),
        ("blacklist.exit_at=5000", ["blacklist.exit_at (5000)", "score range"]),
        ("score.start=true", ["score.start", "integer", "True"]),
        ("blacklist.enabled=yes", ["blacklist.enabled", "boolean", "'yes'"]),
        ("blacklist.enabled=1", ["blacklist.enabled", "boolean"]),
        ('population.size="12"', ["population.size", "'12'"]),
        ("population.size=1e300", ["population.size", "integer"]),
        ("score.recovery_per_day=0.00001", ["score.recovery_per_day", "0.0001"]),
        ("behaviours.jaywalking.rate=" + "[" * 100_000, ["--set behaviours.jaywalking.rate"]),
        ("population.regions=[]", ["population.regions", "at least one region"]),
        ('groups.petitioners.name=""', ["groups[", "name", "printable"]),
        ("groups.petitioners.share=1", ["groups.petitioners.share", "below 1", "adults"]),
        ("population.locality_size=10", ["population.locality_size", "people per locality"]),
        ("population.propensity_classes=0", ["population.propensity_classes", "at least 1"]),
    ],
)
def test_bad_values_in_overrides_are_refused(override: str, fragments: list[str]) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario("national", [override])
    msg = str(err.value)
    assert len(msg.splitlines()) == 1, msg
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in {msg!r}"


TINY_POP = {
    "population": {"size": 1, "regions": [{"name": "A", "share": 1.0, "urban_share": 0.5}]},
    "behaviours": [{"name": "b", "channel": "records", "rate": 1.0, "score_change": -1}],
}


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: scs.Sim("national", n_agents="10"), "n_agents: expected a whole number"),
        (lambda: scs.Sim("national", n_agents=1.5), "n_agents: expected a whole number"),
        (lambda: scs.Sim("national", n_agents=True), "got True"),
        (lambda: scs.Sim("national", n_agents=0), "n_agents: expected"),
        (lambda: scs.Sim(TINY_POP, n_agents=20_000), "from 1 to 1 (each agent stands"),
        (lambda: scs.Sim("national", seed=-1), "seed: expected a whole number from 0"),
        (lambda: scs.Sim("national", seed=1.5), "seed: expected"),
        (lambda: scs.Sim("national", seed=2**64), "seed: expected"),
        (lambda: scs.Sim("national", threads=0), "threads: expected"),
        (lambda: scs.Sim("national", threads=-3), "threads: expected"),
        (lambda: scs.Sim("national", overrides="a=b"), "overrides must be a list"),
        (lambda: scs.Sim("national", overrides=[1]), "expected a 'key=value' string"),
        (lambda: scs.Sim("national", overrides={1: 2}), "keys must be strings"),
        (lambda: scs.Sim(42), "scenario: expected a built-in name"),
        (lambda: scs.Sim(None), "scenario: expected a built-in name"),
        (lambda: scs.MultiSim("national", replicates=0), "replicates: expected"),
        (lambda: scs.MultiSim("national", band="10:90"), "band: expected two percentiles"),
        (lambda: scs.MultiSim("national", band=(10, None)), "band: percentiles must be numbers"),
        (lambda: scs.MultiSim("national", processes=0), "processes: expected"),
        (lambda: scs.Comparison("national"), "scenarios: expected a list"),
        (lambda: scs.Comparison(["national"], variants="score.start=9"), "variants: expected"),
        (lambda: scs.Comparison(["national", "rongcheng"], n_agents=800_000), "n_agents"),
        (lambda: scs.Sweep("national", vary="score.start=900:1000:2"), "vary: expected a list"),
        (lambda: scs.Sweep("national", ["score.start=900:1000:2"], sobol=2.0), "sobol"),
        (lambda: scs.Sweep("national", ["score.start=900:1000:2"], seed="1"), "seed"),
    ],
)
def test_python_api_refuses_bad_arguments_with_scenario_error(make, fragment: str) -> None:
    with pytest.raises(ScenarioError) as err:
        make()
    assert fragment in str(err.value), str(err.value)


def test_api_errors_are_exported() -> None:
    assert issubclass(scs.ScenarioError, ValueError)
    assert issubclass(scs.NotEnoughMemory, RuntimeError)  # raised by run(), catchable by name


def test_agents_up_to_the_population_are_allowed() -> None:
    sim = scs.Sim(TINY_POP, n_agents=1, seed=0)
    assert sim.n_agents == 1
    assert scs.Sim("rongcheng", n_agents=700_000).n_agents == 700_000
    assert scs.Sim("national", n_agents=np.int64(5), seed=np.uint8(3)).seed == 3  # numpy ints


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
    # list stocks move by exactly the day's entries minus exits (scaled counts)
    for stock, entries, exits in (
        ("court_listed", "court_list_entries", "court_list_exits"),
        ("blacklisted", "blacklist_entries", "blacklist_exits"),
    ):
        moved = res.series(entries) - res.series(exits)
        np.testing.assert_allclose(np.diff(res.series(stock)), moved.to_numpy()[1:], atol=1e-6)
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


# ------------------------------------------------------------------------------ based_on


def test_a_scenario_based_on_another_states_only_what_it_changes(tmp_path: Path) -> None:
    """Tables merge key by key; arrays of tables replace the base's whole; a path is relative
    to the file that names it, and bases can be chained."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mid.toml").write_text(
        'based_on = "national"\n[meta]\nname = "mid"\n[appeals]\nprobability = 0.2\n'
    )
    (tmp_path / "top.toml").write_text(
        'based_on = "sub/mid.toml"\n[appeals]\ndelay_days = 9\n'
        '[[rewards]]\nname = "only"\ntrigger_lists = ["red"]\n'
    )
    top, national = scs.load_scenario(tmp_path / "top.toml"), scs.load_scenario("national")
    assert top.meta.name == "mid" and top.meta.description == national.meta.description
    assert (top.appeals.probability, top.appeals.delay_days) == (0.2, 9)
    assert [m.name for m in top.rewards] == ["only"]
    assert top.behaviours == national.behaviours
    transparent = scs.load_scenario("national-transparent")
    assert transparent.behaviours == national.behaviours and transparent.appeals.probability > 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("based_on = 3\n", "based_on: the name of a built-in scenario or the path"),
        ('based_on = "nowhere.toml"\n', "no such scenario file"),
        ('based_on = "loop.toml"\n', "in a loop"),
    ],
)
def test_a_bad_base_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "loop.toml"
    path.write_text(text)
    with pytest.raises(scs.ScenarioError, match=message):
        scs.load_scenario(path)
