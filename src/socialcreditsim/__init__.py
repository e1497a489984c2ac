"""socialcreditsim: population-scale social credit systems, simulated on synthetic people.

>>> import socialcreditsim as scs
>>> res = scs.Sim("national", n_agents=100_000, seed=1).run()   # doctest: +SKIP
>>> res.headline()                                               # doctest: +SKIP

The names below load their module on first use (PEP 562), so that a command imports only what
it runs: ``import socialcreditsim`` alone costs no NumPy, Numba or pandas.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .version import __version__ as __version__

if TYPE_CHECKING:
    from .compare import CompareResults, Comparison
    from .engine import Sim
    from .memory import NotEnoughMemory, estimate_memory
    from .replicates import MultiResults, MultiSim
    from .results import Results
    from .scenario import Scenario, ScenarioError, builtin_scenarios, load_scenario
    from .sweep import Sweep, SweepResults

_HOME = {
    "CompareResults": "compare",
    "Comparison": "compare",
    "MultiResults": "replicates",
    "MultiSim": "replicates",
    "NotEnoughMemory": "memory",
    "Results": "results",
    "Scenario": "scenario",
    "ScenarioError": "scenario",
    "Sim": "engine",
    "Sweep": "sweep",
    "SweepResults": "sweep",
    "builtin_scenarios": "scenario",
    "estimate_memory": "memory",
    "load_scenario": "scenario",
}

__all__ = [  # written out, as readers and linters look for it
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


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])
