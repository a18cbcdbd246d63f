"""The one exception tree of mesastack.

Every user mistake raises a subclass of :class:`MesastackError` whose message names
what was wrong and how to fix it, in one line. The CLI prints that line and exits
non-zero; nothing else is caught.
"""


class MesastackError(Exception):
    """Root of every error mesastack raises on purpose."""


class ParameterError(MesastackError, ValueError):
    """An impossible parameter (steps < 1, a non-positive learning rate, ...)."""


class GraphError(MesastackError):
    """A delegation graph that cannot be run (cycle, two parents, unknown node, ...)."""


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


class EnvironmentError_(MesastackError):
    """An environment that breaks the environment protocol."""
