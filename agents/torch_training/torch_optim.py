"""A ``torch.optim`` optimizer as an optimizer value of the one training loop.

An elementwise torch optimizer (each coordinate's step depends only on that coordinate's
gradients and state) treats the flat population [K, P] as ONE parameter and is still
exact per copy: copy k's rows see only copy k's gradients. Each step:

    p <- theta;  p.grad <- g;  optimizer.step();  u = p - theta

and the loop applies u (theta_{t+1} = theta_t + u_t, the torch optimizer's own step to
float rounding). Optimizers that are not elementwise (LBFGS needs a closure and mixes
coordinates through line searches; Adafactor and Muon factor or orthogonalize a matrix,
which would mix the copies of a [K, P] tensor; SparseAdam needs sparse gradients) are
refused, as are ASGD and Rprop, whose step is not proportional to the learning rate (a
per-copy multiplier s_k of the step, :func:`agents.training.scale_per_copy`, is then not
a per-copy learning rate). Inactive (diverged) copies: the loop zeroes their gradient
and masks their step; their rows of the torch optimizer's state keep evolving, unread.
"""

from __future__ import annotations

import functools

import torch

from hierarchy.errors import ParameterError

from agents.training import GradientTransformation, materialize

__all__ = ["ELEMENTWISE", "torch_optimizer_class", "check_torch_optimizer", "from_torch_optim"]

#: The torch.optim classes accepted: elementwise, with a step proportional to the learning rate.
ELEMENTWISE = ("SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta")


def torch_optimizer_class(optimizer):
    """The torch.optim.Optimizer subclass ``optimizer`` builds (a class or a functools.partial of one), else None.

    Parameters
    ----------
    optimizer : object

    Returns
    -------
    type or None

    Examples
    --------
    >>> torch_optimizer_class(functools.partial(torch.optim.Adam, lr=1e-3)).__name__, torch_optimizer_class(3)
    ('Adam', None)
    """
    cls = optimizer.func if isinstance(optimizer, functools.partial) else optimizer
    if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer):
        return cls
    return None


def check_torch_optimizer(optimizer) -> type:
    """Refuse, in one line, a torch optimizer that is not one of :data:`ELEMENTWISE`; return its class.

    Parameters
    ----------
    optimizer : type or functools.partial

    Returns
    -------
    type

    Raises
    ------
    ParameterError
        When it is not a torch.optim class, or not an elementwise one.

    Examples
    --------
    >>> check_torch_optimizer(torch.optim.LBFGS)
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: torch.optim.LBFGS is not elementwise with a step proportional to its learning rate, so K copies cannot share one flat parameter exactly; give one of SGD, Adam, AdamW, Adamax, NAdam, RAdam, RMSprop, Adagrad, Adadelta, or an agents.training optimizer
    """
    cls = torch_optimizer_class(optimizer)
    if cls is None:
        raise ParameterError(f"optimizer={optimizer!r}; give an agents.training optimizer (sgd(0.1), adam(1e-3), ...) "
                             f"or a torch.optim class such as functools.partial(torch.optim.Adam, lr=1e-3)",
                             parameter="optimizer")
    if cls.__module__.split(".")[:2] != ["torch", "optim"] or cls.__name__ not in ELEMENTWISE:
        raise ParameterError(f"torch.optim.{cls.__name__} is not elementwise with a step proportional to its learning "
                             f"rate, so K copies cannot share one flat parameter exactly; give one of "
                             f"{', '.join(ELEMENTWISE)}, or an agents.training optimizer", parameter="optimizer")
    return cls


def from_torch_optim(optimizer) -> GradientTransformation:
    """The optimizer value that steps ``optimizer`` (a torch.optim class or partial) on the flat [K, P] tensor.

    u_t = (theta_t after ``optimizer.step()`` with gradient g_t) - theta_t (module docstring).

    Parameters
    ----------
    optimizer : type or functools.partial
        E.g. ``torch.optim.SGD`` with its arguments bound: ``functools.partial(torch.optim.SGD, lr=0.1)``.

    Returns
    -------
    GradientTransformation
        Named ``torch.optim.<Class>(<its arguments>)``.

    Raises
    ------
    ParameterError
        As :func:`check_torch_optimizer`; at ``init``, when the class refuses its arguments.

    Examples
    --------
    >>> from agents.training import StepInfo, as_updates
    >>> t = from_torch_optim(functools.partial(torch.optim.SGD, lr=0.5))
    >>> p = torch.ones(2, 1, dtype=torch.float64)
    >>> u, _ = t.update(as_updates(torch.tensor([[1.0], [2.0]], dtype=torch.float64)), t.init(p), p, StepInfo(0, None))
    >>> str(t), materialize(u).tolist()
    ('torch.optim.SGD(lr=0.5)', [[-0.5], [-1.0]])
    """
    cls = check_torch_optimizer(optimizer)
    kwargs = dict(optimizer.keywords) if isinstance(optimizer, functools.partial) else {}
    args = tuple(optimizer.args) if isinstance(optimizer, functools.partial) else ()
    label = f"torch.optim.{cls.__name__}(" + ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]) + ")"

    def init(params):
        shadow = torch.nn.Parameter(params.detach().clone())
        try:
            opt = optimizer([shadow])
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"{label} refused its arguments: {str(exc).splitlines()[0]}; fix them",
                                 parameter="optimizer") from None
        return {"p": shadow, "opt": opt, "g": torch.empty_like(params), "u": torch.empty_like(params)}

    def update(updates, state, params, info):
        p = state["p"]
        with torch.no_grad():
            p.copy_(params)
        p.grad = materialize(updates, state["g"])
        state["opt"].step()
        with torch.no_grad():
            u = torch.sub(p, params, out=state["u"])
        return ((u, 1.0, None),), state

    return GradientTransformation(init, update, label)
