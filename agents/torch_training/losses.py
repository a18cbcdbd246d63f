"""The losses a torch leaf trains on, and the objectives it evaluates on its states.

Per-example losses l(z_n, y_n) (z_n the model's output for example n, y_n its target);
the base objective is their mean, L = (1/N) sum_n l(z_n, y_n):

    cross_entropy:  l = -sum_v q_nv log softmax(z_n)_v,  q_n = (1 - s) onehot(y_n) + s / V
    brier:          l =  sum_v (softmax(z_n)_v - q_nv)^2
    mse:            l =  mean over the output's entries of (z_n - y_n)^2

(s the label smoothing, V the number of classes; the same formulas as
``agents.language_model.mlp``). A callable ``loss(outputs [n, ...], targets [n]) -> [n]``
is used as given. Objectives evaluated on the states (definitions.md, "A delegation": an
ancestor's objective is evaluated on the leaf's states), per copy:

    L_test  = the same loss's mean on the held-out data
    E_test  = (1/M) sum_m [argmax z_m != y_m]   held-out 0-1 error
    A_test  = 1 - E_test                        held-out accuracy
    E_train = the training 0-1 error
"""

from __future__ import annotations

import functools
from typing import Callable

import torch
import torch.nn.functional as F

from hierarchy.errors import ParameterError

__all__ = ["LOSSES", "BUILTIN_OBJECTIVES", "HELDOUT_OBJECTIVES", "check_loss", "describe_loss", "loss_function",
           "zero_one_error"]

#: The losses offered by name.
LOSSES = ("cross_entropy", "mse", "brier")

#: The objectives offered by name, and what each is.
BUILTIN_OBJECTIVES = {
    "L_test": "held-out loss (the training loss's mean on the held-out data)",
    "E_test": "held-out 0-1 error",
    "A_test": "held-out accuracy (1 - E_test)",
    "E_train": "training 0-1 error",
}

#: The built-in objectives that need held-out data.
HELDOUT_OBJECTIVES = ("L_test", "E_test", "A_test")


def check_loss(loss, label_smoothing=0.0) -> tuple:
    """Validate a loss choice: a name in :data:`LOSSES` or a callable; 0 <= s < 1 (s only with cross_entropy or brier).

    Parameters
    ----------
    loss : str or callable
    label_smoothing : float

    Returns
    -------
    tuple
        ``(loss, float(label_smoothing))``.

    Raises
    ------
    ParameterError
        When the name is unknown, s is outside [0, 1), or s > 0 with a loss that has no classes.

    Examples
    --------
    >>> check_loss("brier", 0.1)
    ('brier', 0.1)
    >>> check_loss("hinge")
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: loss='hinge' is not offered; choose one of cross_entropy, mse, brier, or give a function (outputs, targets) -> per-example losses
    """
    if not callable(loss) and loss not in LOSSES:
        raise ParameterError(f"loss={loss!r} is not offered; choose one of {', '.join(LOSSES)}, or give a function "
                             f"(outputs, targets) -> per-example losses", parameter="loss")
    try:
        s = float(label_smoothing)
    except (TypeError, ValueError):
        s = float("nan")
    if not (0.0 <= s < 1.0):
        raise ParameterError(f"label_smoothing={label_smoothing!r}; give a number in [0, 1) such as 0.1 (0: one-hot targets)",
                             parameter="label_smoothing")
    if s > 0 and loss not in ("cross_entropy", "brier"):
        raise ParameterError(f"label_smoothing={s:g} with loss={getattr(loss, '__name__', loss)!r}; smoothing applies to "
                             f"'cross_entropy' or 'brier' only (set it to 0)", parameter="label_smoothing")
    return loss, s


def describe_loss(loss, label_smoothing: float = 0.0) -> str:
    """One line naming the loss, for reports.

    Parameters
    ----------
    loss : str or callable
    label_smoothing : float

    Returns
    -------
    str

    Examples
    --------
    >>> describe_loss("cross_entropy"), describe_loss("brier", 0.1)
    ('mean cross-entropy', 'Brier score (squared error of softmax vs target), label smoothing 0.1')
    """
    loss, s = check_loss(loss, label_smoothing)
    text = {"cross_entropy": "mean cross-entropy", "mse": "mean squared error",
            "brier": "Brier score (squared error of softmax vs target)"}.get(loss) if isinstance(loss, str) else \
        f"mean of {getattr(loss, '__name__', type(loss).__name__)} (a user's loss)"
    return text + (f", label smoothing {s:g}" if s > 0 else "")


def _targets(outputs: torch.Tensor, targets: torch.Tensor, s: float) -> torch.Tensor:
    V = outputs.shape[-1]
    q = F.one_hot(targets.long(), V).to(outputs.dtype)
    return q if s == 0 else q * (1.0 - s) + s / V


def _cross_entropy(outputs, targets, s):
    return F.cross_entropy(outputs, targets.long(), reduction="none", label_smoothing=s)


def _brier(outputs, targets, s):
    return (torch.softmax(outputs, -1) - _targets(outputs, targets, s)).square().sum(-1)


def _mse(outputs, targets):
    d = outputs - targets.reshape(outputs.shape).to(outputs.dtype)
    return d.square().reshape(d.shape[0], -1).mean(1)


def loss_function(loss, label_smoothing: float = 0.0) -> Callable:
    """The per-example loss ``(outputs [n, ...], targets [n]) -> [n]`` of a choice (module docstring).

    Parameters
    ----------
    loss : str or callable
    label_smoothing : float

    Returns
    -------
    callable

    Raises
    ------
    ParameterError
        As :func:`check_loss`.

    Examples
    --------
    >>> import math
    >>> z = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    >>> round(loss_function("cross_entropy")(z, torch.tensor([1])).item(), 6) == round(math.log(2), 6)
    True
    >>> loss_function("brier")(z, torch.tensor([1])).item()  # (0.5 - 0)^2 + (0.5 - 1)^2
    0.5
    """
    loss, s = check_loss(loss, label_smoothing)
    if loss == "cross_entropy":
        return functools.partial(_cross_entropy, s=s)
    if loss == "brier":
        return functools.partial(_brier, s=s)
    if loss == "mse":
        return _mse
    return loss


def zero_one_error(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(1/n) sum_n [argmax_v z_nv != y_n] over the last axis of ``outputs`` [..., n, V]; shape [...].

    Parameters
    ----------
    outputs : torch.Tensor
        [..., n, V] scores (one leading axis per batch of copies).
    targets : torch.Tensor
        [n] or [..., n] integer classes.

    Returns
    -------
    torch.Tensor

    Examples
    --------
    >>> z = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]]])
    >>> zero_one_error(z, torch.tensor([0, 0, 0, 1])).tolist()
    [0.25]
    """
    return (outputs.argmax(-1) != targets).to(outputs.dtype).mean(-1)

