"""Gradient transformations: optimizers as small values, in the manner of optax.

A :class:`GradientTransformation` is a pair of functions over flat per-copy parameters
``params`` [K, P] (K copies of a population at once, one row each):

    state             = init(params)
    updates, state    = update(updates, state, params, info)

``update`` receives the updates so far (the loop starts from the gradient) and returns
new ones; ``info`` (:class:`StepInfo`) carries the step t, the per-copy base objective
L [K] and the mask of inactive copies. :func:`chain` composes transformations left to
right; :func:`apply_updates` adds the result to ``params``.

**Updates are sums of scaled terms.** An update is a tuple of terms ``(direction,
value, coef)`` meaning ``value * direction * coef`` (``direction`` [K, P], ``value`` a
float, ``coef`` a [K, 1] per-copy column or None), applied term by term with one fused
``params.addcmul_(direction, coef, value=value)``. Scalings (learning rate, per-copy
multiplier, clipping factor) then cost nothing until the update is applied, and plain
gradient descent costs one elementwise pass per step, exactly as a hand-written loop.
Transformations that need the numbers (momentum, Adam) call :func:`materialize`.

Rules every transformation follows: it never writes into a direction it was given
(directions belong to others: the step function's gradient, another state), only into
its own state's buffers; it returns its new state (its buffers may be updated in place,
so an old state must not be reused); and it treats ``info.inactive`` copies as frozen
(the loop also masks their updates, see :func:`mask_updates`).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import attrs
import torch

from hierarchy.errors import ParameterError

from agents.training.true_objectives import TrueObjective

__all__ = ["GradientTransformation", "StepInfo", "Term", "chain", "identity", "apply_updates", "materialize",
           "mask_updates", "as_updates"]

#: One term of an update: (direction [K, P], value float, coef [K, 1] tensor or None).
Term = tuple


class StepInfo(NamedTuple):
    """What a transformation may read at step t besides the updates and parameters.

    A named tuple (made once per step, so it is cheap; optax keeps its states the same way).

    Parameters
    ----------
    t : int
        The step (0 for the first update).
    loss : torch.Tensor
        The base objective L [K] at the parameters being updated.
    inactive : torch.Tensor or None
        Bool [K]: copies that must not move (diverged or stopped); None when every copy moves.

    Examples
    --------
    >>> StepInfo(0, torch.zeros(2)).inactive is None
    True
    """

    t: int
    loss: Any
    inactive: Optional[torch.Tensor] = None


@attrs.frozen
class GradientTransformation:
    """An optimizer, or one piece of one: an ``(init, update)`` pair (optax's GradientTransformation).

    Parameters
    ----------
    init : callable
        ``init(params [K, P]) -> state``.
    update : callable
        ``update(updates, state, params, info) -> (updates, state)``; ``updates`` a tuple of
        terms (module docstring), ``info`` a :class:`StepInfo`.
    name : str, optional
        A short description (``"sgd"``, ``"adam(b1=0.9, b2=0.999)"``), for reports.
    true_objective : TrueObjective, optional
        The quantity this optimizer drives to zero at its fixed points, when it is not the
        gradient size the loop records anyway (momentum's, Adam's:
        :mod:`agents.training.true_objectives`); :func:`chain` passes a part's on.

    Examples
    --------
    >>> neg = GradientTransformation(lambda p: None, lambda u, s, p, i: (tuple((d, -v, c) for d, v, c in u), s), "negate")
    >>> p = torch.zeros(1, 2, dtype=torch.float64)
    >>> u, _ = neg.update(as_updates(torch.ones(1, 2, dtype=torch.float64)), neg.init(p), p, StepInfo(0, torch.zeros(1)))
    >>> apply_updates(p, u).tolist()
    [[-1.0, -1.0]]
    """

    init: Callable = attrs.field(validator=attrs.validators.is_callable())
    update: Callable = attrs.field(validator=attrs.validators.is_callable())
    name: str = attrs.field(default="", validator=attrs.validators.instance_of(str))
    true_objective: Optional[TrueObjective] = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(TrueObjective)))

    def __str__(self) -> str:
        return self.name or "transformation"


def as_updates(direction: torch.Tensor) -> tuple:
    """The update made of one unscaled term: ``((direction, 1.0, None),)``.

    Parameters
    ----------
    direction : torch.Tensor
        [K, P], e.g. the gradient.

    Returns
    -------
    tuple
        A one-term update.

    Examples
    --------
    >>> len(as_updates(torch.zeros(2, 3)))
    1
    """
    return ((direction, 1.0, None),)


def materialize(updates: tuple, out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The numbers of an update: sum over terms of ``value * direction * coef`` [K, P].

    Parameters
    ----------
    updates : tuple
        Terms ``(direction, value, coef)``.
    out : torch.Tensor, optional
        A [K, P] buffer to write into (it must not be one of the directions).

    Returns
    -------
    torch.Tensor
        ``out`` (or a new tensor) holding the update.

    Raises
    ------
    ParameterError
        When ``updates`` holds no term.

    Examples
    --------
    >>> g = torch.ones(2, 2, dtype=torch.float64)
    >>> materialize(((g, 2.0, torch.tensor([[1.0], [3.0]], dtype=torch.float64)), (g, 1.0, None))).tolist()
    [[3.0, 3.0], [7.0, 7.0]]
    """
    if not updates:
        raise ParameterError("an update with no term; start a chain from as_updates(gradient)")
    d0 = updates[0][0]
    out = torch.empty_like(d0) if out is None else out
    out.zero_()
    for d, v, c in updates:
        if c is None:
            out.add_(d, alpha=v)
        else:
            out.addcmul_(d, c, value=v)
    return out


def apply_updates(params: torch.Tensor, updates: tuple) -> torch.Tensor:
    """``params += update``, term by term in order (one fused pass per term), in place.

    Parameters
    ----------
    params : torch.Tensor
        [K, P], changed in place.
    updates : tuple
        Terms ``(direction, value, coef)``: ``params.addcmul_(direction, coef, value=value)``
        (``params.add_(direction, alpha=value)`` when coef is None).

    Returns
    -------
    torch.Tensor
        ``params``.

    Examples
    --------
    >>> p = torch.zeros(1, 2, dtype=torch.float64)
    >>> apply_updates(p, ((torch.ones(1, 2, dtype=torch.float64), -0.5, None),)).tolist()
    [[-0.5, -0.5]]
    """
    for d, v, c in updates:
        if c is None:
            params.add_(d, alpha=v)
        else:
            params.addcmul_(d, c, value=v)
    return params


def mask_updates(updates: tuple, inactive: Optional[torch.Tensor]) -> tuple:
    """The update with the rows of ``inactive`` copies set to zero; the others untouched.

    Each term's per-copy column is zeroed for those copies, and their direction rows too
    (a new tensor, so nothing the term points to changes): a non-finite direction row
    cannot move a frozen copy either.

    Parameters
    ----------
    updates : tuple
        Terms ``(direction, value, coef)``.
    inactive : torch.Tensor or None
        Bool [K]; None returns ``updates`` itself.

    Returns
    -------
    tuple
        The masked update.

    Examples
    --------
    >>> g = torch.ones(2, 2, dtype=torch.float64)
    >>> materialize(mask_updates(as_updates(g), torch.tensor([False, True]))).tolist()
    [[1.0, 1.0], [0.0, 0.0]]
    """
    if inactive is None:
        return updates
    col = inactive.unsqueeze(1)
    out = []
    for d, v, c in updates:
        c = torch.ones(d.shape[0], 1, dtype=d.dtype, device=d.device) if c is None else c
        out.append((d.masked_fill(col, 0.0), v, c.masked_fill(col, 0.0)))
    return tuple(out)


def identity() -> GradientTransformation:
    """The neutral transformation: updates pass through unchanged (optax's ``identity``).

    Returns
    -------
    GradientTransformation

    Examples
    --------
    >>> u = as_updates(torch.ones(1, 1))
    >>> identity().update(u, None, None, None)[0] is u
    True
    """
    return GradientTransformation(lambda params: None, lambda updates, state, params, info: (updates, state), "identity")


def chain(*transforms) -> GradientTransformation:
    """Compose transformations left to right: the updates pass through each in turn (optax's ``chain``).

    ``chain(a, b).update(u, (sa, sb), p, i)`` equals ``b.update(a.update(u, sa, p, i)[0], sb, p, i)``;
    the state is the tuple of the parts' states. The chain's true objective is that of its
    first part that has one (read from that part's state), e.g. Adam's in
    ``chain(clip_by_global_norm(1.0), adam(1e-3))``.

    Parameters
    ----------
    *transforms : GradientTransformation or (str, GradientTransformation)
        The parts. Named parts (pairs) make a named chain (optax's ``named_chain``):
        its state is a dict keyed by name.

    Returns
    -------
    GradientTransformation

    Raises
    ------
    ParameterError
        When a part is not a transformation, names are mixed with unnamed parts, or
        two parts share a name.

    Examples
    --------
    >>> from agents.training.optimizers import scale, sgd
    >>> opt = chain(("clip", scale(1.0)), ("sgd", sgd(0.1)))
    >>> sorted(opt.init(torch.zeros(2, 3, dtype=torch.float64)))
    ['clip', 'sgd']
    """
    named = [isinstance(t, tuple) for t in transforms]
    if any(named) and not all(named):
        raise ParameterError("chain mixes named (name, transformation) pairs with unnamed parts; name every part or none")
    if all(named) and transforms:
        names = [n for n, _ in transforms]
        parts = [t for _, t in transforms]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ParameterError(f"chain has two parts named {dup[0]!r}; give each part its own name")
        if not all(isinstance(n, str) and n for n in names):
            raise ParameterError(f"chain part names {names!r}; give each part a non-empty string name")
    else:
        names, parts = None, list(transforms)
    for t in parts:
        if not isinstance(t, GradientTransformation):
            raise ParameterError(f"chain part {t!r} is not a GradientTransformation; build parts with sgd(), adam(), scale(), ...")
    parts = tuple(parts)
    updates_fns = tuple(t.update for t in parts)
    label = "chain(" + ", ".join(str(t) for t in parts) + ")"

    if names is None:
        def init(params):
            return tuple(t.init(params) for t in parts)

        def update(updates, state, params, info):
            new = []
            for fn, s in zip(updates_fns, state):
                updates, s = fn(updates, s, params, info)
                new.append(s)
            return updates, tuple(new)
    else:
        keys = tuple(names)

        def init(params):
            return {n: t.init(params) for n, t in zip(keys, parts)}

        def update(updates, state, params, info):
            new = {}
            for n, fn in zip(keys, updates_fns):
                updates, new[n] = fn(updates, state[n], params, info)
            return updates, new

    owner = next((i for i, t in enumerate(parts) if t.true_objective is not None), None)
    true = None if owner is None else parts[owner].true_objective.on_part(owner if names is None else names[owner])
    return GradientTransformation(init, update, label, true)
