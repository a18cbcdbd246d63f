"""A module's parameters as one flat row, and back: the [K, P] layout of a population.

Layout (per copy): the module's ``named_parameters()`` in their order, each flattened
row-major, concatenated; P = sum of their numels. Row k of a [K, P] array is copy k.
:meth:`Layout.views` cuts a row into tensors of the parameters' shapes that are *views* of
it (no copy), so a function of the views is a function of the row: its gradient with
respect to the row is the flat gradient [P] in the same layout.
"""

from __future__ import annotations

import attrs
import numpy as np
import torch

from hierarchy.errors import ParameterError

__all__ = ["Layout"]


@attrs.frozen
class Layout:
    """Where each named parameter of a module sits in a flat row of P numbers.

    Parameters
    ----------
    names : tuple of str
        The parameters' names, in ``named_parameters()`` order.
    shapes : tuple of tuple of int
        Their shapes.

    Examples
    --------
    >>> lay = Layout.of(torch.nn.Linear(3, 2))
    >>> lay.names, lay.shapes, lay.sizes, lay.P
    (('weight', 'bias'), ((2, 3), (2,)), (6, 2), 8)
    """

    names: tuple = attrs.field(converter=tuple)
    shapes: tuple = attrs.field(converter=lambda s: tuple(tuple(int(d) for d in x) for x in s))

    @classmethod
    def of(cls, module: torch.nn.Module) -> "Layout":
        """The layout of ``module``'s named parameters.

        Parameters
        ----------
        module : torch.nn.Module

        Returns
        -------
        Layout

        Raises
        ------
        ParameterError
            When the module has no parameter (nothing to train).

        Examples
        --------
        >>> Layout.of(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Tanh())).names
        ('0.weight', '0.bias')
        """
        named = list(module.named_parameters())
        if not named:
            raise ParameterError(f"the model {type(module).__name__} has no parameters; give a module with something to train")
        return cls(tuple(n for n, _ in named), tuple(tuple(p.shape) for _, p in named))

    @property
    def sizes(self) -> tuple:
        """The numel of each parameter.

        Returns
        -------
        tuple of int

        Examples
        --------
        >>> Layout(("w",), ((2, 3),)).sizes
        (6,)
        """
        return tuple(int(np.prod(s, dtype=np.int64)) for s in self.shapes)

    @property
    def P(self) -> int:
        """P = sum of the parameters' numels: the length of one copy's row.

        Returns
        -------
        int

        Examples
        --------
        >>> Layout(("w", "b"), ((2, 3), (3,))).P
        9
        """
        return int(sum(self.sizes))

    def views(self, row: torch.Tensor) -> dict:
        """name -> a view of ``row`` [P] shaped like that parameter (no copy).

        Parameters
        ----------
        row : torch.Tensor
            [P].

        Returns
        -------
        dict

        Examples
        --------
        >>> v = Layout(("w", "b"), ((2, 2), (2,))).views(torch.arange(6.0))
        >>> v["w"].tolist(), v["b"].tolist()
        ([[0.0, 1.0], [2.0, 3.0]], [4.0, 5.0])
        """
        return {n: t.view(s) for n, t, s in zip(self.names, torch.split(row, self.sizes), self.shapes)}

    def flatten(self, module: torch.nn.Module) -> np.ndarray:
        """``module``'s parameters as one float64 row [P] in this layout.

        Parameters
        ----------
        module : torch.nn.Module
            A module of this layout.

        Returns
        -------
        numpy.ndarray

        Raises
        ------
        ParameterError
            When the module's parameters do not match the layout (another shape).

        Examples
        --------
        >>> m = torch.nn.Linear(1, 1)
        >>> with torch.no_grad():
        ...     _ = m.weight.fill_(2.0), m.bias.fill_(-1.0)
        >>> Layout.of(m).flatten(m).tolist()
        [2.0, -1.0]
        """
        if Layout.of(module) != self:
            raise ParameterError(f"the module {type(module).__name__} has another parameter layout; "
                                 f"build it with the same factory and hidden widths")
        return torch.cat([p.detach().reshape(-1).to(torch.float64).cpu() for _, p in module.named_parameters()]).numpy()

    def load(self, module: torch.nn.Module, row) -> torch.nn.Module:
        """Write ``row`` [P] into ``module``'s parameters (in place, in their dtype); returns the module.

        Parameters
        ----------
        module : torch.nn.Module
        row : array-like or torch.Tensor
            [P] numbers in this layout.

        Returns
        -------
        torch.nn.Module

        Raises
        ------
        ParameterError
            When ``row`` does not hold P numbers.

        Examples
        --------
        >>> m = torch.nn.Linear(1, 1)
        >>> Layout.of(m).load(m, [3.0, 4.0]).weight.item()
        3.0
        """
        r = torch.as_tensor(np.asarray(row, dtype=np.float64) if not isinstance(row, torch.Tensor) else row)
        if tuple(r.shape) != (self.P,):
            raise ParameterError(f"a row of shape {tuple(r.shape)}; give the P = {self.P} parameters of one copy")
        views = self.views(r)
        with torch.no_grad():
            for n, p in module.named_parameters():
                p.copy_(views[n].to(p.dtype))
        return module
