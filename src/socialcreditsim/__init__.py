"""socialcreditsim: population-scale social credit systems, simulated on synthetic people.

>>> import socialcreditsim as scs
>>> res = scs.Sim("national", n_agents=100_000, seed=1).run()   # doctest: +SKIP
>>> res.headline()                                               # doctest: +SKIP
"""

__version__ = "0.1.0"

from .engine import Sim, estimate_memory
from .results import Results
from .scenario import Scenario, ScenarioError, builtin_scenarios, load_scenario

__all__ = [
    "Results",
    "Scenario",
    "ScenarioError",
    "Sim",
    "builtin_scenarios",
    "estimate_memory",
    "load_scenario",
]
