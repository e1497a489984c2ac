"""The Scenario view's levers: the fields a dashboard user may edit, each with its unit and a
one-line doc, addressed by the dotted path ``--set`` uses (``scenario.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..scenario import Scenario


@dataclass(frozen=True)
class Lever:
    key: str  # the dotted path of --set
    label: str
    unit: str
    doc: str
    kind: str = "float"  # float, int, date, switch
    step: float = 0.001


LEVERS = [
    Lever("surveillance.fpir", "FPIR", "probability",
          "False positive identification rate: an event in view and not identified correctly"
          " is attributed to a wrong person of the same locality with this probability."),
    Lever("surveillance.fnir", "FNIR", "probability",
          "False negative identification rate: an event in view is identified correctly with"
          " probability 1 - FNIR.", step=0.01),
    Lever("behaviours.jaywalking.shaming_probability", "Shaming of jaywalkers", "probability",
          "Probability a recorded jaywalking event is shown on a public screen.", step=0.01),
    Lever("blacklist.entry_below", "Blacklist entry below", "score points",
          "A score below this puts the person on the score blacklist.", "int", 10),
    Lever("blacklist.exit_at", "Blacklist exit at", "score points",
          "A listed person leaves when the score is back at or above this (and the minimum stay"
          " has passed).", "int", 10),
    Lever("blacklist.min_stay_days", "Blacklist minimum stay", "days",
          "Days a person stays on the blacklist at least, whatever their score.", "int", 30),
    Lever("court_list.compliance_per_year", "Court list: compliance", "per listed person a year",
          "Yearly rate at which a person on the courts' list pays and leaves it.", step=0.05),
    Lever("court_list.duration_days", "Court list: duration", "days",
          "A listing ends after this many days unless the person complies first; 0: never.",
          "int", 30),
    Lever("rules.published", "Rules published", "on from the first day",
          "Whether the rulebook is public: everybody then knows what is scored (deterrence"
          " and chilling follow).", "switch"),
    Lever("appeals.probability", "Appeals", "probability",
          "Chance that a person who knows the rule and was told of a record appeals it; 0: no"
          " appeals.", step=0.05),
    Lever("discretionary_listing.per_year", "Listing at discretion", "per person a year",
          "Court-list orders without a debt or a score, per person a year (groups may set"
          " their own).", step=0.0001),
    Lever("time.end", "Last day", "date", "Last simulated day, included.", "date"),
]  # fmt: skip


def field(sc: Scenario, key: str) -> Any:
    """The value of a lever in a scenario (``None`` where the scenario lacks the item)."""
    node: Any = sc
    for part in key.split("."):
        if isinstance(node, list):
            node = next((x for x in node if getattr(x, "name", None) == part), None)
        else:
            node = getattr(node, part, None)
        if node is None:
            return None
    return node
