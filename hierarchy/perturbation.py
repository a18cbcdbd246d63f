"""Perturbations: first-class values that change one part of an optimizer's setup.

definitions.md, "Robustness and generalization" (Definitions 3 and 4): a perturbation
delta changes an optimizer's dataset, initialization, learning-rate schedule, capacity,
objective or environment, and A + delta is the perturbed optimizer. Here a perturbation
is a value with

* ``name``: short, readable, usable as a node name ("shift 0.1", "lr x2");
* ``kind``: which part it changes ("dataset", "initialization", "schedule", "capacity",
  "objective", ...); a change of ``objective`` makes the comparison a *generalization*
  (Definition 4), any other kind a *robustness* comparison (Definition 3);
* ``describe()``: one line for reports;
* ``apply(spec) -> spec``: the perturbed setup. Specs are frozen attrs values, so a
  perturbation returns ``attrs.evolve(spec, ...)`` and never mutates its input.

Perturbations compose: ``compose(p1, p2)`` (or ``p1 + p2``) applies p1, then p2. A
:class:`Family` is a named tuple of perturbations with unique names: the set over which
robustness is reported (worst case and spread). Concrete perturbations of gradient
descent live in ``agents.language_model.perturbations``; this module is the protocol and the algebra.
"""

from __future__ import annotations

from functools import reduce
from typing import Any, Mapping, Protocol, runtime_checkable

import attrs

from .errors import NotFoundError, ParameterError

__all__ = ["OBJECTIVE", "Perturbation", "check_perturbation", "kind_of", "changes_objective", "evolve_spec",
           "Composable", "Identity", "Composed", "compose", "Replace", "Family"]

#: The kind that turns a robustness comparison into a generalization one (Definition 4).
OBJECTIVE = "objective"


@runtime_checkable
class Perturbation(Protocol):
    """What a perturbation delta provides (Definitions 3 and 4): ``name``, ``describe()``
    and ``apply(spec) -> spec``, the setup of A + delta (``kind`` is optional:
    :func:`kind_of` reads "other" when it is missing).

    Parameters
    ----------
    name : str
        A short name, usable as a node name (no '/' or '@').

    Examples
    --------
    >>> isinstance(Identity(), Perturbation), isinstance(3, Perturbation)
    (True, False)
    """

    name: str

    def describe(self) -> str:
        """One line for reports.

        Returns
        -------
        str

        Examples
        --------
        >>> Replace("lr 2", {"lr": 2.0}).describe()
        'set lr = 2.0'
        """

    def apply(self, spec: Any) -> Any:
        """The perturbed spec (a new value; ``spec`` is unchanged).

        Parameters
        ----------
        spec : attrs value
            The unperturbed setup.

        Returns
        -------
        attrs value
            The setup of A + delta.

        Examples
        --------
        >>> @attrs.frozen
        ... class Spec:
        ...     lr: float = 1.0
        >>> Replace("lr 2", {"lr": 2.0}).apply(Spec())
        Spec(lr=2.0)
        """


def check_perturbation(p) -> Any:
    """Return ``p`` if it is a usable perturbation, else a ParameterError naming the fix.

    Rule: it has a non-empty string ``name`` without '/' or '@' (it becomes a node
    name), a callable ``describe`` and a callable ``apply``.

    Parameters
    ----------
    p : object
        The candidate perturbation.

    Returns
    -------
    Perturbation
        ``p`` itself.

    Raises
    ------
    ParameterError
        When ``p`` lacks ``name``, ``describe`` or ``apply``, or its name is not usable.

    Examples
    --------
    >>> check_perturbation(Identity()).name
    'identity'
    >>> check_perturbation(3)
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: 3 is not a perturbation; give a value with a name, describe() and apply(spec) -> spec (see hierarchy.perturbation)
    """
    if not (isinstance(p, Perturbation) and callable(getattr(p, "apply", None)) and callable(getattr(p, "describe", None))):
        raise ParameterError(f"{p!r} is not a perturbation; give a value with a name, describe() and apply(spec) -> spec "
                             f"(see hierarchy.perturbation)")
    name = p.name
    if not isinstance(name, str) or not name.strip() or "/" in name or "@" in name:
        raise ParameterError(f"perturbation name {name!r} is not usable; give a short non-empty name without '/' or '@'")
    return p


def kind_of(p) -> str:
    """The part of the setup ``p`` changes: its ``kind``, or "other" when it has none.

    Parameters
    ----------
    p : Perturbation

    Returns
    -------
    str
        "dataset", "initialization", "schedule", "capacity", "objective", ..., kinds of a
        composition joined by "+".

    Examples
    --------
    >>> kind_of(Identity()), kind_of(Replace("x", {"a": 1}))
    ('none', 'setup')
    """
    return str(getattr(p, "kind", "other"))


def changes_objective(p) -> bool:
    """True when ``p`` (or a part of a composition) changes the objective: Definition 4 applies.

    A comparison of A with A + delta is then a *generalization* (C_{A'}(L') against
    C_A(L)), otherwise a *robustness* comparison (Definition 3).

    Parameters
    ----------
    p : Perturbation

    Returns
    -------
    bool
        Whether :data:`OBJECTIVE` is among ``p``'s kinds.

    Examples
    --------
    >>> changes_objective(Replace("brier", {"loss": "brier"}, kind="objective"))
    True
    >>> changes_objective(Identity())
    False
    """
    return OBJECTIVE in kind_of(p).split("+")


def evolve_spec(spec, **changes):
    """``attrs.evolve(spec, **changes)`` with one-line errors: spec not an attrs value, unknown field.

    Parameters
    ----------
    spec : attrs value
        The setup to change.
    **changes
        New values of its fields.

    Returns
    -------
    attrs value
        A new spec; ``spec`` is unchanged.

    Raises
    ------
    ParameterError
        When ``spec`` is not an attrs value, or a change names a field it does not have.

    Examples
    --------
    >>> @attrs.frozen
    ... class Spec:
    ...     lr: float = 1.0
    >>> evolve_spec(Spec(), lr=0.5)
    Spec(lr=0.5)
    """
    if not attrs.has(type(spec)):
        raise ParameterError(f"cannot perturb {type(spec).__name__}: a spec must be a frozen attrs value (changed with attrs.evolve)")
    names = {f.name for f in attrs.fields(type(spec))}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise ParameterError(f"{type(spec).__name__} has no field {', '.join(map(repr, unknown))}; "
                             f"its fields are {', '.join(sorted(names))}")
    return attrs.evolve(spec, **changes)


class Composable:
    """Mixin giving a perturbation ``p1 + p2`` (= ``compose(p1, p2)``: p1 first, then p2).

    Parameters: none of its own (a mixin); the perturbation class it is mixed into has the fields.

    Examples
    --------
    >>> (Identity() + Replace("w", {"w": 1})).name
    'w'
    """

    def __add__(self, other):
        return compose(self, other)


@attrs.frozen
class Identity(Composable):
    """The perturbation that changes nothing: ``apply(spec) is spec``.

    The neutral element of :func:`compose` (as optax's ``identity()``).

    Parameters
    ----------
    name : str, optional
    kind : str, optional

    Examples
    --------
    >>> Identity().apply("spec"), Identity().describe()
    ('spec', 'no change')
    """

    name: str = "identity"
    kind: str = "none"

    def describe(self) -> str:
        """``'no change'``.

        Returns
        -------
        str

        Examples
        --------
        >>> Identity().describe()
        'no change'
        """
        return "no change"

    def apply(self, spec):
        """``spec`` itself: the neutral element of composition.

        Parameters
        ----------
        spec : object

        Returns
        -------
        object
            ``spec``.

        Examples
        --------
        >>> Identity().apply(1.5)
        1.5
        """
        return spec


@attrs.frozen
class Composed(Composable):
    """Several perturbations applied in order (build it with :func:`compose` or ``+``).

    Parameters
    ----------
    parts : tuple of Perturbation
        Applied left to right.

    Examples
    --------
    >>> c = Replace("a", {"a": 1}, kind="dataset") + Replace("b", {"b": 2}, kind="objective")
    >>> c.name, c.kind, c.describe()
    ('a + b', 'dataset+objective', 'set a = 1; then set b = 2')
    """

    parts: tuple

    @property
    def name(self) -> str:
        """The parts' names joined by " + ".

        Returns
        -------
        str

        Examples
        --------
        >>> Composed((Replace("a", {"a": 1}), Identity())).name
        'a + identity'
        """
        return " + ".join(p.name for p in self.parts)

    @property
    def kind(self) -> str:
        """The parts' distinct kinds joined by "+" (in order of first appearance).

        Returns
        -------
        str

        Examples
        --------
        >>> c = Composed((Replace("a", {"a": 1}, kind="dataset"), Replace("b", {"b": 2}, kind="objective"),
        ...               Replace("c", {"c": 3}, kind="dataset")))
        >>> c.kind
        'dataset+objective'
        """
        return "+".join(dict.fromkeys(kind_of(p) for p in self.parts))

    def describe(self) -> str:
        """The parts' descriptions joined with '; then '.

        Returns
        -------
        str

        Examples
        --------
        >>> Composed((Identity(), Identity())).describe()
        'no change; then no change'
        """
        return "; then ".join(p.describe() for p in self.parts)

    def apply(self, spec):
        """Each part applied in order, left to right.

        Parameters
        ----------
        spec : attrs value

        Returns
        -------
        attrs value

        Examples
        --------
        >>> @attrs.frozen
        ... class Spec:
        ...     lr: float = 1.0
        >>> Composed((Replace("a", {"lr": 2.0}), Replace("b", {"lr": 3.0}))).apply(Spec())
        Spec(lr=3.0)
        """
        return reduce(lambda s, p: p.apply(s), self.parts, spec)


def compose(*perturbations):
    """The perturbation applying each of ``perturbations`` in turn (the first one first).

    Rule: compositions are flattened, identities dropped; no part left gives
    :class:`Identity`, one part gives that part itself. The name joins the parts' names
    with " + ", the kind joins their kinds with "+".

    Parameters
    ----------
    *perturbations : Perturbation
        Applied in turn.

    Returns
    -------
    Perturbation
        :class:`Identity`, the single part, or a :class:`Composed`.

    Raises
    ------
    ParameterError
        When an argument is not a perturbation (:func:`check_perturbation`).

    Examples
    --------
    >>> lr = Replace("lr 0.5", {"lr": 0.5}, kind="schedule")
    >>> w = Replace("width 6", {"width": 6}, kind="capacity")
    >>> p = compose(lr, Identity(), w)
    >>> p.name, p.kind
    ('lr 0.5 + width 6', 'schedule+capacity')
    >>> @attrs.frozen
    ... class Spec:
    ...     lr: float = 1.0
    ...     width: int = 3
    >>> p.apply(Spec()), (lr + w).apply(Spec()) == p.apply(Spec())
    (Spec(lr=0.5, width=6), True)
    """
    parts = []
    for p in perturbations:
        check_perturbation(p)
        if isinstance(p, Composed):
            parts.extend(p.parts)
        elif not isinstance(p, Identity):
            parts.append(p)
    if not parts:
        return Identity()
    if len(parts) == 1:
        return parts[0]
    return Composed(tuple(parts))


def _frozen_items(value) -> tuple:
    if isinstance(value, Mapping):
        return tuple(value.items())
    return tuple(value)


@attrs.frozen
class Replace(Composable):
    """Set fields of the spec: ``apply(spec) = attrs.evolve(spec, **changes)``.

    The generic perturbation for any frozen attrs spec (a user's own leaf included).

    Parameters
    ----------
    name : str
        Its name.
    changes : mapping or iterable of (str, value)
        The fields to set.
    kind : str, optional
        The part of the setup it changes (default "setup").

    Examples
    --------
    >>> @attrs.frozen
    ... class Spec:
    ...     lr: float = 1.0
    >>> Replace("lr 2", {"lr": 2.0}, kind="schedule").apply(Spec())
    Spec(lr=2.0)
    """

    name: str
    changes: tuple = attrs.field(converter=_frozen_items)
    kind: str = "setup"

    def describe(self) -> str:
        """One line: "set field = value, ...".

        Returns
        -------
        str

        Examples
        --------
        >>> Replace("x", {"a": 1, "b": "c"}).describe()
        "set a = 1, b = 'c'"
        """
        return "set " + ", ".join(f"{k} = {v!r}" for k, v in self.changes)

    def apply(self, spec):
        """``attrs.evolve(spec, **changes)`` (:func:`evolve_spec`).

        Parameters
        ----------
        spec : attrs value

        Returns
        -------
        attrs value

        Raises
        ------
        ParameterError
            When ``spec`` is not an attrs value or has no such field.

        Examples
        --------
        >>> @attrs.frozen
        ... class Spec:
        ...     lr: float = 1.0
        >>> Replace("w", {"width": 2}).apply(Spec())
        Traceback (most recent call last):
        ...
        hierarchy.errors.ParameterError: Spec has no field 'width'; its fields are lr
        """
        return evolve_spec(spec, **dict(self.changes))


def _members(value) -> tuple:
    members = tuple(value)
    for p in members:
        check_perturbation(p)
    names = [p.name for p in members]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ParameterError(f"a family holds two perturbations named {', '.join(map(repr, dup))}; give each a unique name")
    return members


@attrs.frozen
class Family:
    """A named family of perturbations (unique names): robustness is reported over it.

    Indexing by position or slice gives members; by name, the member of that name
    (:class:`~hierarchy.errors.NotFoundError` when there is none); ``f1 + f2`` is the union.

    Parameters
    ----------
    name : str
        The family's name.
    members : iterable of Perturbation
        Its perturbations.

    Raises
    ------
    ParameterError
        When a member is not a perturbation, or two members share a name.

    Examples
    --------
    >>> f = Family("lr", [Replace("lr 0.5", {"lr": 0.5}, kind="schedule"),
    ...                   Replace("lr 2", {"lr": 2.0}, kind="schedule")])
    >>> len(f), f.names, f["lr 2"].describe()
    (2, ('lr 0.5', 'lr 2'), 'set lr = 2.0')
    """

    name: str
    members: tuple = attrs.field(converter=_members)

    def __iter__(self):
        return iter(self.members)

    def __len__(self) -> int:
        return len(self.members)

    @property
    def names(self) -> tuple:
        """The members' names, in order.

        Returns
        -------
        tuple of str

        Examples
        --------
        >>> Family("lr", [Replace("lr 2", {"lr": 2.0}), Replace("lr 0.5", {"lr": 0.5})]).names
        ('lr 2', 'lr 0.5')
        """
        return tuple(p.name for p in self.members)

    def __getitem__(self, key):
        if isinstance(key, (int, slice)):
            return self.members[key]
        for p in self.members:
            if p.name == key:
                return p
        raise NotFoundError(f"no perturbation named {key!r} in family {self.name!r}; it holds {', '.join(self.names)}")

    def __add__(self, other: "Family") -> "Family":
        """The union of two families (names must stay unique)."""
        return Family(f"{self.name} + {other.name}", self.members + tuple(other))

    def of_kind(self, *kinds: str) -> "Family":
        """The members whose kind (any part of a composed kind) is one of ``kinds``.

        Parameters
        ----------
        *kinds : str

        Returns
        -------
        Family

        Examples
        --------
        >>> f = Family("f", [Identity(), Replace("w", {"w": 1}, kind="capacity")])
        >>> f.of_kind("capacity").names
        ('w',)
        """
        keep = [p for p in self.members if set(kind_of(p).split("+")) & set(kinds)]
        return Family(f"{self.name} ({', '.join(kinds)})", keep)

    def apply(self, spec) -> tuple:
        """Every member applied to ``spec``: the perturbed specs, in order.

        Parameters
        ----------
        spec : attrs value

        Returns
        -------
        tuple

        Examples
        --------
        >>> @attrs.frozen
        ... class Spec:
        ...     lr: float = 1.0
        >>> Family("f", [Identity(), Replace("lr 2", {"lr": 2.0})]).apply(Spec())
        (Spec(lr=1.0), Spec(lr=2.0))
        """
        return tuple(p.apply(spec) for p in self.members)

    @classmethod
    def of(cls, name: str, *perturbations) -> "Family":
        """A family from perturbations given as arguments.

        Parameters
        ----------
        name : str
        *perturbations : Perturbation

        Returns
        -------
        Family

        Raises
        ------
        ParameterError
            As the constructor does.

        Examples
        --------
        >>> Family.of("f", Identity()).names
        ('identity',)
        """
        return cls(name, perturbations)
