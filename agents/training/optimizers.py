"""The optimizers: SGD, momentum (heavy-ball, Nesterov), Adam / AdamW, clipping, scalings.

Each function returns a :class:`~agents.training.transform.GradientTransformation` over
flat per-copy parameters [K, P]; compose them with :func:`~agents.training.transform.chain`.
Formulas (g the gradient of copy k at step t, eps_t the learning rate, s_k a per-copy
multiplier, n_k the number of steps copy k has taken, inactive copies excluded):

    sgd:        theta <- theta - eps_t * s_k * g
    momentum:   v <- beta v + g;   theta <- theta - eps_t * s_k * v                (heavy-ball)
                                   theta <- theta - eps_t * s_k * (g + beta v)     (Nesterov)
    adam:       m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
                theta <- theta - eps_t * s_k * (m / (1 - b1^n_k)) / (sqrt(v / (1 - b2^n_k)) + eps)
                (``adam(..., rate_in_numerator=True)``: the same formula, eps_t * s_k multiplied in
                before the division, as the maze planner's former hand-written Adam)
    adamw:      adam's step plus eps_t * s_k * w * theta (decoupled weight decay w)

A learning rate is a positive number, a schedule (a function of the step, such as
``agents.language_model.schedules.Decay``) or an array of one rate per step.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import torch

from hierarchy.errors import ParameterError

from agents.training.transform import GradientTransformation, chain, materialize
from agents.training.true_objectives import adam_direction, adam_objective, momentum_objective

__all__ = ["learning_rate_fn", "scale", "scale_by_learning_rate", "scale_per_copy", "sgd", "trace", "momentum",
           "scale_by_adam", "add_decayed_weights", "adam", "adamw", "clip_by_global_norm", "clip"]


def _finite(name: str, value, positive: bool = False, below_one: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    ok = math.isfinite(v) and (v > 0 if positive else v >= 0) and (v < 1 if below_one else True)
    if not ok:
        want = "in [0, 1) such as 0.9" if below_one else ("a positive finite number" if positive else "a non-negative finite number")
        raise ParameterError(f"{name}={value!r}; give {want}")
    return v


def learning_rate_fn(learning_rate):
    """The function ``t -> eps_t`` of a learning rate given as a number, a schedule or an array.

    Parameters
    ----------
    learning_rate : float, callable or array-like
        A positive constant; a function of the step; or one rate per step (index t is eps_t).

    Returns
    -------
    callable
        ``t -> float``.

    Raises
    ------
    ParameterError
        When a constant or an array entry is not positive and finite.

    Examples
    --------
    >>> learning_rate_fn(0.5)(7), learning_rate_fn([0.3, 0.2])(1)
    (0.5, 0.2)
    """
    if isinstance(learning_rate, (int, float, np.integer, np.floating)) and not isinstance(learning_rate, bool):
        lr = _finite("learning_rate", learning_rate, positive=True)
        return lambda t: lr
    if callable(learning_rate):
        return lambda t: float(learning_rate(t))
    arr = np.asarray(learning_rate, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr) & (arr > 0)):
        raise ParameterError("learning_rate array must be 1-d with positive finite rates; give one rate per step")
    rates = [float(v) for v in arr]
    return rates.__getitem__


def scale(factor: float) -> GradientTransformation:
    """Multiply the update by a constant ``factor`` (optax's ``scale``).

    Parameters
    ----------
    factor : float
        Any finite number (-1 flips the sign).

    Returns
    -------
    GradientTransformation

    Raises
    ------
    ParameterError
        When ``factor`` is not finite.

    Examples
    --------
    >>> from agents.training.transform import as_updates
    >>> scale(3.0).update(as_updates(torch.ones(1, 1)), None, None, None)[0][0][1]
    3.0
    """
    try:
        f = float(factor)
    except (TypeError, ValueError):
        f = float("nan")
    if not math.isfinite(f):
        raise ParameterError(f"scale factor={factor!r}; give a finite number")

    def update(updates, state, params, info):
        return tuple((d, v * f, c) for d, v, c in updates), state

    return GradientTransformation(lambda params: None, update, f"scale({f:g})")


def scale_by_learning_rate(learning_rate, flip_sign: bool = True) -> GradientTransformation:
    """Multiply the update by -eps_t (descent; eps_t without ``flip_sign``).

    Parameters
    ----------
    learning_rate : float, callable or array-like
        See :func:`learning_rate_fn`.
    flip_sign : bool
        Multiply by -eps_t (default) rather than eps_t.

    Returns
    -------
    GradientTransformation

    Examples
    --------
    >>> from agents.training.transform import StepInfo, as_updates
    >>> scale_by_learning_rate([0.1, 0.2]).update(as_updates(torch.ones(1, 1)), None, None, StepInfo(1, None))[0][0][1]
    -0.2
    """
    rate = learning_rate_fn(learning_rate)
    sign = -1.0 if flip_sign else 1.0

    def update(updates, state, params, info):
        lr = sign * rate(info.t)
        return tuple((d, v * lr, c) for d, v, c in updates), state

    return GradientTransformation(lambda params: None, update, "scale_by_learning_rate")


def _column(values, params: torch.Tensor, what: str) -> torch.Tensor:
    K = params.shape[0]
    if values is None:
        return torch.ones(K, 1, dtype=params.dtype, device=params.device)
    arr = np.asarray(values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else values, dtype=np.float64)
    if arr.shape != (K,) or not np.all(np.isfinite(arr)):
        raise ParameterError(f"{what} has shape {arr.shape} or a non-finite entry; give {K} finite numbers, one per copy")
    return torch.from_numpy(arr).to(params.device, params.dtype).unsqueeze(1)


def scale_per_copy(scale_k) -> GradientTransformation:
    """Multiply copy k's update by s_k (a per-copy K-tensor: e.g. each copy's learning-rate multiplier).

    Parameters
    ----------
    scale_k : array-like or torch.Tensor or None
        [K] finite multipliers; None means ones.

    Returns
    -------
    GradientTransformation
        Its state is the [K, 1] column of multipliers.

    Raises
    ------
    ParameterError
        At ``init`` when the multipliers are not K finite numbers.

    Examples
    --------
    >>> from agents.training.transform import as_updates, materialize
    >>> t = scale_per_copy([1.0, 2.0]); p = torch.zeros(2, 1, dtype=torch.float64)
    >>> materialize(t.update(as_updates(torch.ones(2, 1, dtype=torch.float64)), t.init(p), p, None)[0]).tolist()
    [[1.0], [2.0]]
    """
    def update(updates, col, params, info):
        return tuple((d, v, col if c is None else c * col) for d, v, c in updates), col

    return GradientTransformation(lambda params: _column(scale_k, params, "scale_k"), update, "scale_per_copy")


def sgd(learning_rate, scale_k=None) -> GradientTransformation:
    """Gradient descent: theta <- theta - eps_t * s_k * g (one fused pass per step).

    Parameters
    ----------
    learning_rate : float, callable or array-like
        eps_t (see :func:`learning_rate_fn`).
    scale_k : array-like, optional
        Per-copy multipliers s_k [K] (default ones: every copy runs the same arithmetic,
        so a copy's numbers do not depend on whether others are scaled).

    Returns
    -------
    GradientTransformation

    Examples
    --------
    >>> from agents.training.transform import StepInfo, apply_updates, as_updates
    >>> opt = sgd(0.5, [1.0, 2.0]); p = torch.zeros(2, 1, dtype=torch.float64)
    >>> u, _ = opt.update(as_updates(torch.ones(2, 1, dtype=torch.float64)), opt.init(p), p, StepInfo(0, None))
    >>> apply_updates(p, u).tolist()
    [[-0.5], [-1.0]]
    """
    rate = learning_rate_fn(learning_rate)

    def update(updates, col, params, info):
        lr = -rate(info.t)
        if len(updates) == 1:  # the common case, without a generator (this runs every step)
            d, v, c = updates[0]
            return ((d, v * lr, col if c is None else c * col),), col
        return tuple((d, v * lr, col if c is None else c * col) for d, v, c in updates), col

    return GradientTransformation(lambda params: _column(scale_k, params, "scale_k"), update, "sgd")


def _direction(updates, buf: torch.Tensor) -> torch.Tensor:
    """The update's numbers, without a copy when it is one unscaled term."""
    if len(updates) == 1 and updates[0][1] == 1.0 and updates[0][2] is None:
        return updates[0][0]
    return materialize(updates, buf)


def trace(beta: float = 0.9, nesterov: bool = False) -> GradientTransformation:
    """The momentum trace v <- beta v + g; passes on v (heavy-ball) or g + beta v (Nesterov).

    Inactive copies keep their trace. Chain it before a learning-rate scaling (as :func:`momentum`).

    Parameters
    ----------
    beta : float
        Decay in [0, 1) (0: plain gradient).
    nesterov : bool
        Pass on g + beta v instead of v.

    Returns
    -------
    GradientTransformation

    Raises
    ------
    ParameterError
        When ``beta`` is not in [0, 1).

    Examples
    --------
    >>> from agents.training.transform import StepInfo, as_updates, materialize
    >>> t = trace(0.5); p = torch.zeros(1, 1, dtype=torch.float64); s = t.init(p)
    >>> for _ in range(2):
    ...     u, s = t.update(as_updates(torch.ones(1, 1, dtype=torch.float64)), s, p, StepInfo(0, None))
    >>> materialize(u).tolist()
    [[1.5]]
    """
    b = _finite("beta", beta, below_one=True)

    def init(params):
        return {"v": torch.zeros_like(params), "g": torch.empty_like(params), "out": torch.empty_like(params)}

    def update(updates, state, params, info):
        g = _direction(updates, state["g"])
        v = state["v"]
        if info is not None and info.inactive is not None:
            new = torch.mul(v, b).add_(g)
            v.copy_(torch.where(info.inactive.unsqueeze(1), v, new))
        else:
            v.mul_(b).add_(g)
        if nesterov:
            return ((torch.add(g, v, alpha=b, out=state["out"]), 1.0, None),), state
        return ((v, 1.0, None),), state

    return GradientTransformation(init, update, f"trace(beta={b:g}{', nesterov' if nesterov else ''})",
                                  momentum_objective(b, nesterov))


def momentum(learning_rate, beta: float = 0.9, nesterov: bool = False, scale_k=None) -> GradientTransformation:
    """Heavy-ball (or Nesterov) momentum: ``chain(trace(beta, nesterov), sgd(learning_rate, scale_k))``.

    Parameters
    ----------
    learning_rate : float, callable or array-like
        eps_t.
    beta : float
        Momentum in [0, 1).
    nesterov : bool
        Nesterov's form.
    scale_k : array-like, optional
        Per-copy multipliers [K].

    Returns
    -------
    GradientTransformation

    Examples
    --------
    >>> str(momentum(0.1, 0.9, nesterov=True))
    'chain(trace(beta=0.9, nesterov), sgd)'
    """
    return chain(trace(beta, nesterov), sgd(learning_rate, scale_k))


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> GradientTransformation:
    """Adam's direction m_hat / (sqrt(v_hat) + eps), with per-copy step counts n_k.

    m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2, m_hat = m / (1 - b1^n_k),
    v_hat = v / (1 - b2^n_k); inactive copies keep m, v and n_k.

    Parameters
    ----------
    b1, b2 : float
        Decays in [0, 1).
    eps : float
        Added to sqrt(v_hat) (non-negative).

    Returns
    -------
    GradientTransformation

    Raises
    ------
    ParameterError
        When a decay is not in [0, 1) or ``eps`` is negative.

    Examples
    --------
    >>> from agents.training.transform import StepInfo, as_updates, materialize
    >>> t = scale_by_adam(); p = torch.zeros(1, 2, dtype=torch.float64)
    >>> u, s = t.update(as_updates(torch.tensor([[3.0, -0.5]], dtype=torch.float64)), t.init(p), p, StepInfo(0, None))
    >>> [round(x, 6) for x in materialize(u)[0].tolist()]  # the first step is sign(g)
    [1.0, -1.0]
    """
    b1 = _finite("b1", b1, below_one=True)
    b2 = _finite("b2", b2, below_one=True)
    eps = _finite("eps", eps)

    def update(updates, state, params, info):
        bc1, bc2 = _adam_moments(updates, state, info, b1, b2)
        den = torch.div(state["v"], bc2, out=state["den"]).sqrt_().add_(eps)
        out = torch.div(state["m"], bc1, out=state["out"]).div_(den)
        return ((out, 1.0, None),), state

    return GradientTransformation(_adam_init, update, f"scale_by_adam(b1={b1:g}, b2={b2:g}, eps={eps:g})",
                                  adam_objective(b1, b2, eps))


def _adam_init(params):
    z = torch.zeros_like
    return {"m": z(params), "v": z(params), "n": torch.zeros(params.shape[0], 1, dtype=params.dtype, device=params.device),
            "g": torch.empty_like(params), "out": torch.empty_like(params), "den": torch.empty_like(params)}


def _adam_moments(updates, state, info, b1: float, b2: float):
    """Adam's moment and step-count update in ``state`` (inactive copies kept); returns the
    bias corrections ``(1 - b1^n_k, 1 - b2^n_k)`` as [K, 1] columns."""
    g = _direction(updates, state["g"])
    m, v, n = state["m"], state["v"], state["n"]
    m_new = torch.mul(m, b1).add_(torch.mul(g, 1.0 - b1))
    v_new = torch.mul(v, b2).add_(torch.mul(g, 1.0 - b2).mul_(g))
    inactive = None if info is None else info.inactive
    if inactive is not None:
        col = inactive.unsqueeze(1)
        m.copy_(torch.where(col, m, m_new))
        v.copy_(torch.where(col, v, v_new))
        n.add_((~col).to(n.dtype))
    else:
        m.copy_(m_new)
        v.copy_(v_new)
        n.add_(1.0)
    return 1.0 - torch.pow(b1, n), 1.0 - torch.pow(b2, n)


def _adam_rate_in_numerator(learning_rate, b1: float, b2: float, eps: float, scale_k) -> GradientTransformation:
    """Adam whose step is ((m_hat * eps_t) * s_k) / (sqrt(v_hat) + eps), subtracted (see :func:`adam`)."""
    b1 = _finite("b1", b1, below_one=True)
    b2 = _finite("b2", b2, below_one=True)
    eps = _finite("eps", eps)
    rate = learning_rate_fn(learning_rate)

    def init(params):
        state = _adam_init(params)
        state["s_k"] = None if scale_k is None else _column(scale_k, params, "scale_k")
        return state

    def update(updates, state, params, info):
        bc1, bc2 = _adam_moments(updates, state, info, b1, b2)
        den = torch.div(state["v"], bc2, out=state["den"]).sqrt_().add_(eps)
        num = torch.div(state["m"], bc1, out=state["out"]).mul_(rate(info.t))
        if state["s_k"] is not None:
            num.mul_(state["s_k"])
        return ((num.div_(den), -1.0, None),), state

    return GradientTransformation(init, update, f"adam_rate_in_numerator(b1={b1:g}, b2={b2:g}, eps={eps:g})",
                                  adam_objective(b1, b2, eps))


def _decay(weight_decay):
    """A weight decay as a float, or as a per-copy K-array kept for :func:`_column` at ``init``."""
    if isinstance(weight_decay, (int, float, np.integer, np.floating)) and not isinstance(weight_decay, bool):
        return _finite("weight_decay", weight_decay)
    arr = np.asarray(weight_decay.detach().cpu().numpy() if isinstance(weight_decay, torch.Tensor) else weight_decay,
                     dtype=np.float64)
    if arr.ndim != 1 or not np.all(np.isfinite(arr) & (arr >= 0)):
        raise ParameterError(f"weight_decay={weight_decay!r}; give a non-negative number, or one non-negative "
                             f"number per copy")
    return arr


def add_decayed_weights(weight_decay) -> GradientTransformation:
    """Add w_k * theta to the update (before the learning-rate scaling: AdamW's decoupled decay).

    Parameters
    ----------
    weight_decay : float or array-like
        w >= 0, or one w_k >= 0 per copy ([K]: a sweep over decays stays one batched run).

    Returns
    -------
    GradientTransformation

    Raises
    ------
    ParameterError
        When a decay is negative or not finite, or (at ``init``) the per-copy decays are not K.

    Examples
    --------
    >>> from agents.training.transform import StepInfo, as_updates, materialize
    >>> p = torch.full((1, 1), 2.0, dtype=torch.float64); t = add_decayed_weights(0.5)
    >>> materialize(t.update(as_updates(torch.ones(1, 1, dtype=torch.float64)), t.init(p), p, None)[0]).tolist()
    [[2.0]]
    >>> p = torch.full((2, 1), 2.0, dtype=torch.float64); t = add_decayed_weights([0.0, 1.0])
    >>> materialize(t.update(as_updates(torch.ones(2, 1, dtype=torch.float64)), t.init(p), p, None)[0]).tolist()
    [[1.0], [3.0]]
    """
    w = _decay(weight_decay)
    if isinstance(w, float):
        def update(updates, buf, params, info):
            out = materialize(updates, buf)
            out.add_(params, alpha=w)
            return ((out, 1.0, None),), buf

        return GradientTransformation(torch.empty_like, update, f"add_decayed_weights({w:g})")

    def init(params):
        return {"buf": torch.empty_like(params), "w": _column(w, params, "weight_decay")}

    def update_k(updates, state, params, info):
        out = materialize(updates, state["buf"])
        out.addcmul_(params, state["w"])
        return ((out, 1.0, None),), state

    return GradientTransformation(init, update_k, "add_decayed_weights(per copy)")


def adam(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, scale_k=None,
         rate_in_numerator: bool = False) -> GradientTransformation:
    """Adam: ``chain(scale_by_adam(b1, b2, eps), sgd(learning_rate, scale_k))``.

    The step is theta <- theta - eps_t * s_k * (m_hat / (sqrt(v_hat) + eps)). With
    ``rate_in_numerator`` the same formula is evaluated in another order,
    theta <- theta - ((m_hat * eps_t) * s_k) / (sqrt(v_hat) + eps): equal in exact arithmetic,
    different in the last bits. That is the order of the maze planner's former hand-written
    Adam, kept so that its default runs stay bit for bit what they were; the default order
    is unchanged (every other result depends on it).

    Parameters
    ----------
    learning_rate : float, callable or array-like
        eps_t.
    b1, b2, eps : float
        Adam's constants.
    scale_k : array-like, optional
        Per-copy multipliers [K].
    rate_in_numerator : bool
        Multiply m_hat by eps_t * s_k before dividing by sqrt(v_hat) + eps (default False:
        divide first, then scale).

    Returns
    -------
    GradientTransformation

    Examples
    --------
    >>> str(adam(1e-3))
    'chain(scale_by_adam(b1=0.9, b2=0.999, eps=1e-08), sgd)'
    >>> str(adam(1e-3, rate_in_numerator=True))
    'adam_rate_in_numerator(b1=0.9, b2=0.999, eps=1e-08)'
    """
    if rate_in_numerator:
        return _adam_rate_in_numerator(learning_rate, b1, b2, eps, scale_k)
    return chain(scale_by_adam(b1, b2, eps), sgd(learning_rate, scale_k))


def adamw(learning_rate, weight_decay: float = 1e-4, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          scale_k=None) -> GradientTransformation:
    """AdamW: ``chain(scale_by_adam(b1, b2, eps), add_decayed_weights(weight_decay), sgd(learning_rate, scale_k))``.

    Parameters
    ----------
    learning_rate : float, callable or array-like
        eps_t.
    weight_decay : float or array-like
        w (or one w_k per copy): the step adds eps_t * s_k * w * theta (decoupled from the
        gradient's moments).
    b1, b2, eps : float
        Adam's constants.
    scale_k : array-like, optional
        Per-copy multipliers [K].

    Returns
    -------
    GradientTransformation

    Examples
    --------
    >>> str(adamw(1e-3, 0.01)), adamw(1e-3, 0.01).true_objective.name
    ('chain(scale_by_adam(b1=0.9, b2=0.999, eps=1e-08), add_decayed_weights(0.01), sgd)', 'G_adamw')
    """
    decay = add_decayed_weights(weight_decay)
    opt = chain(scale_by_adam(b1, b2, eps), decay, sgd(learning_rate, scale_k))
    w = _decay(weight_decay)
    if isinstance(w, float):
        true = adam_objective(b1, b2, eps, weight_decay=w, part=0)
    else:
        def per_copy(state, grad, params):
            d = adam_direction(state[0], b1, b2, eps).addcmul_(params, state[1]["w"])
            return torch.linalg.vector_norm(d, 2, dim=1).square_()

        true = attrs.evolve(adam_objective(b1, b2, eps, weight_decay=1.0), value=per_copy)  # w_k from the decay's state
    return attrs.evolve(opt, true_objective=true)


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Scale each copy's update down to L2 norm at most ``max_norm`` (its whole parameter vector).

    Copy k's update u_k becomes u_k * min(1, max_norm / |u_k|_2); other copies are untouched.

    Parameters
    ----------
    max_norm : float
        Positive bound.

    Returns
    -------
    GradientTransformation

    Raises
    ------
    ParameterError
        When ``max_norm`` is not positive and finite.

    Examples
    --------
    >>> from agents.training.transform import as_updates, materialize
    >>> t = clip_by_global_norm(1.0); g = torch.tensor([[3.0, 4.0], [0.3, 0.4]], dtype=torch.float64)
    >>> materialize(t.update(as_updates(g), t.init(g), g, None)[0]).round(decimals=12).tolist()
    [[0.6, 0.8], [0.3, 0.4]]
    """
    bound = _finite("max_norm", max_norm, positive=True)

    def update(updates, buf, params, info):
        u = _direction(updates, buf)
        norm = torch.linalg.vector_norm(u, 2, dim=1, keepdim=True)
        factor = torch.clamp(bound / norm, max=1.0)
        return tuple((d, v, factor if c is None else c * factor) for d, v, c in updates), buf

    return GradientTransformation(torch.empty_like, update, f"clip_by_global_norm({bound:g})")


def clip(max_delta: float) -> GradientTransformation:
    """Clip every entry of the update to [-max_delta, max_delta] (optax's ``clip``).

    Parameters
    ----------
    max_delta : float
        Positive bound.

    Returns
    -------
    GradientTransformation

    Raises
    ------
    ParameterError
        When ``max_delta`` is not positive and finite.

    Examples
    --------
    >>> from agents.training.transform import as_updates, materialize
    >>> t = clip(1.0); g = torch.tensor([[3.0, -0.5]], dtype=torch.float64)
    >>> materialize(t.update(as_updates(g), t.init(g), g, None)[0]).tolist()
    [[1.0, -0.5]]
    """
    bound = _finite("max_delta", max_delta, positive=True)

    def update(updates, buf, params, info):
        out = materialize(updates, buf).clamp_(-bound, bound)
        return ((out, 1.0, None),), buf

    return GradientTransformation(torch.empty_like, update, f"clip({bound:g})")
