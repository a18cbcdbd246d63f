"""The one training loop: a step function, an optimizer value, K copies at once.

Each step t = 0 .. steps the loop calls the user's step function at the current
parameters, records the base objective L and the true objectives of gradient descent
(definitions.md, "The true objective of gradient descent")

    G(t)  = sum_i (dL/dtheta_i)^2      G1(t) = sum_i |dL/dtheta_i|

(and the step function's own per-copy records), and, for t < steps, applies the
optimizer's update to every active copy. Index t of every record is the state after t
updates (index 0 the start; the last index costs one more evaluation).

Divergence: a copy whose L or G (L alone with ``record_true=False``) is not finite at step
t becomes inactive: its update is masked from then on (its parameters stay put; no other
copy is touched), ``diverged_at[k] = t`` and all its values from t on are NaN. A copy a
``stop`` rule halts is inactive too, but keeps its values (``stopped_at[k] = t``).

Runaway: a copy whose base objective grows without overflowing (a too-large learning rate
on a stable log-sum-exp drives L to 1e300 and beyond, every value finite) is diverged the
same way, by the stated rule (:func:`divergence_rule`, ``runaway`` = R)

    L_k(t) > L_k(0) + R * max(|L_k(0)|, 1)

R = :data:`RUNAWAY` = 1e4 by default: four orders of magnitude of the start's own scale
(the floor 1 keeps an objective that starts near 0 from being killed by rounding). No
default run comes near it: the largest rise of a default run is 3.8 x max(|L(0)|, 1)
(strategy-game's troop objective); capacity's widths 128 and 256, unstable at the start
with learning rate 1, rise by 0.65 x; a cross-entropy that rises 1e4 times its start
needs logits of that size, far past any transient. Only a rise counts: an objective that
falls without bound is progress (it is caught as overflow if it leaves the floats).
``runaway=None`` keeps only the overflow rule.
"""

from __future__ import annotations

import copy
import math
from typing import Callable, Mapping, Optional

import attrs
import numpy as np
import torch

from hierarchy.errors import LeafError, ParameterError
from hierarchy.memory import check_memory
from hierarchy.trajectory import Trajectory

from agents.training.transform import GradientTransformation, StepInfo, mask_updates, materialize

__all__ = ["train", "train_blocks", "TrainResult", "PROGRESS_EVERY", "RUNAWAY", "divergence_rule"]

#: ``progress`` is called after every this many steps (and after the last one).
PROGRESS_EVERY = 100

#: The names of the true objectives the loop records from the gradient.
TRUE_OBJECTIVES = ("G", "G1")

#: Default runaway factor R of :func:`train` (module docstring, "Runaway").
RUNAWAY = 1e4


def divergence_rule(runaway: Optional[float] = RUNAWAY, base: str = "L", record_true: bool = True) -> str:
    """The divergence rule of :func:`train` in words (stored in a trajectory's meta as ``"divergence"``).

    Parameters
    ----------
    runaway : float or None
        The runaway factor R (None: overflow only).
    base : str
        The base objective's name.
    record_true : bool
        Whether G is watched for overflow too.

    Returns
    -------
    str

    Examples
    --------
    >>> divergence_rule()
    'diverged: L or G not finite, or L(t) > L(0) + 10000 * max(|L(0)|, 1) (runaway)'
    >>> divergence_rule(None, record_true=False)
    'diverged: L not finite'
    """
    watched = f"{base} or G" if record_true else base
    rule = f"diverged: {watched} not finite"
    if runaway is not None:
        rule += f", or {base}(t) > {base}(0) + {runaway:g} * max(|{base}(0)|, 1) (runaway)"
    return rule


def _check_runaway(runaway) -> Optional[float]:
    if runaway is None:
        return None
    if isinstance(runaway, bool) or not isinstance(runaway, (int, float, np.integer, np.floating)) \
            or not runaway > 0 or math.isnan(runaway):
        raise ParameterError(f"runaway={runaway!r}; give a positive factor such as {RUNAWAY:g}, or None for overflow only",
                             parameter="runaway")
    return None if math.isinf(runaway) else float(runaway)


@attrs.frozen(eq=False)
class TrainResult:
    """What :func:`train` returns.

    Parameters
    ----------
    values : dict
        name -> [K, steps + 1] float64: the base objective (``"L"``), ``"G"`` and ``"G1"``
        (with ``record_true``), and the step function's records.
    diverged_at : numpy.ndarray
        [K] int64: the first step with a non-finite L or G, -1 for none.
    stopped_at : numpy.ndarray
        [K] int64: the step at which ``stop`` halted the copy, -1 for none.
    params : numpy.ndarray
        [K, P] float64: the final parameters.
    state : object
        The optimizer's final state.
    divergence : str
        The divergence rule the run applied (:func:`divergence_rule`).

    Examples
    --------
    >>> r = TrainResult({"L": np.ones((2, 3))}, np.full(2, -1), np.full(2, -1), np.zeros((2, 1)), None)
    >>> r.trajectory().T
    3
    """

    values: dict
    diverged_at: np.ndarray
    stopped_at: np.ndarray
    params: np.ndarray
    state: object = None
    divergence: str = divergence_rule()

    def trajectory(self, meta: Optional[dict] = None, copy_meta: Optional[dict] = None) -> Trajectory:
        """The values as a :class:`hierarchy.trajectory.Trajectory` ([K, T] arrays, ``diverged_at``, ``meta``).

        Parameters
        ----------
        meta : dict, optional
            Run-level facts to attach (``"divergence"``, the rule applied, is added unless given).
        copy_meta : dict, optional
            Per-copy facts (arrays with first axis K), sliced by ``Trajectory.select``; the
            final parameters are added as ``final_parameters`` unless given.

        Returns
        -------
        Trajectory

        Examples
        --------
        >>> r = TrainResult({"L": np.ones((1, 2))}, np.array([-1]), np.array([-1]), np.zeros((1, 1)))
        >>> tr = r.trajectory({"lr": 0.1})
        >>> tr.meta, tr.copy_meta["final_parameters"].shape
        ({'lr': 0.1, 'divergence': 'diverged: L or G not finite, or L(t) > L(0) + 10000 * max(|L(0)|, 1) (runaway)'}, (1, 1))
        """
        per_copy = {"final_parameters": self.params, **dict(copy_meta or {})}
        meta = {**dict(meta or {})}
        meta.setdefault("divergence", self.divergence)
        return Trajectory(self.values, diverged_at=self.diverged_at, meta=meta, copy_meta=per_copy)


def _as_params(params) -> torch.Tensor:
    if isinstance(params, torch.Tensor):
        p = params
    else:
        p = torch.from_numpy(np.array(params, dtype=np.float64))
    if p.dim() != 2 or p.shape[0] < 1 or p.shape[1] < 1:
        raise ParameterError(f"params of shape {tuple(p.shape)}; give flat per-copy parameters [K, P]")
    if not p.is_floating_point():
        raise ParameterError(f"params of dtype {p.dtype}; give float32 or float64 parameters")
    return p


def train(
    step: Callable,
    params,
    optimizer: GradientTransformation,
    steps: int,
    *,
    record_true: bool = True,
    base: str = "L",
    active=None,
    stop: Optional[Callable] = None,
    progress: Optional[Callable[[int], None]] = None,
    progress_every: int = PROGRESS_EVERY,
    donate_grad: bool = False,
    loss_buffer: bool = False,
    runaway: Optional[float] = RUNAWAY,
    record_update: bool = False,
) -> TrainResult:
    """Train K copies with ``optimizer``, recording L, G and G1 every step (module docstring).

    theta_{t+1} = theta_t + u_t, with (u_t, state) = optimizer.update(grad L(theta_t), state, theta_t, info_t)
    and u_t masked to zero for inactive copies.

    Parameters
    ----------
    step : callable
        ``step(params, t) -> (loss, grad)`` or ``(loss, grad, records)``: the base objective
        L [K] and its gradient [K, P] at ``params`` (torch tensors; buffers the step function
        reuses are fine: the loop copies L and never writes into ``grad``), and optionally
        a mapping name -> [K] of extra per-copy values to record.
    params : torch.Tensor or array-like
        Starting parameters [K, P]. A tensor is updated in place (a step function may hold
        views of it, as ``PopulationMLP`` does); an array is copied into a float64 tensor.
    optimizer : GradientTransformation
        E.g. ``sgd(0.1)``, ``adam(1e-3)``, ``chain(clip_by_global_norm(1.0), momentum(0.1))``.
    steps : int
        Number of updates (steps + 1 evaluations).
    record_true : bool
        Record G and G1 (False: only L and the step's records).
    base : str
        The name L is recorded under.
    active : array-like of bool, optional
        [K]: copies that move (default all); the others are frozen from the start.
    stop : callable, optional
        ``stop(t, loss, records) -> bool [K]``: copies to halt after step t's evaluation
        (they keep their parameters and values; ``stopped_at[k] = t``).
    progress : callable, optional
        Called with the number of steps done, every ``progress_every`` steps and after the last.
    progress_every : int
        See ``progress``.
    donate_grad : bool
        The step function gives up its gradient buffer after each update (it writes a fresh
        gradient every call, as ``PopulationMLP`` does): the loop then takes |g| for G1 in
        place, after the update, instead of in a [K, P] buffer of its own (the same numbers,
        one buffer less). Give it only when no transformation keeps a reference to the gradient
        past its step (none of this package's does).
    loss_buffer : bool
        Call ``step(params, t, loss_out)`` with ``loss_out`` the loop's own [K] record of
        step t: a step function that writes L there and returns it saves a copy per step.
    runaway : float or None
        The runaway factor R (module docstring); None: overflow only.
    record_update : bool
        Also record U(t) = |theta_{t+1} - theta_t|^2, the squared size of the update taken
        from the state after t updates (index ``steps``: the update the optimizer would take
        next, computed on a copy of its state, at the last learning rate when rates are given
        per step and none exists for step ``steps``): the true objective common to every optimizer
        (:mod:`agents.training.true_objectives`).

    With ``record_true``, an optimizer that carries a true objective of its own
    (``optimizer.true_objective``: momentum's ``G_momentum``, Adam's ``G_adam``, ...) has it
    recorded under its name too, evaluated on the optimizer's state after step t's update
    (index ``steps`` on a copy of the state, as U).

    Returns
    -------
    TrainResult
        ``values`` [K, steps + 1] per name, ``diverged_at``, ``stopped_at``, final ``params``
        [K, P] (float64 numpy) and the optimizer's final state.

    Raises
    ------
    ParameterError
        When ``steps`` is not a positive integer, ``params`` is not [K, P], ``optimizer`` is
        not a GradientTransformation, ``active`` is not K booleans, ``runaway`` is not a
        positive factor, or the records of ``steps`` steps cannot fit in memory
        (:func:`hierarchy.memory.check_memory`).
    LeafError
        When the step function returns a loss, gradient or record of the wrong shape, or a
        record named like one the loop keeps.

    Examples
    --------
    Gradient descent on L = |theta|^2 / 2 for two copies (the gradient is theta):

    >>> from agents.training.optimizers import sgd
    >>> def step(p, t):
    ...     return 0.5 * (p ** 2).sum(1), p.clone()
    >>> r = train(step, np.array([[1.0], [2.0]]), sgd(0.5), 2)
    >>> r.values["L"].tolist(), r.params.tolist()
    ([[0.5, 0.125, 0.03125], [2.0, 0.5, 0.125]], [[0.25], [0.5]])
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ParameterError(f"steps={steps!r}; give a positive integer number of steps")
    if not isinstance(optimizer, GradientTransformation):
        raise ParameterError(f"optimizer={optimizer!r}; give a GradientTransformation such as sgd(0.1) or adam(1e-3)")
    runaway = _check_runaway(runaway)
    if isinstance(progress_every, bool) or not isinstance(progress_every, (int, np.integer)) or progress_every < 1:
        raise ParameterError(f"progress_every={progress_every!r}; give a positive integer such as 100")
    steps = int(steps)
    theta = _as_params(params)
    K, P = theta.shape
    dt, dev = theta.dtype, theta.device
    inactive = None
    if active is not None:
        a = np.asarray(active)
        if a.shape != (K,) or a.dtype != np.bool_:
            raise ParameterError(f"active has shape {a.shape} and dtype {a.dtype}; give {K} booleans, one per copy")
        if not a.all():
            inactive = torch.from_numpy(~a).to(dev)
    true = optimizer.true_objective if record_true else None
    opt_names = ((true.name,) if true is not None else ()) + (("U",) if record_update else ())
    names = (base,) + (TRUE_OBJECTIVES if record_true else ()) + opt_names
    if len(set(names)) != len(names):
        raise ParameterError(f"base={base!r} is the name of a true objective; name the base objective something else, such as 'L'")

    # per step, rows L, |grad|_2, |grad|_1 side by side (one sum checks L and G together;
    # G = |grad|_2^2 is squared after the loop); views made once, not per step
    n_rec = 3 if record_true else 1
    check_memory((steps + 1.0) * K * n_rec * (theta.element_size() + 16),
                 f"the records of {steps + 1} steps x {K} copies x {n_rec} objectives", "run fewer steps or fewer copies",
                 parameter="steps")
    rec = torch.empty(steps + 1, n_rec, K, dtype=dt, device=dev)
    L_rows, watched_rows = rec[:, 0].unbind(0), rec[:, :2].unbind(0)
    G_rows = rec[:, 1].unbind(0) if record_true else None
    G1_rows = rec[:, 2].unbind(0) if record_true else None
    scratch = torch.empty(K, P, dtype=dt, device=dev) if record_true and not donate_grad else None
    g1_in_place = record_true and scratch is None
    limit, excess = None, None  # the runaway bound L(0) + R max(|L(0)|, 1) [K], set after step 0
    extra_names, extra = None, None
    stopped_at = np.full(K, -1, dtype=np.int64)
    state = optimizer.init(theta)
    update = optimizer.update
    # the optimizer's own true objective and U: rows [steps + 1, n, K], filled after each update
    opt_rec = torch.empty(steps + 1, len(opt_names), K, dtype=dt, device=dev) if opt_names else None
    u_buf = torch.empty(K, P, dtype=dt, device=dev) if record_update else None

    def record_optimizer(t, updates, st, g):
        row = opt_rec[t]
        i = 0
        if true is not None:
            row[0].copy_(true.value(st, g, theta))
            i = 1
        if record_update:
            torch.linalg.vector_norm(materialize(updates, u_buf), 2, dim=1, out=row[i]).square_()

    with torch.no_grad():
        for t in range(steps + 1):
            L = L_rows[t]
            out = step(theta, t, L) if loss_buffer else step(theta, t)
            loss, grad = out[0], out[1]
            if t == 0:
                _check_step(out, K, P)
            if loss is not L:
                L.copy_(loss)
            if t == 0 and runaway is not None:
                limit = L.abs().clamp_min(1.0).mul_(runaway).add_(L)
                excess = torch.empty_like(limit)
            if record_true:
                torch.linalg.vector_norm(grad, 2, dim=1, out=G_rows[t])
                if scratch is not None:
                    torch.sum(torch.abs(grad, out=scratch), 1, out=G1_rows[t])
            if len(out) > 2 and out[2]:
                if extra is None:
                    extra_names = tuple(out[2])
                    clash = [n for n in extra_names if n in names]
                    if clash:
                        raise LeafError(f"the step function records {clash[0]!r}, a name the loop keeps; rename that record")
                    extra = torch.empty(steps + 1, len(extra_names), K, dtype=torch.float64, device=dev)
                row = extra[t]
                for i, n in enumerate(extra_names):
                    row[i].copy_(torch.as_tensor(out[2][n]))
            if stop is not None:
                halt = _host_bools(stop(t, L, None if extra is None else dict(zip(extra_names, extra[t]))))
                newly = halt & (stopped_at < 0)
                if newly.any():
                    stopped_at[newly] = t
                    h = torch.from_numpy(newly).to(dev)
                    inactive = h if inactive is None else inactive | h
            if t == steps:
                if opt_rec is not None:  # the step the optimizer would take next, on a copy of its state
                    g = grad if inactive is None else grad.masked_fill(inactive.unsqueeze(1), 0.0)
                    try:
                        u, st = update(((g, 1.0, None),), copy.deepcopy(state), theta, StepInfo(t, L, inactive))
                    except IndexError:  # a learning rate given per step has none for step `steps`: the last one
                        u, st = update(((g, 1.0, None),), copy.deepcopy(state), theta, StepInfo(t - 1, L, inactive))
                    record_optimizer(t, mask_updates(u, inactive), st, grad)
                if g1_in_place:
                    torch.sum(grad.abs_(), 1, out=G1_rows[t])
                break
            # L, |grad| >= 0: their total is finite exactly when every one is (barring an
            # overflow of the sum, which only sends us down the exact path below)
            watched = watched_rows[t]  # L and |grad|_2 (L alone without record_true)
            if not math.isfinite(float(watched.sum())):
                bad = torch.isfinite(watched).all(0).logical_not_()
                if bool(bad.any()):
                    inactive = bad if inactive is None else inactive | bad
            if limit is not None and float(torch.sub(L, limit, out=excess).max()) > 0:  # a runaway: frozen like an overflow
                over = L > limit
                inactive = over if inactive is None else inactive | over
            raw = grad
            if inactive is not None:
                grad = grad.masked_fill(inactive.unsqueeze(1), 0.0)  # no NaN enters the optimizer's state
            updates, state = update(((grad, 1.0, None),), state, theta, StepInfo(t, L, inactive))
            if inactive is not None:
                updates = mask_updates(updates, inactive)
            if opt_rec is not None:
                record_optimizer(t, updates, state, raw)
            for d, v, c in updates:  # apply_updates, inline: this runs every step
                if c is None:
                    theta.add_(d, alpha=v)
                else:
                    theta.addcmul_(d, c, value=v)
            if g1_in_place:  # the donated gradient is spent: |g| in place for G1
                torch.sum(raw.abs_(), 1, out=G1_rows[t])
            if progress is not None and ((t + 1) % progress_every == 0 or t + 1 == steps):
                progress(t + 1)

    return _finish(rec, base, record_true, limit, theta, stopped_at, state, runaway, opt_rec, opt_names,
                   extra, extra_names)


def _finish(rec, base, record_true, limit, theta, stopped_at, state, runaway, opt_rec=None, opt_names=(),
            extra=None, extra_names=None) -> TrainResult:
    """The records [steps + 1, rows, K] as a TrainResult: G squared from |g|_2, diverged copies NaN from their step on."""
    out = rec.to(torch.float64).cpu().numpy()
    values = {base: out[:, 0].T.copy()}
    if record_true:
        values["G"] = np.square(out[:, 1].T)
        values["G1"] = out[:, 2].T.copy()
    if opt_rec is not None:
        orec = opt_rec.to(torch.float64).cpu().numpy()
        for i, n in enumerate(opt_names):
            values[n] = orec[:, i].T.copy()
    if extra is not None:
        ex = extra.cpu().numpy()
        for i, n in enumerate(extra_names):
            values[n] = ex[:, i].T.copy()
    bad = ~np.isfinite(values[base] + (values["G"] if record_true else 0.0))
    if limit is not None:
        bad |= (rec[:, 0] > limit).cpu().numpy().T  # the same comparison, in the run's dtype, as in the loop
    diverged_at = np.where(bad.any(axis=1), bad.argmax(axis=1), -1).astype(np.int64)
    for k in np.flatnonzero(diverged_at >= 0):
        for v in values.values():
            v[k, diverged_at[k]:] = np.nan
    return TrainResult(values, diverged_at, stopped_at, theta.to(torch.float64).cpu().numpy().copy(), state,
                       divergence_rule(runaway, base, record_true))


def train_blocks(block: Callable, params, learning_rates, steps: int, *, scale=None, record_true: bool = True,
                 base: str = "L", progress: Optional[Callable[[int], None]] = None,
                 runaway: Optional[float] = RUNAWAY) -> TrainResult:
    """Gradient descent run ``block.block`` steps a call by a fused step function: the loop's rules, in blocks.

    The same run as :func:`train` with ``sgd(learning_rates, scale)`` (same records, same
    divergence and runaway rules, same :class:`TrainResult`), for a step function that
    runs a whole block of steps in one call without returning to Python
    (:class:`agents.language_model.compiled.CompiledSteps`): per step it evaluates L and
    g, records L, |g|_2 and |g|_1, freezes a copy whose L or |g|_2 is not finite or whose L
    passes the runaway limit, and moves the others by -eps_t s_k g. Steps past ``steps``
    run with eps = 0 (nothing moves) and are dropped, unless the block function takes a
    shorter last block (its attribute ``ragged`` True: the kernel); index ``steps`` is the
    evaluation after the last update, as in :func:`train`.

    Parameters
    ----------
    block : callable
        ``block(theta, lrs [S], scale [K, 1], inactive [K], limit [K], runaway) -> (theta,
        inactive, limit, records [S, 3, K])`` with an attribute ``block`` = S (see
        :class:`~agents.language_model.compiled.CompiledSteps`); with ``ragged`` True it is
        also called with fewer rates (the last block) and returns as many records.
    params : torch.Tensor or array-like
        Starting parameters [K, P] (not written: the block returns new ones).
    learning_rates : array-like
        eps_0 .. eps_{steps - 1}.
    steps : int
        Number of updates.
    scale : array-like, optional
        Per-copy multipliers s_k [K] of the rates (default ones).
    record_true : bool
        Keep G and G1 and watch G for overflow (False: L only).
    base : str
        The name L is recorded under.
    progress : callable, optional
        Called with the steps done after each block (and after the last step).
    runaway : float or None
        The runaway factor R (module docstring); None: overflow only.

    Returns
    -------
    TrainResult
        As :func:`train`'s (``state`` None: plain gradient descent keeps none).

    Raises
    ------
    ParameterError
        When ``steps`` is not a positive integer, ``params`` is not [K, P], the rates are
        not ``steps`` positive numbers, or ``runaway`` is not a positive factor.

    Examples
    --------
    A block of two steps of L = |theta|^2 / 2 (gradient theta), written by hand:

    >>> def two(theta, lrs, scale, inactive, limit, runaway):
    ...     rows = []
    ...     for s in range(2):
    ...         L, g = 0.5 * (theta ** 2).sum(1), theta
    ...         rows.append(torch.stack((L, g.norm(dim=1), g.abs().sum(1))))
    ...         theta = theta - lrs[s] * g * scale
    ...     return theta, inactive, limit, torch.stack(rows)
    >>> two.block = 2
    >>> r = train_blocks(two, np.array([[1.0], [2.0]]), [0.5, 0.5], 2)
    >>> r.values["L"].tolist(), r.params.tolist()
    ([[0.5, 0.125, 0.03125], [2.0, 0.5, 0.125]], [[0.25], [0.5]])
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ParameterError(f"steps={steps!r}; give a positive integer number of steps")
    runaway = _check_runaway(runaway)
    steps = int(steps)
    theta = _as_params(params).detach()
    K, P = theta.shape
    dt, dev = theta.dtype, theta.device
    lrs = np.asarray(learning_rates, dtype=np.float64)
    if lrs.shape != (steps,) or not np.all(np.isfinite(lrs) & (lrs > 0)):
        raise ParameterError(f"learning_rates of shape {lrs.shape}; give {steps} positive finite rates, one per step")
    S = int(block.block)
    ragged = bool(getattr(block, "ragged", False))
    n_blocks = -(-(steps + 1) // S)
    padded = np.zeros(n_blocks * S)
    padded[:steps] = lrs
    lr_rows = torch.from_numpy(padded).to(dev, dt).view(n_blocks, S)
    col = (torch.ones(K, 1, dtype=dt, device=dev) if scale is None
           else torch.from_numpy(np.asarray(scale, dtype=np.float64)).to(dev, dt).view(K, 1))
    n_rec = 3 if record_true else 1
    check_memory((steps + 1.0) * K * n_rec * (theta.element_size() + 16),
                 f"the records of {steps + 1} steps x {K} copies x {n_rec} objectives", "run fewer steps or fewer copies",
                 parameter="steps")
    rec = torch.empty(n_blocks * S, 3, K, dtype=dt, device=dev)
    inactive = torch.zeros(K, dtype=torch.bool, device=dev)
    limit = torch.full((K,), math.nan if runaway is not None else math.inf, dtype=dt, device=dev)
    R = torch.tensor(runaway if runaway is not None else 0.0, dtype=dt, device=dev)
    # On the CPU the records are copied by numpy, on this thread: a torch copy of this size would wake
    # torch's OpenMP threads, whose spinning after it takes a core from a C++ kernel's own threads in
    # the next call (measured interleaved, 2 threads, K = 256, ms a step: the lane kernel 0.30 -> 0.24,
    # the per-copy kernel 0.40 -> 0.35; one thread unchanged).
    host = rec.numpy() if dev.type == "cpu" else None
    with torch.no_grad():
        for b in range(n_blocks):
            n = min(S, steps + 1 - b * S) if ragged else S
            theta, inactive, limit, rows = block(theta, lr_rows[b, :n], col, inactive, limit, R)
            if host is not None:
                host[b * S:b * S + n] = rows[:n].numpy()
            else:
                rec[b * S:b * S + n] = rows[:n]
            if progress is not None:
                progress(min(steps, (b + 1) * S))
    rec = rec[:steps + 1, :n_rec]
    return _finish(rec, base, record_true, limit if runaway is not None else None, theta, np.full(K, -1, dtype=np.int64),
                   None, runaway)


def _host_bools(values) -> np.ndarray:
    """A stop rule's answer [K] as numpy booleans, wherever it was computed."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=bool)


def _check_step(out, K: int, P: int) -> None:
    if not isinstance(out, tuple) or len(out) not in (2, 3):
        raise LeafError("the step function must return (loss [K], grad [K, P]) or (loss, grad, records); return a tuple")
    loss, grad = out[0], out[1]
    if not isinstance(loss, torch.Tensor) or tuple(loss.shape) != (K,):
        raise LeafError(f"the step function's loss has shape {tuple(getattr(loss, 'shape', ()))}; return a torch tensor [K={K}]")
    if not isinstance(grad, torch.Tensor) or tuple(grad.shape) != (K, P):
        raise LeafError(f"the step function's gradient has shape {tuple(getattr(grad, 'shape', ()))}; return a torch tensor [K={K}, P={P}]")
    if len(out) == 3 and out[2]:
        if not isinstance(out[2], Mapping):
            raise LeafError("the step function's records must be a mapping name -> [K] values; return a dict")
        for n, v in out[2].items():
            if tuple(np.shape(v)) != (K,):
                raise LeafError(f"the step function's record {n!r} has shape {tuple(np.shape(v))}; return [K={K}] values")
