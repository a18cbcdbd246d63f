"""The scenario registry: each scenario is a named function from options to a ScenarioResult.

A scenario states its own parameters as a frozen attrs class (changed from the command
line with ``--set name=value``), builds a delegation graph, runs it, checks its claims,
and returns a :class:`ScenarioResult`. It never writes files: :mod:`scenarios.machinery.output` does.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

import attrs
import numpy as np

from hierarchy.errors import ParameterError, ScenarioError
from hierarchy.estimator import Estimator
from hierarchy.graph import DelegationGraph
from hierarchy.report import Report


@attrs.frozen
class RunOptions:
    """What every scenario run takes: seed, steps (None: the scenario's default), estimator,
    the strong-alignment horizon (None: off), progress bars on or off, parameter overrides,
    and for sweeps: the output directory where each finished trial is written at once
    (``out``), whether to resume from it, and the executor ("inprocess" or "dask", with an
    optional scheduler address and worker count for a local cluster)."""

    seed: int = 0
    steps: Optional[int] = None
    estimator: Estimator = Estimator()
    horizon: Optional[int] = None
    progress: bool = True
    params: Mapping[str, str] = attrs.field(factory=dict)
    out: Optional[str] = None
    resume: bool = False
    executor: str = "inprocess"
    scheduler: Optional[str] = None
    workers: Optional[int] = None

    def __attrs_post_init__(self):
        if not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ParameterError(f"seed {self.seed!r} must be a non-negative integer; use e.g. --seed 0")
        if self.steps is not None and (not isinstance(self.steps, (int, np.integer)) or self.steps < 1):
            raise ParameterError(f"steps = {self.steps!r}; run at least one step, e.g. --steps 1000")
        if self.executor not in ("inprocess", "dask"):
            raise ParameterError(f"executor {self.executor!r} is unknown; choose inprocess or dask")
        if self.horizon is not None and (not isinstance(self.horizon, (int, np.integer)) or self.horizon < 1):
            raise ParameterError(f"horizon = {self.horizon!r}; give a positive number of steps, e.g. --horizon 100")


@attrs.frozen(eq=False)
class ScenarioResult:
    """What a scenario run produced: the report, the graph, the raw arrays keyed
    ``<node>/<objective>`` (each [K, T]), and plots as {file name: function(path)}."""

    report: Report
    graph: DelegationGraph
    arrays: dict
    plots: dict = attrs.field(factory=dict)
    extra_files: dict = attrs.field(factory=dict)

    def write(self, out) -> list:
        """Write report.json, trajectories.npz, the graph exports and the plots into ``out``."""
        from scenarios.machinery.output import write_result

        return write_result(self, out)


@attrs.frozen
class Scenario:
    """A registered scenario."""

    name: str
    summary: str
    params: type
    default_steps: int
    run: Callable[[RunOptions, Any], ScenarioResult]


SCENARIOS: dict = {}


def scenario(name: str, summary: str, params: type, default_steps: int):
    """Register the decorated ``run(options, params) -> ScenarioResult`` under ``name``."""

    def register(fn):
        SCENARIOS[name] = Scenario(name, summary, params, default_steps, fn)
        return fn

    return register


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``; a ScenarioError listing the known ones otherwise."""
    _load_builtin()
    if name not in SCENARIOS:
        raise ScenarioError(f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))} (see `mesastack list`)")
    return SCENARIOS[name]


def list_scenarios() -> list:
    """Every registered scenario, sorted by name."""
    _load_builtin()
    return [SCENARIOS[k] for k in sorted(SCENARIOS)]


def convert_param(value: str, default: Any, name: str):
    """Parse a ``--set`` string to the type of the parameter's default (bool, int, float, tuple, str)."""
    if isinstance(default, bool):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ParameterError(f"parameter {name} takes true or false, not {value!r}")
    try:
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, tuple):
            kind = type(default[0]) if default else float
            return tuple(kind(v) for v in value.split(",") if v)
    except ValueError:
        raise ParameterError(f"parameter {name} = {value!r} is not a valid {type(default).__name__}") from None
    return value


def apply_overrides(base, overrides: Mapping[str, str], owner: str):
    """``base`` (a frozen attrs parameter value) with ``--set name=value`` overrides applied.

    Example:
        >>> @attrs.frozen
        ... class P:
        ...     width: int = 3
        >>> apply_overrides(P(), {"width": "8"}, "demo").width
        8
    """
    fields = [f.name for f in attrs.fields(type(base))]
    changes = {}
    for key, value in overrides.items():
        if key not in fields:
            raise ParameterError(f"{owner} has no parameter {key!r}; its parameters are {', '.join(fields)}")
        changes[key] = convert_param(value, getattr(base, key), key) if isinstance(value, str) else value
    return attrs.evolve(base, **changes)


def resolve_params(spec: Scenario, overrides: Mapping[str, str]):
    """The scenario's parameters with ``--set name=value`` overrides applied (validated)."""
    return apply_overrides(spec.params(), overrides, f"scenario {spec.name}")


def run_scenario(name: str, options: RunOptions = RunOptions()) -> ScenarioResult:
    """Run the scenario ``name`` with ``options`` (no files written).

    Example:
        >>> from scenarios.machinery.registry import RunOptions, run_scenario
        >>> result = run_scenario("harris-abc", RunOptions(steps=50, progress=False,
        ...                       params={"candidates": "8", "search_norms": "1.0"}))
        >>> result.report.scenario
        'harris-abc'
    """
    spec = get_scenario(name)
    params = resolve_params(spec, options.params)
    if options.steps is None:
        options = attrs.evolve(options, steps=spec.default_steps)
    result = spec.run(options, params)
    if options.horizon:
        from scenarios.machinery.strong_alignment import with_strong_alignment

        result = with_strong_alignment(result, options.horizon)
    return result


_LOADED = False


def _load_builtin() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        import importlib

        for module in BUILTIN:
            importlib.import_module(module)


# Modules that register built-in scenarios when imported.
BUILTIN = ["scenarios.harris_abc", "scenarios.capacity", "scenarios.annealing", "scenarios.robustness",
           "scenarios.maze_examples", "scenarios.researcher_agent_subagent", "scenarios.strategy_game"]
