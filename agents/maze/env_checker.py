"""The environment checker: does a user's environment follow the protocol of agents.maze.env?

Like Gymnasium's ``check_env``, :func:`check_env` is a composition of small named checks,
each raising a one-line :class:`~hierarchy.errors.EnvironmentProtocolError` that names the fix:

* :func:`check_methods`: ``reset``, ``step`` and a positive integer ``n_actions``;
* :func:`check_reset`: ``reset(seed=s)`` returns ``(observation, info)``, a finite numpy
  array and a dict; :func:`check_reset_options`: ``reset(seed=s, options={})`` is accepted;
* :func:`check_step`: ``step`` returns ``(observation, reward_seen, terminated, truncated,
  info)`` with the reset's shape and dtype, a finite real reward, two bools, and the
  designer's reward in ``info["performance"]``, apart from the seen reward;
* :func:`check_reset_seed`: the same seed and actions repeat the same episode;
* :func:`check_seed_changes`: different seeds give different episodes (an environment that
  ignores its seed fails; one with nothing random, such as a fixed maze, skips it with
  ``random=False``).
"""

from __future__ import annotations

import numpy as np

from hierarchy.errors import MesastackError
from agents.maze.errors import EnvironmentProtocolError

__all__ = ["check_env", "check_methods", "check_reset", "check_reset_options", "check_step", "check_reset_seed",
           "check_seed_changes", "CHECKS"]


def _name(env) -> str:
    return type(env).__name__


def _call(env, method: str, *args, **kwargs):
    try:
        return getattr(env, method)(*args, **kwargs)
    except MesastackError:
        raise
    except Exception as exc:
        raise EnvironmentProtocolError(f"environment {_name(env)}.{method} failed: {type(exc).__name__}: {exc}; fix that "
                                f"method") from exc


def check_methods(env) -> int:
    """``reset`` and ``step`` are callable and ``n_actions`` is a positive integer; returns ``n_actions``."""
    for method in ("reset", "step"):
        if not callable(getattr(env, method, None)):
            raise EnvironmentProtocolError(f"environment {_name(env)} has no {method}() method; give it "
                                    f"reset(seed=None, options=None) and step(action)")
    n = getattr(env, "n_actions", None)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise EnvironmentProtocolError(f"environment {_name(env)} has n_actions={n!r}; state its number of actions "
                                f"(actions are 0 .. n_actions - 1)")
    return int(n)


def check_reset(env, seed: int = 0) -> tuple:
    """``reset(seed=seed)`` returns ``(observation, info)``: a finite numpy array and a dict."""
    out = _call(env, "reset", seed=seed)
    if not isinstance(out, tuple) or len(out) != 2:
        raise EnvironmentProtocolError(f"{_name(env)}.reset returned {type(out).__name__}; return a tuple (observation, info)")
    obs, info = out
    if not isinstance(obs, np.ndarray):
        raise EnvironmentProtocolError(f"{_name(env)}.reset returned {type(obs).__name__}; return the observation as a numpy array")
    if not np.all(np.isfinite(obs)):
        raise EnvironmentProtocolError(f"{_name(env)}.reset returned a non-finite observation; return finite numbers")
    if not isinstance(info, dict):
        raise EnvironmentProtocolError(f"{_name(env)}.reset returned info of type {type(info).__name__}; return a dict")
    return obs, info


def check_reset_options(env, seed: int = 0) -> None:
    """``reset(seed=seed, options={})`` is accepted (Gymnasium's protocol)."""
    _call(env, "reset", seed=seed, options={})


def _check_step_output(env, out, shape, dtype) -> tuple:
    name = _name(env)
    if not isinstance(out, tuple) or len(out) != 5:
        raise EnvironmentProtocolError(
            f"{name}.step returned {type(out).__name__} of length {len(out) if hasattr(out, '__len__') else '?'}; "
            f"return a tuple (observation, reward_seen, terminated, truncated, info)")
    obs, reward, terminated, truncated, info = out
    if not isinstance(obs, np.ndarray) or obs.shape != shape or obs.dtype != dtype:
        raise EnvironmentProtocolError(f"{name}.step changed the observation to {getattr(obs, 'shape', type(obs).__name__)} "
                                f"{getattr(obs, 'dtype', '')} from {shape} {dtype}; keep one shape and dtype")
    if (isinstance(reward, bool) or not isinstance(reward, (float, int, np.floating, np.integer))
            or not np.isfinite(reward)):
        raise EnvironmentProtocolError(f"{name}.step returned reward {reward!r}; return a finite float")
    for flag, value in (("terminated", terminated), ("truncated", truncated)):
        if not isinstance(value, (bool, np.bool_)):
            raise EnvironmentProtocolError(f"{name}.step returned {flag}={value!r}; return a bool")
    if not isinstance(info, dict) or "performance" not in info:
        raise EnvironmentProtocolError(f"{name}.step returned info without 'performance'; put the designer's reward in "
                                f"info['performance'], apart from the reward the agent sees")
    return obs, float(reward), bool(terminated), bool(truncated), float(info["performance"])


def _episode(env, seed: int, actions) -> list:
    """The record of reset(seed) then ``actions`` (an ended episode restarts with reset())."""
    obs, _ = check_reset(env, seed)
    shape, dtype = obs.shape, obs.dtype
    record = [obs]
    for a in actions:
        step = _check_step_output(env, _call(env, "step", int(a)), shape, dtype)
        record.append(step)
        if step[2] or step[3]:
            record.append(check_reset(env, None)[0])
    return record


def _same(a: list, b: list) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        xs, ys = (x if isinstance(x, tuple) else (x,)), (y if isinstance(y, tuple) else (y,))
        if not all(np.array_equal(u, v) for u, v in zip(xs, ys)):
            return False
    return True


def _actions(env, seed: int, steps: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, check_methods(env), size=int(steps))


def check_step(env, seed: int = 0, steps: int = 12) -> tuple:
    """``steps`` random actions from ``reset(seed)`` each return a well-formed 5-tuple; returns the
    observation shape."""
    record = _episode(env, seed, _actions(env, seed, steps))
    return record[0].shape


def check_reset_seed(env, seed: int = 0, steps: int = 12) -> None:
    """The same seed and actions give the same observations, rewards, flags and performance."""
    actions = _actions(env, seed, steps)
    if not _same(_episode(env, seed, actions), _episode(env, seed, actions)):
        raise EnvironmentProtocolError(f"{_name(env)} is not reproducible: the same seed and actions gave different results; "
                                f"draw all randomness from reset(seed)")


def check_seed_changes(env, seed: int = 0, steps: int = 12, tries: int = 4) -> None:
    """Some seed among ``seed + 1 .. seed + tries`` gives another episode than ``seed`` under the same actions."""
    actions = _actions(env, seed, steps)
    first = _episode(env, seed, actions)
    if all(_same(first, _episode(env, seed + i, actions)) for i in range(1, int(tries) + 1)):
        raise EnvironmentProtocolError(f"{_name(env)} ignores its seed: seeds {seed} to {seed + tries} gave the same "
                                f"episode; draw the randomness from reset(seed), or pass random=False for an "
                                f"environment with nothing random")


#: The checks :func:`check_env` runs, in order.
CHECKS = (check_methods, check_reset, check_reset_options, check_step, check_reset_seed, check_seed_changes)


def check_env(env, seed: int = 0, steps: int = 12, random: bool = True) -> tuple:
    """Validate a user's environment against the protocol, like Gymnasium's checker.

    Runs :data:`CHECKS` in order (the module docstring lists them); ``random=False`` skips
    :func:`check_seed_changes` for an environment with nothing random (a fixed maze).

    Parameters
    ----------
    env : object
        The environment: ``reset(seed=None, options=None)``, ``step(action)``, ``n_actions``.
    seed : int
        The seed of the checked episodes (and of their random actions).
    steps : int
        Actions per checked episode (an episode that ends restarts with ``reset()``).
    random : bool
        Whether the environment draws anything from its seed.

    Returns
    -------
    tuple
        The observation shape.

    Raises
    ------
    EnvironmentProtocolError
        At the first check that fails, in one line naming the fix.

    Examples
    --------
    >>> from agents.maze.env import MazeEnv
    >>> from agents.maze.grid import MazeDistribution
    >>> check_env(MazeEnv(MazeDistribution(size=4)))
    (4, 4, 9)
    """
    check_methods(env)
    check_reset(env, seed)
    check_reset_options(env, seed)
    shape = check_step(env, seed, steps)
    check_reset_seed(env, seed, steps)
    if random:
        check_seed_changes(env, seed, steps)
    return shape
