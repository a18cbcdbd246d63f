"""The maze world's own error, in mesastack's one exception tree (hierarchy.errors)."""

from hierarchy.errors import ProtocolError

__all__ = ["EnvironmentProtocolError"]


class EnvironmentProtocolError(ProtocolError):
    """An environment that breaks the environment protocol of agents.maze.env (reset, step,
    n_actions), or is used against it (a step after the episode ended)."""
