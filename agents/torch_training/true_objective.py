"""The true objective of a ``torch.optim`` optimizer, read off its state inside a user's own loop.

The same quantities as the one training loop records (:mod:`agents.training.true_objectives`,
docs/true_objectives.md), summed over every parameter the optimizer holds, for a monitor
(:class:`scenarios.machinery.monitor.Monitor`) fed from a plain torch loop. Call it right after
``optimizer.step()``: it then describes the step just taken from theta_t, which is what index t
of the loop's records holds.

* ``torch.optim.SGD`` without momentum: G = |g|^2 (the gradients in ``p.grad``);
* with momentum mu (dampening 0, not Nesterov or Nesterov): G_momentum / G_nesterov =
  |g|^2 + (1 - mu)^2 |buf|^2 (``momentum_buffer`` is v_{t+1});
* ``torch.optim.Adam``: G_adam = |m_hat / (sqrt(v_hat) + eps)|^2 from ``exp_avg``,
  ``exp_avg_sq`` and ``step``; ``torch.optim.AdamW`` adds w theta_t: G_adamw (theta_t is
  recovered from theta_{t+1} = theta_t (1 - lr w) - lr d_t).
"""

from __future__ import annotations

import math

import torch

from hierarchy.errors import ParameterError

__all__ = ["true_objective", "true_objective_name"]


def true_objective_name(optimizer: torch.optim.Optimizer) -> str:
    """The name of ``optimizer``'s true objective ("G", "G_momentum", "G_nesterov", "G_adam", "G_adamw").

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        SGD (with or without momentum), Adam or AdamW.

    Returns
    -------
    str

    Raises
    ------
    ParameterError
        For another optimizer, or an option (amsgrad, dampening, maximize) whose fixed points are not derived here.

    Examples
    --------
    >>> p = [torch.nn.Parameter(torch.zeros(2))]
    >>> true_objective_name(torch.optim.SGD(p, lr=0.1, momentum=0.9)), true_objective_name(torch.optim.Adam(p))
    ('G_momentum', 'G_adam')
    """
    kind = type(optimizer)
    groups = optimizer.param_groups
    if any(g.get("maximize", False) for g in groups):
        raise ParameterError("maximize=True: the true objectives here are for minimizers; train the negated loss instead")
    if kind is torch.optim.SGD:
        if any(g.get("dampening", 0) for g in groups):
            raise ParameterError("SGD with dampening: its true objective is not derived here; use dampening=0")
        mu = {g["momentum"] for g in groups}
        if mu == {0}:
            return "G"
        return "G_nesterov" if any(g.get("nesterov", False) for g in groups) else "G_momentum"
    if kind in (torch.optim.Adam, torch.optim.AdamW):
        if any(g.get("amsgrad", False) for g in groups):
            raise ParameterError("amsgrad=True: its true objective is not derived here; use amsgrad=False")
        return "G_adamw" if kind is torch.optim.AdamW else "G_adam"
    raise ParameterError(f"no true objective derived for {kind.__name__}; use SGD, Adam or AdamW, or record the "
                         f"squared update size U = |theta_(t+1) - theta_t|^2 yourself")


def true_objective(optimizer: torch.optim.Optimizer) -> float:
    """``optimizer``'s true objective after its last ``step()`` (module docstring), summed over its parameters.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        SGD, Adam or AdamW that has taken at least one step (SGD without momentum: the
        gradients in ``p.grad`` are read).

    Returns
    -------
    float

    Raises
    ------
    ParameterError
        As :func:`true_objective_name`, or before the first step.

    Examples
    --------
    >>> p = torch.nn.Parameter(torch.tensor([3.0, -4.0], dtype=torch.float64))
    >>> opt = torch.optim.Adam([p], lr=0.1)
    >>> (p ** 2).sum().backward(); opt.step()
    >>> round(true_objective(opt), 6)  # the first step is sign(g) per coordinate: |(1, -1)|^2
    2.0
    """
    name = true_objective_name(optimizer)
    total = 0.0
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p.grad is None and name in ("G", "G_momentum", "G_nesterov"):
                continue
            state = optimizer.state.get(p, {})
            g = p.grad.detach() if p.grad is not None else None
            if name == "G":
                total += float((g * g).sum())
            elif name in ("G_momentum", "G_nesterov"):
                buf = state.get("momentum_buffer")
                if buf is None:
                    raise ParameterError("the optimizer has taken no step; call true_objective after optimizer.step()")
                total += float((g * g).sum()) + (1 - group["momentum"]) ** 2 * float((buf * buf).sum())
            else:
                if "step" not in state:
                    raise ParameterError("the optimizer has taken no step; call true_objective after optimizer.step()")
                b1, b2 = group["betas"]
                n = float(state["step"])
                m_hat = state["exp_avg"] / (1 - b1 ** n)
                v_hat = state["exp_avg_sq"] / (1 - b2 ** n)
                d = m_hat / (v_hat.sqrt() + group["eps"])
                if name == "G_adamw":
                    lr, w = float(group["lr"]), float(group["weight_decay"])
                    theta_t = (p.detach() + lr * d) / (1 - lr * w) if lr * w != 1 else p.detach() * math.nan
                    d = d + w * theta_t
                total += float((d * d).sum())
    return total
