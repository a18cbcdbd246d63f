"""The true objectives of optimizers: the quantity each one drives to zero at its fixed points.

definitions.md, "The true objective of gradient descent": gradient descent stops exactly
where the gradient vanishes, so its true objective is a gradient size (G = |g|^2, or
G1 = |g|_1). An optimizer with a state of its own stops where its whole state stops, and
its true objective is the size of whatever must vanish there. The derivations are in
``docs/true_objectives.md``; in short, with g_t = grad L(theta_t), eps_t the learning rate:

* **heavy-ball momentum** (state (theta, v)): v_{t+1} = beta v_t + g_t,
  theta_{t+1} = theta_t - eps_t v_{t+1}. A fixed point needs theta_{t+1} = theta_t, so
  v_{t+1} = 0, and v_{t+1} = v_t, so g_t = (1 - beta) v_t = 0: both the gradient and the
  velocity vanish. True objective

      G_momentum(t) = |g_t|^2 + (1 - beta)^2 |v_{t+1}|^2

  (the velocity scaled to gradient units: at a steady drift v = g / (1 - beta)). It is zero
  exactly when one step leaves (theta, v) where they are. G alone is not it: at theta* with
  v != 0 the gradient is 0 but the optimizer keeps moving.
* **Nesterov** (as :func:`agents.training.optimizers.trace` computes it):
  v_{t+1} = beta v_t + g_t, theta_{t+1} = theta_t - eps_t (g_t + beta v_{t+1}). Stationary
  theta needs g_t = -beta v_{t+1}, stationary v needs g_t = (1 - beta) v_{t+1}; together
  v_{t+1} = 0 and g_t = 0. The same quantity, named ``G_nesterov``.
* **Adam** (state (theta, m, v, n)): the step is eps_t * d_t with
  d_t = m_hat_{t+1} / (sqrt(v_hat_{t+1}) + eps). The parameters stop exactly when d_t = 0,
  i.e. m_{t+1} = 0; the moments stop too only when g = 0 (m_{t+1} = m_t = 0 forces
  g_t = 0). True objective

      G_adam(t) = |m_hat_{t+1} / (sqrt(v_hat_{t+1}) + eps)|^2,

  a size without the learning rate's units (each coordinate is about sign(g) early on, so
  G_adam(0) is about P, the number of parameters). AdamW adds the decoupled decay:
  ``G_adamw`` = |d_t + w theta_t|^2, zero at the fixed points of the decayed problem.
* **any optimizer**: the squared update size U(t) = |theta_{t+1} - theta_t|^2 (recorded by
  :func:`agents.training.train` with ``record_update=True``). It is zero exactly when the
  parameters stop, but it carries the learning rate's units (U = eps_t^2 G for plain
  gradient descent), so alphas over U compare across optimizers only through a shared
  normalization (``hierarchy.alignment.Normalization``).

A transformation carries its true objective as a :class:`TrueObjective`, evaluated by the
loop after the transformation's update at step t (so on the state after step t's
moments, with the gradient g_t and the parameters theta_t before the step). Index t of the
record belongs to the state after t updates, as every other record.
"""

from __future__ import annotations

from typing import Callable

import attrs
import torch

__all__ = ["TrueObjective", "FORMULAS", "describe", "momentum_objective", "adam_objective", "adam_direction"]

#: What each recorded true objective is, in words (for reports: the choice is named there).
FORMULAS = {
    "G": "G = sum_i (dL/dtheta_i)^2, the squared gradient norm (gradient descent's true objective)",
    "G1": "G1 = sum_i |dL/dtheta_i|, the L1 gradient size (an equally valid true objective of gradient descent)",
    "U": "U = |theta_{t+1} - theta_t|^2, the squared update size (zero exactly when the parameters stop; "
         "carries the learning rate's units)",
    "G_momentum": "G_momentum = |g|^2 + (1 - beta)^2 |v|^2, gradient and velocity (heavy-ball momentum stops "
                  "exactly when both vanish)",
    "G_nesterov": "G_nesterov = |g|^2 + (1 - beta)^2 |v|^2, gradient and velocity (Nesterov momentum stops "
                  "exactly when both vanish)",
    "G_adam": "G_adam = |m_hat / (sqrt(v_hat) + eps)|^2, Adam's step direction (Adam's parameters stop exactly "
              "when it vanishes)",
    "G_adamw": "G_adamw = |m_hat / (sqrt(v_hat) + eps) + w theta|^2, AdamW's step direction with its decay",
}


def describe(name: str) -> str:
    """The formula of a true objective by name, for reports (the name itself when it is not a known one).

    Parameters
    ----------
    name : str
        "G", "G1", "U", "G_momentum", "G_nesterov", "G_adam", "G_adamw" or another name.

    Returns
    -------
    str

    Examples
    --------
    >>> describe("U").split(",")[0]
    'U = |theta_{t+1} - theta_t|^2'
    >>> describe("mine")
    'mine'
    """
    return FORMULAS.get(name, name)


@attrs.frozen
class TrueObjective:
    """The true objective a transformation drives to zero at its fixed points (module docstring).

    Parameters
    ----------
    name : str
        The record's name ("G_momentum", "G_adam", ...).
    value : callable
        ``value(state, grad, params) -> [K]`` tensor: evaluated after the transformation's
        update of step t, on its own state, the gradient g_t [K, P] and theta_t [K, P].
    formula : str
        The formula in words (default: :data:`FORMULAS`'s entry).

    Examples
    --------
    >>> t = TrueObjective("G_sq", lambda s, g, p: (g * g).sum(1))
    >>> t.value(None, torch.tensor([[3.0, 4.0]]), None).tolist(), t.formula
    ([25.0], 'G_sq')
    """

    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    value: Callable = attrs.field(validator=attrs.validators.is_callable())
    formula: str = attrs.field()

    @formula.default
    def _formula(self) -> str:
        return describe(self.name)

    def on_part(self, index) -> "TrueObjective":
        """The same objective read from part ``index`` of a chain's state (tuple index or name).

        Parameters
        ----------
        index : int or str
            Where the part's state sits in the chain's state.

        Returns
        -------
        TrueObjective

        Examples
        --------
        >>> t = TrueObjective("s", lambda s, g, p: s).on_part(1)
        >>> t.value((0, torch.ones(1)), None, None).tolist()
        [1.0]
        """
        inner = self.value
        return attrs.evolve(self, value=lambda state, grad, params: inner(state[index], grad, params))


def momentum_objective(beta: float, nesterov: bool = False) -> TrueObjective:
    """|g_t|^2 + (1 - beta)^2 |v_{t+1}|^2 on a momentum trace's state (module docstring).

    Parameters
    ----------
    beta : float
        The trace's decay.
    nesterov : bool
        Name it ``G_nesterov`` (the fixed points are the same).

    Returns
    -------
    TrueObjective

    Examples
    --------
    >>> t = momentum_objective(0.5)
    >>> t.value({"v": torch.tensor([[2.0]])}, torch.tensor([[0.0]]), None).tolist()  # (1 - 0.5)^2 * 2^2
    [1.0]
    """
    c = (1.0 - beta) ** 2

    def value(state, grad, params):
        v = state["v"]
        return torch.linalg.vector_norm(grad, 2, dim=1).square_().add_(torch.linalg.vector_norm(v, 2, dim=1).square_(), alpha=c)

    return TrueObjective("G_nesterov" if nesterov else "G_momentum", value)


def adam_direction(state, b1: float, b2: float, eps: float) -> torch.Tensor:
    """m_hat / (sqrt(v_hat) + eps) [K, P] from Adam's state (m, v and the per-copy step counts n).

    Parameters
    ----------
    state : dict
        Adam's state after step t: ``m``, ``v`` [K, P] and ``n`` [K, 1].
    b1, b2, eps : float
        Adam's constants.

    Returns
    -------
    torch.Tensor
        A new [K, P] tensor (zeros for a copy that has taken no step).

    Examples
    --------
    >>> f = torch.float64
    >>> s = {"m": torch.tensor([[0.1]], dtype=f), "v": torch.tensor([[0.001]], dtype=f), "n": torch.tensor([[1.0]], dtype=f)}
    >>> round(adam_direction(s, 0.9, 0.999, 0.0).item(), 6)  # (0.1 / 0.1) / sqrt(0.001 / 0.001)
    1.0
    """
    n = state["n"]
    bc1 = 1.0 - torch.pow(b1, n)
    bc2 = 1.0 - torch.pow(b2, n)
    started = n > 0
    m_hat = torch.where(started, state["m"] / torch.where(started, bc1, torch.ones_like(bc1)), torch.zeros_like(state["m"]))
    v_hat = torch.where(started, state["v"] / torch.where(started, bc2, torch.ones_like(bc2)), torch.zeros_like(state["v"]))
    return m_hat / (v_hat.sqrt() + eps)


def adam_objective(b1: float, b2: float, eps: float, weight_decay=None, part=None) -> TrueObjective:
    """|m_hat / (sqrt(v_hat) + eps) (+ w theta)|^2 on Adam's state (module docstring).

    Parameters
    ----------
    b1, b2, eps : float
        Adam's constants.
    weight_decay : torch.Tensor or float, optional
        AdamW's decoupled decay w (a float, or a [K, 1] column): names it ``G_adamw``.
    part : int, optional
        Read Adam's state from this part of a chain's state (AdamW's chain).

    Returns
    -------
    TrueObjective

    Examples
    --------
    >>> f = torch.float64
    >>> s = {"m": torch.tensor([[0.1, 0.0]], dtype=f), "v": torch.tensor([[0.001, 1.0]], dtype=f), "n": torch.tensor([[1.0]], dtype=f)}
    >>> round(adam_objective(0.9, 0.999, 0.0).value(s, None, None).item(), 6)
    1.0
    """
    def value(state, grad, params):
        d = adam_direction(state if part is None else state[part], b1, b2, eps)
        if weight_decay is not None:
            d = d + params * weight_decay
        return torch.linalg.vector_norm(d, 2, dim=1).square_()

    return TrueObjective("G_adam" if weight_decay is None else "G_adamw", value)
