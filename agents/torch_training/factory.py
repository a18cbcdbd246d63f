"""Building a user's module from its factory, with a seeded start that touches no global state.

A factory ``model()`` (or ``model(hidden=...)``) initializes its parameters with torch's
default CPU generator, the only one ``nn.Module`` constructors read. :func:`build` calls it
inside ``torch.random.fork_rng`` with that generator seeded from
``hierarchy.seeding.torch_seed(seed)``: the start is a function of the seed alone, and the
generator's state outside is restored afterwards (nothing else a process draws changes).
Factories build on the CPU (a factory that builds on a GPU draws from that device's
generator, which is not seeded here).
"""

from __future__ import annotations

from typing import Callable, Optional

import torch

from hierarchy.errors import ParameterError
from hierarchy.seeding import SeedLike, torch_seed

__all__ = ["build"]


def build(model: Callable, hidden: Optional[tuple], seed: SeedLike) -> torch.nn.Module:
    """``model()`` or ``model(hidden=hidden)``, initialized from ``seed`` (module docstring).

    Parameters
    ----------
    model : callable
        The factory.
    hidden : tuple of int or None
        Passed as ``hidden=`` when not None.
    seed : int or numpy.random.SeedSequence

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    ParameterError
        When the factory takes no ``hidden`` argument, fails, or returns something other
        than an ``nn.Module`` (one line naming the fix).

    Examples
    --------
    >>> a = build(lambda: torch.nn.Linear(2, 1), None, 0).weight
    >>> bool(torch.equal(a, build(lambda: torch.nn.Linear(2, 1), None, 0).weight))
    True
    >>> build(lambda: torch.nn.Linear(2, 1), (4,), 0)
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: the model factory takes no hidden= argument (TypeError: <lambda>() got an unexpected keyword argument 'hidden'); give a factory model(hidden=(...)) to change its widths, or leave hidden=None
    """
    name = getattr(model, "__name__", type(model).__name__)
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(torch_seed(seed))
        try:
            module = model() if hidden is None else model(hidden=hidden)
        except TypeError as exc:
            if hidden is not None and "hidden" in str(exc):
                raise ParameterError(f"the model factory takes no hidden= argument ({type(exc).__name__}: "
                                     f"{str(exc).splitlines()[0]}); give a factory model(hidden=(...)) to change its widths, "
                                     f"or leave hidden=None", parameter="hidden") from None
            raise ParameterError(f"the model factory {name} failed: TypeError: {str(exc).splitlines()[0]}; give a callable "
                                 f"returning a fresh torch.nn.Module", parameter="model") from None
        except Exception as exc:  # a user's factory failing is reported in one line
            raise ParameterError(f"the model factory {name} failed: {type(exc).__name__}: {str(exc).splitlines()[0]}; "
                                 f"fix the factory", parameter="model") from None
    if not isinstance(module, torch.nn.Module):
        raise ParameterError(f"the model factory {name} returned {type(module).__name__}; give a callable returning a fresh "
                             f"torch.nn.Module (e.g. lambda: nn.Sequential(...))", parameter="model")
    return module
