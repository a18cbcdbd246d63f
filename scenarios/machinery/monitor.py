"""A live monitor: capability, alignment and the delegation product of a user's own training loop.

The user declares a chain, root first, as (node, objective) pairs, e.g. the intended goal
E_test of a designer -> the base objective L of the base optimizer -> the true objective G
of gradient descent, and calls :meth:`Monitor.record` once per step of their own loop. Each
record costs O(1) amortized: the values go into preallocated buffers ``[J, K, capacity]``
(J objectives, K copies) that double when full, and into the CSV / TensorBoard streams
(:mod:`scenarios.machinery.monitor_streams`). Nothing is estimated while recording.

The figures are computed on demand from the stored values, by the framework's own path
and nothing else: the values become a :class:`~hierarchy.trajectory.Trajectory` (index t
the t-th record), the chain a real :class:`~hierarchy.graph.DelegationGraph` whose leaf
replays it (:class:`~scenarios.common.graph_runs.RecordedRun`, ``deterministic = True``),
and :func:`hierarchy.measure.measure` gives capability (Definition 1), alignment per edge
(Definition 2) and the delegation product check, C_root = (prod of alignments) * C_leaf,
with the estimator's errors. :meth:`Monitor.result` runs the same graph through
:func:`~scenarios.machinery.api.run_hierarchy`, so the report and files are those of
``mesastack run``. The estimators see the records, not the user's step numbers: every record
weighs the same, so records should be evenly spaced (the report says how they were).

Divergence, as in every leaf (:mod:`hierarchy.trajectory`): a copy with a value that is not
finite (NaN, inf) at record t is diverged at t, and all its values from t on are stored as
NaN; it enters no figure.
"""

from __future__ import annotations

import attrs
import numpy as np

from hierarchy.capability import check_estimator
from hierarchy.errors import GraphError, MesastackError, ObjectiveError, ParameterError
from hierarchy.estimator import Estimator
from hierarchy.graph import DelegationGraph, OptimizerNode
from hierarchy.measure import measure
from hierarchy.objective import Objective
from hierarchy.run import run_graph
from hierarchy.trajectory import Trajectory

from scenarios.common.graph_runs import RecordedRun
from scenarios.machinery.monitor_buffer import RecordBuffer
from scenarios.machinery.monitor_streams import CsvStream, TensorBoardStream

__all__ = ["Monitor"]


def _level(entry, i: int) -> OptimizerNode:
    if isinstance(entry, (str, bytes)) or not isinstance(entry, (tuple, list)) or len(entry) not in (2, 3):
        raise ParameterError(f"chain[{i}]={entry!r}; give (node name, objective) or (node name, objective, role), "
                             f"e.g. ('gd', 'G')", parameter="chain")
    name, objective, role = (*entry, "")[:3]
    if isinstance(objective, str):
        try:
            objective = Objective(objective)
        except ObjectiveError as exc:
            raise ParameterError(f"chain[{i}]: {exc}", parameter="chain") from None
    if not isinstance(objective, Objective):
        raise ParameterError(f"chain[{i}] holds objective {objective!r}; give its name or a hierarchy.Objective",
                             parameter="chain")
    if not objective.recorded:
        raise ParameterError(f"chain[{i}]: objective {objective.name!r} is evaluated on states, which a monitor never "
                             f"sees; record its values and declare Objective({objective.name!r}) without evaluate",
                             parameter="chain")
    try:
        return OptimizerNode(name, objective, role=str(role))
    except GraphError as exc:
        raise ParameterError(f"chain[{i}]: {exc}", parameter="chain") from None


def _levels(chain) -> tuple:
    try:
        entries = list(chain)
    except TypeError:
        raise ParameterError(f"chain={chain!r}; give a list of (node name, objective) pairs, root first",
                             parameter="chain") from None
    if len(entries) < 2:
        raise ParameterError(f"chain has {len(entries)} level(s); declare at least two, root first, e.g. "
                             f"[('designer', 'L'), ('gd', 'G')]", parameter="chain")
    nodes = tuple(_level(e, i) for i, e in enumerate(entries))
    names = [n.name for n in nodes]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ParameterError(f"chain names node(s) {', '.join(map(repr, twice))} twice; give every level its own "
                             f"name", parameter="chain")
    return nodes


def _count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"{name}={value!r} must be a positive integer", parameter=name)
    return int(value)


class Monitor:
    """Capability, alignment and the delegation product of a training loop, recorded step by step.

    Parameters
    ----------
    chain : sequence of (str, str or Objective[, str])
        The levels, root first: (node name, objective[, role]); two or more levels. An
        Objective value carries a description and a ``lower_bound`` (0 for a gradient size).
    estimator : Estimator, optional
        The capability estimator of every figure (:class:`~hierarchy.estimator.Estimator`).
    copies : int, optional
        K: values are scalars (K = 1) or length-K arrays / tensors.
    csv : str or path-like, optional
        A CSV file: one row per record (:class:`~scenarios.machinery.monitor_streams.CsvStream`).
    tensorboard : str or path-like, optional
        A TensorBoard log folder: the objectives every ``tensorboard_every`` records, the figures
        every ``summary_every``.
    name : str, optional
        The report's name.
    seed : int, optional
        The seed of the user's run, for the report (the monitor itself draws nothing).
    extra : sequence of str, optional
        Objectives recorded beyond the chain's (held-out accuracy, ...): each gets its capability.
    summary_every : int, optional
        Records between the figures written to TensorBoard, and at least a tenth of the records
        so far: each costs a :meth:`measurements`, O(T) (about 15 ms at 10,000 records, 70 ms at
        100,000 on one core), so the spacing max(summary_every, T / 10) keeps the cost per
        record bounded (below 10 us).
    tensorboard_every : int, optional
        Records between the objectives' scalars written to TensorBoard (one scalar costs about
        25 us; TensorBoard shows about 1,000 points per curve in any case).
    step_unit : str, optional
        What one record is, for the report (default: from the spacing of the steps).

    Raises
    ------
    ParameterError
        When the chain has fewer than two levels, names a node twice, or an argument is unusable.
    OutputError
        When the CSV file or the TensorBoard folder cannot be written.

    Examples
    --------
    >>> mon = Monitor([("designer", "L"), ("gd", "G")], Estimator("finite"))
    >>> for t in range(50):
    ...     g = 0.5 ** t
    ...     mon.record(t, L=2 * g + 1, G=g)
    >>> round(mon.alignment("designer", "gd").alignment.median, 12)
    2.0
    >>> len(mon), mon.product().discrepancy < 1e-12
    (50, True)
    """

    def __init__(self, chain, estimator: Estimator = Estimator(), copies: int = 1, csv=None, tensorboard=None, *,
                 name: str = "monitor", seed=None, extra=(), summary_every: int = 5000, tensorboard_every: int = 10, step_unit=None):
        self.levels = _levels(chain)
        self.estimator = check_estimator(estimator)
        self.K = _count(copies, "copies")
        self.summary_every = _count(summary_every, "summary_every")
        self.tensorboard_every = _count(tensorboard_every, "tensorboard_every")
        self._next_figures = max(self.summary_every, 2)
        if not isinstance(name, str) or not name:
            raise ParameterError(f"name={name!r}; give the report a non-empty name such as 'monitor'", parameter="name")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ParameterError(f"seed={seed!r} must be a non-negative integer or None", parameter="seed")
        self.name, self.seed, self.step_unit = name, seed, step_unit
        extra = (extra,) if isinstance(extra, str) else tuple(extra)
        for e in extra:
            try:
                Objective(e)
            except ObjectiveError as exc:
                raise ParameterError(f"extra: {exc}", parameter="extra") from None
        names = list(dict.fromkeys([n.objective.name for n in self.levels] + list(extra)))
        if "step" in names:
            raise ParameterError("an objective named 'step' would clash with record(step, ...); rename it",
                                 parameter="chain")
        self.objectives = tuple(names)
        self.buffer = RecordBuffer(self.objectives, self.K)
        self._graph_of(Trajectory({o: np.zeros((self.K, 1)) for o in self.objectives}))  # the chain is a valid graph
        self._cache = (-1, None)
        self.closed = False
        self._csv = self._board = None
        try:
            if csv is not None:
                self._csv = CsvStream(csv, self.buffer)
            if tensorboard is not None:
                self._board = TensorBoardStream(tensorboard, self.objectives)
        except MesastackError:
            self.close()
            raise

    # ---- recording -------------------------------------------------------------------
    def record(self, step, **values) -> None:
        """Store the values of one step: every recorded objective, by name (O(1) amortized).

        Parameters
        ----------
        step : int
            The step, strictly greater than the previous record's.
        **values : float, 0-d tensor, array [K] or tensor [K]
            One value per copy of every objective of the chain (and ``extra``); NaN or inf
            marks the copy diverged from this record on.

        Raises
        ------
        ParameterError
            For a closed monitor, a step that is not an integer or does not increase, an
            unknown or missing objective, or values that are not K numbers; nothing is
            stored then (:class:`~scenarios.machinery.monitor_buffer.RecordBuffer`).

        Examples
        --------
        >>> mon = Monitor([("designer", "L"), ("gd", "G")], copies=2)
        >>> mon.record(0, L=[2.0, 3.0], G=np.array([1.0, float("nan")]))
        >>> mon.diverged_at.tolist(), mon.values("L").tolist()
        ([-1, 0], [[2.0], [nan]])
        >>> mon.record(1, L=[1.0, 1.0])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        hierarchy.errors.ParameterError: record(step=1) is missing G; give every recorded objective at every record: ...
        """
        if self.closed:
            raise ParameterError(f"record(step={step!r}) on a closed monitor; record before close() or make a new "
                                 f"Monitor", parameter="step")
        self.buffer.append(step, values)
        if self._csv is not None:
            self._csv.tick()
        if self._board is not None:
            n, step = len(self.buffer), self.buffer.last_step
            if n % self.tensorboard_every == 1 or self.tensorboard_every == 1:
                self._board.write(step, self.buffer.column())
            if n >= self._next_figures:  # spaced max(summary_every, n / 10) apart: a bounded cost per record
                self._next_figures = n + max(self.summary_every, n // 10)
                self._board.figures(step, self.measurements())

    # ---- what is stored --------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.buffer)

    @property
    def steps(self) -> np.ndarray:
        """The recorded steps [T] (a copy).

        Examples
        --------
        >>> mon = Monitor([("a", "L"), ("b", "G")]); mon.record(3, L=1.0, G=1.0); mon.steps.tolist()
        [3]
        """
        return self.buffer.steps

    @property
    def diverged_at(self) -> np.ndarray:
        """Per copy, the record index at which it diverged, -1 for none (a copy).

        Examples
        --------
        >>> Monitor([("a", "L"), ("b", "G")], copies=3).diverged_at.tolist()
        [-1, -1, -1]
        """
        return self.buffer.diverged_at

    def values(self, objective: str) -> np.ndarray:
        """The stored values of ``objective`` [K, T] (a copy; NaN from each copy's divergence on).

        Parameters
        ----------
        objective : str
            A recorded objective.

        Returns
        -------
        numpy.ndarray [K, T]

        Raises
        ------
        ParameterError
            When the monitor does not record ``objective``.

        Examples
        --------
        >>> mon = Monitor([("a", "L"), ("b", "G")]); mon.record(0, L=2.0, G=1.0); mon.values("G").tolist()
        [[1.0]]
        """
        return self.buffer.values(objective)

    def trajectory(self) -> Trajectory:
        """The records as a :class:`~hierarchy.trajectory.Trajectory`: index t the t-th record.

        Returns
        -------
        Trajectory
            Every recorded objective [K, T], ``diverged_at``, the steps in ``meta["steps"]``.

        Raises
        ------
        ParameterError
            Before the first record.

        Examples
        --------
        >>> mon = Monitor([("a", "L"), ("b", "G")]); mon.record(0, L=2.0, G=1.0); mon.record(1, L=1.0, G=0.5)
        >>> mon.trajectory().T
        2
        """
        return self.buffer.trajectory({"source": "scenarios.machinery.monitor.Monitor"})

    def _unit(self) -> str:
        return str(self.step_unit) if self.step_unit is not None else self.buffer.spacing()

    def _graph_of(self, trajectory: Trajectory) -> DelegationGraph:
        leaf = attrs.evolve(self.levels[-1], leaf=RecordedRun(trajectory, self._unit()))
        try:
            return DelegationGraph.chain(*self.levels[:-1], leaf)
        except GraphError as exc:
            raise ParameterError(f"chain: {exc}", parameter="chain") from None

    # ---- figures ---------------------------------------------------------------------
    def _runs(self) -> tuple:
        if len(self.buffer) < 2:
            raise ParameterError(f"the monitor has {len(self.buffer)} record(s); figures need at least 2 (the start "
                                 f"and one step): call record() again first", parameter="step")
        graph = self._graph_of(self.trajectory())
        return graph, run_graph(graph, len(self.buffer) - 1)

    def measurements(self):
        """Every figure of the records so far, as :func:`hierarchy.measure.measure` gives them.

        Capability C of every recorded objective (Definition 1), alignment alpha = C(base) /
        C(mesa) of every edge (Definition 2), and the check C_root = (prod alpha) * C_leaf,
        all under the monitor's estimator with their errors; cached until the next record.

        Returns
        -------
        hierarchy.measure.Measurements

        Raises
        ------
        ParameterError
            With fewer than 2 records.

        Examples
        --------
        >>> mon = Monitor([("designer", "L"), ("gd", "G")], Estimator("finite"))
        >>> mon.record(0, L=3.0, G=1.0); mon.record(1, L=1.0, G=0.0)
        >>> mon.measurements().capability("gd", "L").capability.median
        1.0
        """
        n, cached = self._cache
        if n != len(self.buffer):
            graph, runs = self._runs()
            cached = measure(graph, runs, self.estimator)
            self._cache = (len(self.buffer), cached)
        return cached

    def capability(self, objective: str):
        """The figure C(objective) on the chain (Definition 1): C = lim (1/T) sum_t [L(0) - L(t)].

        Parameters
        ----------
        objective : str
            A recorded objective.

        Returns
        -------
        hierarchy.figures.CapabilityFigure

        Raises
        ------
        ParameterError
            With fewer than 2 records.
        NotFoundError
            When the monitor records no such objective.

        Examples
        --------
        >>> mon = Monitor([("designer", "L"), ("gd", "G")], Estimator("finite"))
        >>> mon.record(0, L=3.0, G=1.0); mon.record(1, L=1.0, G=0.0)
        >>> mon.capability("G").capability.median
        0.5
        """
        return self.measurements().capability(self.levels[-1].name, objective)

    def alignment(self, parent: str, child: str):
        """The figure alpha of the edge parent -> child (Definition 2): alpha = C(L_parent) / C(L_child).

        Parameters
        ----------
        parent, child : str
            Adjacent levels of the chain.

        Returns
        -------
        hierarchy.figures.AlignmentFigure

        Raises
        ------
        ParameterError
            With fewer than 2 records.
        NotFoundError
            When parent -> child is not an edge of the chain.

        Examples
        --------
        >>> mon = Monitor([("designer", "L"), ("gd", "G")], Estimator("finite"))
        >>> mon.record(0, L=3.0, G=1.0); mon.record(1, L=1.0, G=0.0)
        >>> mon.alignment("designer", "gd").alignment.median
        2.0
        """
        return self.measurements().alignment(parent, child)

    def product(self):
        """The delegation-product check of the chain: C_root against (prod alpha) * C_leaf.

        Returns
        -------
        hierarchy.figures.ProductFigure

        Raises
        ------
        ParameterError
            With fewer than 2 records.

        Examples
        --------
        >>> mon = Monitor([("designer", "L"), ("gd", "G")], Estimator("finite"))
        >>> mon.record(0, L=3.0, G=1.0); mon.record(1, L=1.0, G=0.0)
        >>> mon.product().direct.median, mon.product().discrepancy
        (1.0, 0.0)
        """
        return self.measurements().products[0]

    def summary(self) -> str:
        """One line for a training loop: C of each level's objective, alpha of each edge, with errors.

        Returns
        -------
        str
            ``"step s (T records): C(L) x ±e, ... | alpha a->b x ±e, ..."``, and how many copies
            diverged; before 2 records, only the count.

        Examples
        --------
        >>> mon = Monitor([("designer", "L"), ("gd", "G")], Estimator("finite"))
        >>> mon.summary()
        'no record yet'
        >>> mon.record(0, L=3.0, G=1.0); mon.record(1, L=1.0, G=0.0)
        >>> mon.summary()
        'step 1 (2 records): C(L) 1 ±0, C(G) 0.5 ±0 | alpha designer->gd 2 ±0'
        """
        if len(self.buffer) < 2:
            return "no record yet" if not len(self.buffer) else \
                f"step {self.buffer.last_step} (1 record): figures need 2 records"
        m, leaf = self.measurements(), self.levels[-1].name
        objectives = list(dict.fromkeys(n.objective.name for n in self.levels))
        caps = ", ".join(f"C({o}) {m.capability(leaf, o).capability}" for o in objectives)
        aligns = ", ".join(f"alpha {a.name}->{b.name} {m.alignment(a.name, b.name).alignment}"
                           for a, b in zip(self.levels[:-1], self.levels[1:]))
        dead = int((self.buffer.diverged_at >= 0).sum())
        tail = f" | {dead} of {self.K} copies diverged" if dead else ""
        return f"step {self.buffer.last_step} ({len(self.buffer)} records): {caps} | {aligns}{tail}"

    def result(self, claims=(), horizon=None):
        """The report, graph, arrays and plots of the records, as ``mesastack run`` gives them.

        The chain's graph (its leaf replaying the records) runs through
        :func:`~scenarios.machinery.api.run_hierarchy`: the same measurements, the
        delegation-product claim, ``claims`` decided on the figures; the recorded steps ride
        along as ``extra/steps``. ``result().write(out)`` writes report.json,
        trajectories.npz, the graph exports and the plots.

        Parameters
        ----------
        claims : sequence, optional
            Claims, or functions ``measurements -> Claim``.
        horizon : int, optional
            The strong-alignment horizon, as ``run_hierarchy`` takes it.

        Returns
        -------
        scenarios.machinery.registry.ScenarioResult

        Raises
        ------
        ParameterError
            With fewer than 2 records, or claims / horizon that ``run_hierarchy`` refuses.

        Examples
        --------
        >>> mon = Monitor([("designer", "L"), ("gd", "G")], Estimator("finite"), name="demo")
        >>> for t in range(20):
        ...     mon.record(t, L=3 * 0.5 ** t + 1, G=0.5 ** t)
        >>> r = mon.result(); r.report.scenario, sorted(r.arrays)
        ('demo', ['extra/steps', 'gd/G', 'gd/L'])
        """
        from scenarios.machinery.api import run_hierarchy

        graph, _ = self._runs()
        res = run_hierarchy(graph, len(self.buffer) - 1, 0 if self.seed is None else int(self.seed), self.estimator,
                            name=self.name, claims=claims, horizon=horizon, progress=False, check=False)
        note = (f"recorded live by scenarios.machinery.monitor.Monitor: {len(self.buffer)} records of the user's own "
                f"loop, steps "
                f"{int(self.buffer.steps[0])} to {self.buffer.last_step}, one {self._unit()} per record")
        choices = {**res.report.choices, "recording": "live monitor (every record weighs the same)"}
        if self.seed is None:
            choices["seed"] = "not given (the user's own run)"
        report = attrs.evolve(res.report, choices=choices, notes=tuple(res.report.notes) + (note,))
        return attrs.evolve(res, report=report, arrays={**res.arrays, "extra/steps": self.steps})

    def report(self, claims=()):
        """The :class:`~hierarchy.report.Report` of :meth:`result`.

        Parameters
        ----------
        claims : sequence, optional
            As :meth:`result` takes them.

        Returns
        -------
        hierarchy.report.Report

        Examples
        --------
        >>> mon = Monitor([("designer", "L"), ("gd", "G")], Estimator("finite"))
        >>> mon.record(0, L=3.0, G=1.0); mon.record(1, L=1.0, G=0.0)
        >>> mon.report().max_discrepancy
        0.0
        """
        return self.result(claims).report

    # ---- streams ---------------------------------------------------------------------
    def close(self) -> None:
        """Write what the streams hold and close them; the figures stay available (again: nothing).

        Examples
        --------
        >>> mon = Monitor([("a", "L"), ("b", "G")]); mon.close(); mon.closed
        True
        """
        for s in (self._csv, self._board):
            if s is not None:
                s.close()
        self.closed = True

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
