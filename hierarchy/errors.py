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
    """An impossible parameter (steps < 1, a non-positive learning rate, ...)."""


class GraphError(MesastackError):
    """A delegation graph that cannot be run (cycle, two parents, unknown node, two objectives
    with one name on one chain, ...)."""


class LeafError(MesastackError):
    """A leaf optimizer that cannot step, or returned a malformed trajectory."""


class ObjectiveError(MesastackError):
    """An objective that is missing, misnamed or evaluates to the wrong shape."""


class ScenarioError(MesastackError):
    """An unknown scenario, or a scenario asked for something it cannot do."""


class FormatError(MesastackError):
    """A malformed file, or one in a format mesastack cannot read or write."""


class OutputError(MesastackError):
    """An output path that cannot be written."""


class NotFoundError(MesastackError, KeyError):
    """A figure, node or objective asked for by name that does not exist; the message names
    what does. Also a ``KeyError``, so ``except KeyError`` keeps working."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ProtocolError(MesastackError):
    """A user's component (an environment, a policy, ...) that breaks the protocol it claims
    to follow; worlds subclass it for their own protocols."""
