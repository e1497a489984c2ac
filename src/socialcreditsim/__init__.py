"""socialcreditsim: population-scale social credit systems, simulated on synthetic people.

>>> import socialcreditsim as scs
>>> res = scs.Sim("national", n_agents=100_000, seed=1).run()   # doctest: +SKIP
>>> res.headline()                                               # doctest: +SKIP
"""

from .compare import CompareResults, Comparison
from .engine import Sim
from .memory import NotEnoughMemory, estimate_memory
from .replicates import MultiResults, MultiSim
from .results import Results
from .scenario import Scenario, ScenarioError, builtin_scenarios, load_scenario
from .sweep import Sweep, SweepResults
from .version import __version__ as __version__

__all__ = [
    "CompareResults",
    "Comparison",
    "MultiResults",
    "MultiSim",
    "NotEnoughMemory",
    "Results",
    "Scenario",
    "ScenarioError",
    "Sim",
    "Sweep",
    "SweepResults",
    "builtin_scenarios",
    "estimate_memory",
    "load_scenario",
]
