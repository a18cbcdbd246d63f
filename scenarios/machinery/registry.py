"""The scenario registry: each scenario is a named function from options to a ScenarioResult.

A scenario states its own parameters as a frozen attrs class (changed from the command
line with ``--set name=value``), builds a delegation graph, runs it, checks its claims,
and returns a :class:`ScenarioResult`. It never writes files: :mod:`scenarios.machinery.output` does.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

import math

import attrs
import numpy as np

from hierarchy.errors import ParameterError, ScenarioError
from hierarchy.estimator import Estimator
from hierarchy.graph import DelegationGraph
from hierarchy.report import Report

__all__ = ["RunOptions", "ScenarioResult", "Scenario", "SCENARIOS", "SWEEP_OPTIONS", "scenario", "get_scenario",
           "list_scenarios", "convert_param", "apply_overrides", "resolve_params", "run_scenario", "check_options",
           "parameter", "parameter_rows", "PARAMETER_HELP", "check_fields", "FIELD_RULES"]

#: The run options only a sweep takes (``--resume``, ``--executor``, ``--scheduler``, ``--workers``).
SWEEP_OPTIONS = frozenset({"resume", "executor", "scheduler", "workers"})


def parameter(default, help: str, **kwargs):
    """An attrs field of a scenario's parameter class, with its meaning for ``mesastack describe``.

    Parameters
    ----------
    default : object
        The default value (its type is the type ``--set`` parses to).
    help : str
        A short meaning, stored as ``metadata={"help": help}``.
    **kwargs
        Passed to :func:`attrs.field` (validators, converters, ...).

    Returns
    -------
    attrs field

    Examples
    --------
    >>> @attrs.frozen
    ... class P:
    ...     width: int = parameter(3, "hidden width of the network")
    >>> attrs.fields(P).width.metadata["help"], P().width
    ('hidden width of the network', 3)
    """
    return attrs.field(default=default, metadata={"help": help, **kwargs.pop("metadata", {})}, **kwargs)


def _is_int(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, np.integer))


def _is_real(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(v)


#: The rules :func:`check_fields` applies: name -> (test of one value, what it must be).
#: A rule ending in ``s`` is the same for every entry of a non-empty tuple; ``*`` after it
#: also allows the empty tuple.
FIELD_RULES = {
    "count": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "count0": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "positive": (lambda v: _is_real(v) and v > 0, "a finite number > 0"),
    "non-negative": (lambda v: _is_real(v) and v >= 0, "a finite number >= 0"),
    "finite": (_is_real, "a finite number"),
    "probability": (lambda v: _is_real(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "fraction": (lambda v: _is_real(v) and 0 < v <= 1, "a number in (0, 1]"),
    "open fraction": (lambda v: _is_real(v) and 0 < v < 1, "a number in (0, 1)"),
    "smoothing": (lambda v: _is_real(v) and 0 <= v < 1, "a number in [0, 1)"),
}


def check_fields(params, rules: Mapping[str, str]) -> None:
    """Refuse, in one line naming the parameter and a valid value, a field of ``params`` that breaks its rule.

    Parameters
    ----------
    params : attrs instance
        A scenario's parameter value.
    rules : mapping
        Field name -> rule of :data:`FIELD_RULES` (``"positive"``, ``"fraction"``, ...);
        ``"<rule>s"``: a non-empty tuple of such values, ``"<rule>s*"``: a tuple, possibly empty.

    Raises
    ------
    ParameterError
        ``name=value must be ... (its meaning); e.g. --set name=<default>``, with ``parameter`` the
        field's name (the meaning from :func:`parameter`'s help or :data:`PARAMETER_HELP`).

    Examples
    --------
    >>> @attrs.frozen
    ... class P:
    ...     settle: float = 1e-3
    ...     norms: tuple = (0.6, 1.0)
    >>> check_fields(P(), {"settle": "fraction", "norms": "positives"})
    >>> check_fields(P(settle=float("nan")), {"settle": "fraction"})
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: settle=nan must be a number in (0, 1]; e.g. --set settle=0.001
    >>> check_fields(P(norms=()), {"norms": "positives"})
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: norms=(empty) must be a non-empty list of finite numbers > 0; e.g. --set norms=0.6,1.0
    """
    fields = attrs.fields_dict(type(params))
    for name, rule in rules.items():
        value = getattr(params, name)
        many, empty_ok = rule.endswith("s") or rule.endswith("s*"), rule.endswith("*")
        base = rule.rstrip("*")[:-1] if many else rule
        test, want = FIELD_RULES[base]
        if many:
            ok = isinstance(value, (tuple, list)) and (empty_ok or len(value) > 0) and all(test(v) for v in value)
            want = ("a list (possibly empty) of " if empty_ok else "a non-empty list of ") + _plural(want)
        else:
            ok = test(value)
        if not ok:
            f = fields.get(name)
            default = None if f is None else (f.default.factory() if isinstance(f.default, attrs.Factory) else f.default)
            hint = f"; e.g. --set {name}={_shown(default)}" if default is not None and _default_ok(default, test, many) else ""
            meaning = (f.metadata.get("help") if f is not None else None) or PARAMETER_HELP.get(name)
            meaning = f" ({meaning})" if meaning else ""
            raise ParameterError(f"{name}={_shown(value)} must be {want}{meaning}{hint}", parameter=name)


def _default_ok(default, test, many) -> bool:
    """Whether ``default`` passes ``test`` (so it can be offered as an example)."""
    return all(test(v) for v in default) and len(default) > 0 if many else test(default)


def _plural(want: str) -> str:
    for a, b in (("a positive integer", "positive integers"), ("an integer", "integers"), ("a finite number", "finite numbers"),
                 ("a number", "numbers")):
        if want.startswith(a):
            return b + want[len(a):]
    return want


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
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ParameterError(f"seed={self.seed!r} must be a non-negative integer", parameter="seed")
        if not isinstance(self.estimator, Estimator):
            raise ParameterError(f"estimator={self.estimator!r} is not an Estimator; give Estimator('limit') or "
                                 f"Estimator('finite')", parameter="estimator")
        if self.steps is not None and (not _is_int(self.steps) or self.steps < 1):
            raise ParameterError(f"steps={self.steps!r} must be a positive integer; run at least one step",
                                 parameter="steps")
        if self.executor not in ("inprocess", "dask"):
            raise ParameterError(f"executor {self.executor!r} is unknown; choose inprocess or dask", parameter="executor")
        if self.steps is not None and self.horizon is not None and _is_int(self.horizon) and self.horizon > self.steps + 1:
            raise ParameterError(f"horizon={self.horizon} is longer than the run ({self.steps} steps: {self.steps + 1} "
                                 f"values per copy); give a horizon of at most {self.steps + 1} steps or run more steps",
                                 parameter="horizon")
        if self.horizon is not None and (not _is_int(self.horizon) or self.horizon < 1):
            raise ParameterError(f"horizon={self.horizon!r} must be a positive number of steps", parameter="horizon")
        if self.workers is not None and (not _is_int(self.workers) or self.workers < 1):
            raise ParameterError(f"workers={self.workers!r} must be a positive number of Dask workers",
                                 parameter="workers")
        if self.workers is not None and self.executor != "dask":
            raise ParameterError(f"workers={self.workers!r} sizes a Dask LocalCluster; it needs the dask executor",
                                 parameter="workers")
        if self.scheduler is not None and self.executor != "dask":
            raise ParameterError("a scheduler address is for the Dask executor; choose the dask executor",
                                 parameter="scheduler")

    def sweep_options(self) -> list:
        """The sweep-only options this value sets away from their defaults (in ``SWEEP_OPTIONS``).

        Returns
        -------
        list of str
            Names among ``resume``, ``executor``, ``scheduler``, ``workers``.

        Examples
        --------
        >>> RunOptions(resume=True, executor="dask", workers=3).sweep_options()
        ['resume', 'executor', 'workers']
        """
        given = {"resume": self.resume, "executor": self.executor != "inprocess",
                 "scheduler": self.scheduler is not None, "workers": self.workers is not None}
        return [k for k, v in given.items() if v]


@attrs.frozen(eq=False)
class ScenarioResult:
    """What a scenario run produced: the report, the graph, the raw arrays keyed
    ``<leaf>/<objective>`` (each [K, T]) plus scenario extras under ``extra/`` (any shape),
    and plots as {file name: function(path)}."""

    report: Report
    graph: DelegationGraph
    arrays: dict
    plots: dict = attrs.field(factory=dict)
    extra_files: dict = attrs.field(factory=dict)

    def write(self, out) -> list:
        """Write report.json, trajectories.npz, the graph exports and the plots into ``out``."""
        from scenarios.machinery.output import write_result

        return write_result(self, out)

    def _repr_html_(self) -> str:
        """The result as HTML for Jupyter: report.html's content without the page around it,
        its plots drawn and shown inline (a plot that fails is named in the notes)."""
        from hierarchy.html import report_fragment
        from scenarios.machinery.output import drawn_plots, with_plot_failures

        images, failed = drawn_plots(self.plots)
        return report_fragment(with_plot_failures(self.report, failed), images)


@attrs.frozen
class Scenario:
    """A registered scenario; ``takes``: the run options beyond the common ones it accepts
    (:data:`SWEEP_OPTIONS` for a sweep, empty otherwise)."""

    name: str
    summary: str
    params: type
    default_steps: int
    run: Callable[[RunOptions, Any], ScenarioResult]
    takes: frozenset = frozenset()


SCENARIOS: dict = {}


def scenario(name: str, summary: str, params: type, default_steps: int, takes=frozenset()):
    """Register the decorated ``run(options, params) -> ScenarioResult`` under ``name``.

    Parameters
    ----------
    name, summary : str
        The scenario's name (``mesastack run NAME``) and one-line summary.
    params : type
        Its frozen attrs parameter class (every field with a default; meanings in
        ``metadata={"help": ...}`` via :func:`parameter`, or in :data:`PARAMETER_HELP`).
    default_steps : int
        Steps of a default run.
    takes : iterable of str, optional
        The extra run options it accepts (:data:`SWEEP_OPTIONS` for a sweep).

    Returns
    -------
    callable
        The decorator.

    Examples
    --------
    >>> @attrs.frozen
    ... class P:
    ...     width: int = parameter(3, "hidden width")
    >>> @scenario("demo-only", "a demo", P, default_steps=10)
    ... def run(options, p): ...
    >>> SCENARIOS.pop("demo-only").takes
    frozenset()
    """

    def register(fn):
        SCENARIOS[name] = Scenario(name, summary, params, default_steps, fn, frozenset(takes))
        return fn

    return register


def check_options(spec: Scenario, options: RunOptions) -> None:
    """Refuse the run options ``spec`` does not take (``resume`` on a scenario that is not a sweep, ...).

    Parameters
    ----------
    spec : Scenario
        The scenario to run.
    options : RunOptions
        The options asked for.

    Returns
    -------
    None

    Raises
    ------
    ParameterError
        Naming the first refused option in ``parameter``, in one line.

    Examples
    --------
    >>> spec = Scenario("demo", "", object, 10, lambda o, p: None)
    >>> check_options(spec, RunOptions(resume=True))
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: scenario demo is not a sweep and takes no resume; sweep options apply to sweeps only
    """
    refused = [k for k in options.sweep_options() if k not in spec.takes]
    if refused:
        raise ParameterError(f"scenario {spec.name} is not a sweep and takes no {', '.join(refused)}; sweep options "
                             f"apply to sweeps only", parameter=refused[0])


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
    """Parse a ``--set`` string to the type of the parameter's default (bool, int, float, tuple, str).

    A tuple is comma-separated (``1,2,4``; the empty string is the empty tuple); an empty
    entry (``1,,2``, ``1,2,``) is refused, not skipped.

    Examples
    --------
    >>> convert_param("1, 2,4", (1,), "widths"), convert_param("", (0.5,), "norms")
    ((1, 2, 4), ())
    >>> convert_param("1,,2", (1, 2, 4), "widths")
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: parameter widths = '1,,2' has an empty entry; separate the values by single commas, e.g. --set widths=1,2,4
    """
    if isinstance(default, bool):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ParameterError(f"parameter {name} takes true or false, not {value!r}", parameter=name)
    try:
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, tuple):
            kind = type(default[0]) if default else float
            if not value.strip():
                return ()
            parts = [v.strip() for v in value.split(",")]
            if not all(parts):
                raise ParameterError(f"parameter {name} = {value!r} has an empty entry; separate the values by single "
                                     f"commas, e.g. --set {name}={_shown(default) if default else '1,2,4'}",
                                     parameter=name)
            try:
                return tuple(kind(v) for v in parts)
            except ValueError:
                raise ParameterError(f"parameter {name} = {value!r} is not a list of {kind.__name__} values; give "
                                     f"e.g. --set {name}={_shown(default) if default else '1,2,4'}",
                                     parameter=name) from None
    except ParameterError:
        raise
    except ValueError:
        raise ParameterError(f"parameter {name} = {value!r} is not a valid {type(default).__name__}; give e.g. "
                             f"--set {name}={_shown(default)}", parameter=name) from None
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
            raise ParameterError(f"{owner} has no parameter {key!r}; its parameters are {', '.join(fields)}",
                                 parameter=key)
        changes[key] = convert_param(value, getattr(base, key), key) if isinstance(value, str) else value
    try:
        return attrs.evolve(base, **changes)
    except TypeError as exc:  # an attrs type check, or a comparison of a wrongly typed value
        key = next(iter(changes), "?")
        raise ParameterError(f"{owner}: parameters {', '.join(f'{k}={_shown(v)}' for k, v in changes.items())} are "
                             f"not usable ({exc}); give values of each parameter's type (see `mesastack describe`)",
                             parameter=key) from None


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
    check_options(spec, options)
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
           "scenarios.maze_examples", "scenarios.researcher_agent_subagent", "scenarios.strategy_game",
           "scenarios.harris_digits", "scenarios.icl_gradient_descent"]


#: Meanings of the parameters whose classes do not carry ``metadata={"help": ...}`` (the
#: maze examples, strategy-game, researcher-agent-subagent and compare-definitions share
#: most names): one glossary, keyed by field name, read by :func:`parameter_rows`.
PARAMETER_HELP = {
    # thresholds of the definitions of inner alignment (hierarchy.inner_alignment.Thresholds)
    "impact": "impact-alignment threshold: share of the base objective's optimum the system must reach",
    "capability": "capability threshold of the definitions of inner alignment",
    "similarity": "behavioral-objective similarity threshold (generalization-focused definition)",
    "drop": "largest allowed drop of impact alignment from training to deployment",
    "alpha": "alpha-robust definition: the alignment alpha must stay at least this",
    "alpha_change": "alpha-robust definition: largest allowed relative change of alpha under the shift",
    # populations, mazes and distributions
    "population": "copies of the trained population",
    "train_mazes": "training mazes per copy",
    "eval_mazes": "fresh evaluation mazes per distribution",
    "replicator_eval_mazes": "evaluation mazes of Example 5 (the self-replicator)",
    "irl_mazes": "mazes on which IRL recovers the behavioral objective",
    "irl_steps": "most BFGS steps of the IRL recovery",
    "irl_tol": "IRL stops when every gradient norm is below this",
    "probe_mazes": "conflict mazes of each kind for the reachability classes",
    "size": "side of the square mazes",
    "train_size": "side of the training mazes (Example 5: small ones)",
    "train_exit_visible": "probability that the exit is visible in a training maze",
    "train_extra_green": "decoy green cells per training maze",
    "train_green_by_exit": "green cell by the exit in training: always, never, or a probability",
    "deploy_size": "side of the deployment mazes",
    "deploy_exit_visible": "probability that the exit is visible in a deployment maze",
    "deploy_extra_green": "decoy green cells per deployment maze",
    "deploy_green_by_exit": "green cell by the exit in deployment: always, never, or a probability",
    "larger_by": "the larger deployment variation adds this to the maze side",
    "early_stop": "stop training early by the stated rule (Example 4)",
    "stop_success": "early stopping: training success rate that stops it",
    "stop_min_steps": "early stopping: first step at which the rule may stop",
    "full_training_reference": "also train the same copies to the end, as a reference",
    "similarity_reference": "compare the recovered objective with IRL on the base optimizer (optimizer) or the exit (base)",
    "optimum_tolerance": "tolerance for attaining the mesa-objective's optimum",
    "deploy_planning_horizon": "look-ahead moves of the deployed planners (0: exact planning)",
    "mesa_budget_factor": "budget (x cells moves) of the exact planner on the learned reward",
    "train_steps": "gradient-descent steps of the planners' training",
    "max_discrepancy": "bound of the delegation-product checks",
    # the strategy game
    "episodes": "training episodes per update",
    "eval_episodes": "evaluation episodes per opponent",
    "behavior_threshold": "share of episodes a behavior needs to count as the policy's",
    "outer_threshold": "outer-alignment threshold on the base objective's share",
}


def _shown(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) or "(empty)"
    return str(value)


def parameter_rows(params: type) -> list:
    """(name, default, type, meaning) of every field of a parameter class, for ``mesastack describe``.

    The meaning is the field's ``metadata["help"]`` (:func:`parameter`), else the
    :data:`PARAMETER_HELP` glossary's entry for its name, else ``"(no description)"``.

    Parameters
    ----------
    params : type
        A frozen attrs class whose fields all have defaults.

    Returns
    -------
    list of tuple of str
        One row per field, in field order; defaults written as ``--set`` takes them.

    Examples
    --------
    >>> @attrs.frozen
    ... class P:
    ...     widths: tuple = parameter((1, 2), "hidden widths of the sweep")
    ...     population: int = 4
    >>> parameter_rows(P)
    [('widths', '1,2', 'tuple', 'hidden widths of the sweep'), ('population', '4', 'int', 'copies of the trained population')]
    """
    rows = []
    for f in attrs.fields(params):
        default = f.default.factory() if isinstance(f.default, attrs.Factory) else f.default
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", type(default).__name__)
        meaning = f.metadata.get("help") or PARAMETER_HELP.get(f.name, "(no description)")
        rows.append((f.name, _shown(default), kind, meaning))
    return rows
