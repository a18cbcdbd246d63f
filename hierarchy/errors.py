"""The one exception tree of mesastack.

Every user mistake raises a subclass of :class:`MesastackError` whose message names
what was wrong and how to fix it, in one line. The core never names a command-line
flag: an error about one parameter says which in ``parameter`` (``"steps"``, ``"seed"``,
``"resume"``, ...), and the CLI adds its own hint (the flag) when it prints the line.
Nothing else is caught.

A world's own errors (the maze environment's, ...) live in that world's package and
subclass one of these, so ``except MesastackError`` still catches them.
"""

from __future__ import annotations

from typing import Optional

__all__ = ["MesastackError", "ParameterError", "GraphError", "LeafError", "ObjectiveError", "ScenarioError",
           "FormatError", "OutputError", "NotFoundError", "ProtocolError"]


class MesastackError(Exception):
    """Root of every error mesastack raises on purpose.

    Every subclass takes the same parameters.

    Parameters
    ----------
    message : str
        One line: the problem and the fix.
    parameter : str, optional
        The parameter at fault (``"steps"``, ``"seed"``, ``"horizon"``, ``"out"``,
        ``"resume"``), for a front end to point at its own option.

    Examples
    --------
    >>> e = MesastackError("steps=0 must be a positive integer; run at least one step", parameter="steps")
    >>> str(e), e.parameter
    ('steps=0 must be a positive integer; run at least one step', 'steps')
    """

    def __init__(self, *args, parameter: Optional[str] = None):
        super().__init__(*args)
        self.parameter = parameter


class ParameterError(MesastackError, ValueError):
    """An impossible parameter (steps < 1, a non-positive learning rate, ...).

    Parameters
    ----------
    message, parameter
        As :class:`MesastackError`: its parameters, unchanged.

    Examples
    --------
    >>> from hierarchy.estimator import Estimator
    >>> try:
    ...     Estimator("median")
    ... except ParameterError as e:
    ...     print(isinstance(e, ValueError), e)
    True kind='median' must be one of finite, limit; choose one of finite, limit
    """


class GraphError(MesastackError):
    """A delegation graph that cannot be run (cycle, two parents, unknown node, two objectives
    with one name on one chain, ...).

    Parameters
    ----------
    message, parameter
        As :class:`MesastackError`: its parameters, unchanged.

    Examples
    --------
    >>> from hierarchy.graph import DelegationGraph
    >>> DelegationGraph([], [])
    Traceback (most recent call last):
    ...
    hierarchy.errors.GraphError: the delegation graph has no node; add at least a designer and one leaf optimizer
    """


class LeafError(MesastackError):
    """A leaf optimizer that cannot step, or returned a malformed trajectory.

    Parameters
    ----------
    message, parameter
        As :class:`MesastackError`: its parameters, unchanged.

    Examples
    --------
    >>> raise LeafError("leaf 'gd' returned L of shape (3,); return values [K, steps + 1]")
    Traceback (most recent call last):
    ...
    hierarchy.errors.LeafError: leaf 'gd' returned L of shape (3,); return values [K, steps + 1]
    """


class ObjectiveError(MesastackError):
    """An objective that is missing, misnamed or evaluates to the wrong shape.

    Parameters
    ----------
    message, parameter
        As :class:`MesastackError`: its parameters, unchanged.

    Examples
    --------
    >>> from hierarchy.objective import Objective
    >>> Objective("L")([[0.0]])
    Traceback (most recent call last):
    ...
    hierarchy.errors.ObjectiveError: objective 'L' is recorded by the leaf, not evaluated on states; read it from the trajectory instead
    """


class ScenarioError(MesastackError):
    """An unknown scenario, or a scenario asked for something it cannot do.

    Parameters
    ----------
    message, parameter
        As :class:`MesastackError`: its parameters, unchanged.

    Examples
    --------
    >>> isinstance(ScenarioError("unknown scenario 'abc'; run `mesastack list`"), MesastackError)
    True
    """


class FormatError(MesastackError):
    """A malformed file, or one in a format mesastack cannot read or write.

    Parameters
    ----------
    message, parameter
        As :class:`MesastackError`: its parameters, unchanged.

    Examples
    --------
    >>> str(FormatError("graph.xml is not GraphML; write it with write_graphml"))
    'graph.xml is not GraphML; write it with write_graphml'
    """


class OutputError(MesastackError):
    """An output path that cannot be written.

    Parameters
    ----------
    message, parameter
        As :class:`MesastackError`: its parameters, unchanged.

    Examples
    --------
    >>> OutputError("out/ is a file; pick a directory", parameter="out").parameter
    'out'
    """


class NotFoundError(MesastackError, KeyError):
    """A figure, node or objective asked for by name that does not exist; the message names
    what does. Also a ``KeyError``, so ``except KeyError`` keeps working.

    Parameters
    ----------
    message, parameter
        As :class:`MesastackError`: its parameters, unchanged.

    Examples
    --------
    >>> e = NotFoundError("no figure 'C[G]'; the report has 'C[L]'")
    >>> isinstance(e, KeyError), str(e)
    (True, "no figure 'C[G]'; the report has 'C[L]'")
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ProtocolError(MesastackError):
    """A user's component (an environment, a policy, ...) that breaks the protocol it claims
    to follow; worlds subclass it for their own protocols.

    Parameters
    ----------
    message, parameter
        As :class:`MesastackError`: its parameters, unchanged.

    Examples
    --------
    >>> class EnvironmentProtocolError(ProtocolError):
    ...     pass
    >>> issubclass(EnvironmentProtocolError, MesastackError)
    True
    """
