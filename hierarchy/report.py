"""The Report: every figure of a run with its estimator, the claims checked, and renderings.

A report is a frozen value built from measurements; rendering (terminal table, JSON)
is pure and returns strings; writing them is the caller's business.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping, Optional

import attrs
import numpy as np

from .decision import FAILS, HOLDS, POOLED_RULE, UNDECIDED, Z, SeedCount, decide, pooled_verdict
from .errors import ParameterError
from .estimator import Estimator
from .figures import SPREAD_LEGEND, Spread, format_number, _json_float
from .measure import Measurements

__all__ = ["json_ready", "Claim", "Table", "render_table", "wrap_text", "TERMINAL_WIDTH", "Report", "build_report"]


def json_ready(x: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python, tuples -> lists.

    Mappings get string keys, arrays become lists, a :class:`~hierarchy.figures.Spread`
    its :meth:`~hierarchy.figures.Spread.to_dict`; anything else is returned as is.

    Parameters
    ----------
    x : object

    Returns
    -------
    object
        Made of dict, list, str, int, float, bool and None where ``x`` is made of the
        types above.

    Examples
    --------
    >>> json_ready({"a": (np.float64(1.5), float("nan")), 2: np.arange(2)})
    {'a': [1.5, None], '2': [0, 1]}
    """
    if isinstance(x, Mapping):
        return {str(k): json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_ready(v) for v in x]
    if isinstance(x, np.ndarray):
        return json_ready(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return _json_float(float(x))
    if isinstance(x, Spread):
        return x.to_dict()
    return x


def _number(v):
    if isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, (bool, np.bool_)):
        return float(v)
    return v


@attrs.frozen
class Claim:
    """A claim of the source texts checked on a run, decided three ways (:mod:`hierarchy.decision`).

    ``verdict`` is ``holds``, ``fails`` or ``undecided``, from ``margin`` (positive when
    the claim holds) compared with ``resolution`` (z times the margin's standard error)
    under ``rule``; ``numbers`` are the figures that entered it; ``undefined`` marks a
    claim left undecided because a number it needs is undefined; ``seeds`` (a
    :class:`~hierarchy.decision.SeedCount`) how it came out over independent seeds, when
    it was replicated. ``holds`` is True / False / None (undecided) for older readers.
    Build one with :meth:`compare`, :meth:`exact`, :meth:`all_of` or :meth:`replicated`.

    Parameters
    ----------
    text : str
        The claim as the source texts state it.
    numbers : dict
        The figures that entered the decision, by name.
    verdict : str
        ``'holds'``, ``'fails'`` or ``'undecided'``.
    margin : float
        Positive when the claim holds (NaN when undefined).
    resolution : float
        The margin's resolution, z standard errors (0 for an exact comparison).
    rule : str, optional
        How the verdict was decided (one line).
    undefined : bool, optional
        True when a number the claim needs is undefined (the verdict is then undecided).
    seeds : SeedCount, optional
        The verdicts over independent seeds, when the claim was replicated.

    Examples
    --------
    >>> c = Claim.compare("alpha_B < alpha_A", {"alpha_A": 0.3, "alpha_B": 0.2}, margin=0.3 - 0.2,
    ...                   standard_error=0.01, rule="alpha_A - alpha_B against 2 standard errors")
    >>> c.verdict, c.holds, round(c.resolution, 3)
    ('holds', True, 0.02)
    >>> Claim.compare("x > 0", {"x": float("nan")}, margin=float("nan"), standard_error=0.1).label
    'undecided (undefined)'
    """

    text: str
    numbers: dict
    verdict: str
    margin: float
    resolution: float
    rule: str = ""
    undefined: bool = False
    seeds: Optional[SeedCount] = None

    @property
    def holds(self) -> Optional[bool]:
        """True, False or None (undecided), from the verdict.

        Returns
        -------
        bool or None

        Examples
        --------
        >>> Claim.compare("x > 0", {"x": 0.5}, margin=0.5, standard_error=0.1).holds
        True
        >>> Claim.compare("x > 0", {"x": 0.5}, margin=0.5, standard_error=1.0).holds is None
        True
        """
        return {HOLDS: True, FAILS: False}.get(self.verdict)

    @property
    def label(self) -> str:
        """The verdict as printed: 'holds', 'fails', 'undecided' or 'undecided (undefined)'.

        Returns
        -------
        str

        Examples
        --------
        >>> Claim.compare("x > 0", {"x": -0.5}, margin=-0.5, standard_error=0.1).label
        'fails'
        """
        return self.verdict + (" (undefined)" if self.undefined else "")

    @classmethod
    def compare(cls, text: str, numbers: Mapping, margin: float, standard_error: float, rule: str = "",
                z: float = Z) -> "Claim":
        """Decide ``text`` by its margin against ``z`` standard errors (:func:`~hierarchy.decision.decide`).

        A NaN among ``numbers`` or in the margin gives ``undecided (undefined)``.

        Parameters
        ----------
        text : str
            The claim.
        numbers : mapping
            The figures that enter it, by name (numbers are stored as floats).
        margin : float
            Positive when the claim holds.
        standard_error : float
            The margin's standard error.
        rule : str, optional
            How the margin was formed (default: "margin against z standard errors").
        z : float, optional
            Standard errors to the resolution (default :data:`~hierarchy.decision.Z`, 2).

        Returns
        -------
        Claim
            Holds when margin > z * standard_error, fails when margin < -z * standard_error,
            undecided otherwise.

        Examples
        --------
        >>> c = Claim.compare("x > 0", {"x": 0.5}, margin=0.5, standard_error=0.1)
        >>> c.verdict, c.resolution, c.rule
        ('holds', 0.2, 'margin against 2 standard errors')
        """
        nums = {k: _number(v) for k, v in numbers.items()}
        undefined = math.isnan(float(margin)) or any(isinstance(v, float) and math.isnan(v) for v in nums.values())
        verdict, res = decide(math.nan if undefined else margin, standard_error, z)
        full_rule = rule or f"margin against {z:g} standard errors"
        return cls(text, nums, verdict, float(margin), float(res), full_rule, bool(undefined))

    @classmethod
    def exact(cls, text: str, numbers: Mapping, margin: float, rule: str = "") -> "Claim":
        """Decide a claim about exact quantities (counts, float-rounding bounds): resolution 0,
        holds when ``margin`` > 0, fails when < 0.

        Parameters
        ----------
        text : str
            The claim.
        numbers : mapping
            The quantities that enter it, by name.
        margin : float
            Positive when the claim holds; 0 leaves it undecided.
        rule : str, optional
            How the margin was formed; "exact comparison (resolution 0)" is appended.

        Returns
        -------
        Claim

        Examples
        --------
        >>> c = Claim.exact("no copy diverged", {"diverged": 0}, margin=1)
        >>> c.verdict, c.resolution, c.rule
        ('holds', 0.0, 'exact comparison (resolution 0)')
        >>> Claim.exact("n < 3", {"n": 3}, margin=0).verdict
        'undecided'
        """
        return cls.compare(text, numbers, margin, 0.0, (rule + "; " if rule else "") + "exact comparison (resolution 0)")

    @classmethod
    def all_of(cls, text: str, parts, rule: str = "") -> "Claim":
        """The conjunction of claims: holds when every part holds, fails when any part fails,
        undecided otherwise. Its numbers are the parts' numbers; its margin and resolution are
        the deciding part's (the failing one, else the least decided one).

        Parameters
        ----------
        text : str
            The conjunction as stated.
        parts : iterable of Claim
            The claims it joins (at least one).
        rule : str, optional
            Prefixes the parts' rules (default: "every part").

        Returns
        -------
        Claim
            Undefined when it is undecided and some part is undefined.

        Raises
        ------
        ParameterError
            When ``parts`` is empty.

        Examples
        --------
        >>> a = Claim.compare("x > 0", {"x": 0.5}, margin=0.5, standard_error=0.1)
        >>> b = Claim.compare("y > 0", {"y": -1.0}, margin=-1.0, standard_error=0.1)
        >>> Claim.all_of("x > 0 and y > 0", [a, b]).verdict
        'fails'
        >>> c = Claim.all_of("x > 0 twice", [a, a])
        >>> c.verdict, c.numbers, c.rule
        ('holds', {'x': 0.5}, 'every part: margin against 2 standard errors; margin against 2 standard errors')
        >>> Claim.all_of("nothing", [])
        Traceback (most recent call last):
        ...
        hierarchy.errors.ParameterError: a conjunction needs at least one part; pass the claims it joins
        """
        parts = list(parts)
        if not parts:
            raise ParameterError("a conjunction needs at least one part; pass the claims it joins")
        nums = {}
        for c in parts:
            nums.update(c.numbers)
        failing = [c for c in parts if c.verdict == FAILS]
        undecided = [c for c in parts if c.verdict == UNDECIDED]

        def decidedness(c):  # |margin| / resolution; undefined or infinite resolution = least decided
            if not math.isfinite(c.margin) or not math.isfinite(c.resolution):
                return -math.inf if math.isnan(c.margin) else 0.0
            return abs(c.margin) / c.resolution if c.resolution > 0 else math.inf

        if failing:
            key, verdict = failing[0], FAILS
        elif undecided:
            key, verdict = min(undecided, key=decidedness), UNDECIDED
        else:
            key, verdict = min(parts, key=decidedness), HOLDS
        rules = "; ".join(c.rule for c in parts if c.rule)
        return cls(text, nums, verdict, key.margin, key.resolution,
                   (rule + ": " if rule else "every part: ") + rules,
                   verdict == UNDECIDED and any(c.undefined for c in parts))

    @classmethod
    def replicated(cls, text: str, per_seed, rule: str = "") -> "Claim":
        """A claim checked on independent seeds (``per_seed``: one Claim per seed), pooled by
        :data:`~hierarchy.decision.POOLED_RULE`. Numbers: the median over seeds of each
        number; ``seeds``: the counts with the Wilson interval of the rate of holding.

        Parameters
        ----------
        text : str
            The claim.
        per_seed : iterable of Claim
            The claim decided on each seed.
        rule : str, optional
            The per-seed rule (default: the first seed's).

        Returns
        -------
        Claim
            Margin and resolution are those of the pooled rule; ``undefined`` is False.

        Examples
        --------
        >>> per_seed = [Claim.compare("x > 0", {"x": v}, margin=v, standard_error=0.1) for v in (0.5, 0.6, 0.7, -0.5)]
        >>> c = Claim.replicated("x > 0", per_seed)
        >>> c.verdict, c.numbers
        ('undecided', {'x (median over seeds)': 0.55})
        >>> c.seeds.describe()
        'holds on 3 of 4 seeds, undecided on 0, fails on 1'
        """
        per_seed = list(per_seed)
        count = SeedCount.of([c.verdict for c in per_seed])
        verdict, margin, res = pooled_verdict(count)
        keys = list(dict.fromkeys(k for c in per_seed for k, v in c.numbers.items() if isinstance(v, float)))
        nums = {}
        for k in keys:
            vals = np.asarray([c.numbers.get(k, math.nan) for c in per_seed], dtype=np.float64)
            vals = vals[np.isfinite(vals)]
            nums[f"{k} (median over seeds)"] = float(np.median(vals)) if vals.size else math.nan
        per_rule = per_seed[0].rule if per_seed else ""
        full = (f"per seed: {rule or per_rule}; " if (rule or per_rule) else "") + POOLED_RULE
        return cls(text, nums, verdict, float(margin), float(res), full, False, count)

    def with_seeds(self, seeds: SeedCount) -> "Claim":
        """This claim with its replication over seeds attached.

        Only ``seeds`` changes: the verdict, margin and resolution stay as they are (pool
        them with :meth:`replicated`).

        Parameters
        ----------
        seeds : SeedCount
            The verdicts over independent seeds.

        Returns
        -------
        Claim

        Examples
        --------
        >>> c = Claim.compare("x > 0", {"x": 0.5}, margin=0.5, standard_error=0.1)
        >>> s = c.with_seeds(SeedCount.of(["holds", "holds", "fails"]))
        >>> s.seeds.n, s.verdict
        (3, 'holds')
        """
        return attrs.evolve(self, seeds=seeds)

    def to_dict(self) -> dict:
        """A JSON-ready dict (the fields README's report.json lists).

        Returns
        -------
        dict
            text, numbers, holds, verdict, margin, resolution, rule, undefined, and
            seeds (:meth:`~hierarchy.decision.SeedCount.to_dict`) when replicated; NaN as None.

        Examples
        --------
        >>> Claim.compare("x > 0", {"x": 0.5}, margin=0.5, standard_error=0.1).to_dict()
        {'text': 'x > 0', 'numbers': {'x': 0.5}, 'holds': True, 'verdict': 'holds', 'margin': 0.5, 'resolution': 0.2, 'rule': 'margin against 2 standard errors', 'undefined': False}
        """
        d = {"text": self.text, "numbers": json_ready(self.numbers), "holds": self.holds, "verdict": self.verdict,
             "margin": json_ready(self.margin), "resolution": json_ready(self.resolution), "rule": self.rule,
             "undefined": self.undefined}
        if self.seeds is not None:
            d["seeds"] = self.seeds.to_dict()
        return d

    def render(self) -> str:
        """The claim as printed: [verdict] text, the seed counts, (numbers; margin vs resolution), rule.

        Returns
        -------
        str
            Indented lines for the report's claims section.

        Examples
        --------
        >>> print(Claim.compare("x > 0", {"x": 0.5}, margin=0.5, standard_error=0.1).render())
          [holds] x > 0
              (x = 0.5; margin 0.5 vs resolution 0.2)
              rule: margin against 2 standard errors
        """
        nums = ", ".join(f"{k} = {_cell(v)}" for k, v in self.numbers.items())
        mr = f"margin {format_number(self.margin)} vs resolution {format_number(self.resolution)}"
        lines = [wrap_text(f"[{self.label}] {self.text}", indent="  ", hang="    ")]
        more = []
        if self.seeds is not None:
            lo, hi = self.seeds.rate_interval
            more.append(f"{self.seeds.describe()} (rate of holding 95% interval [{lo:.2f}, {hi:.2f}])")
        more.append(f"({nums}; {mr})" if nums else f"({mr})")
        if self.rule:
            more.append(f"rule: {self.rule}")
        lines += [wrap_text(m, indent="      ", hang="  ") for m in more]  # at most TERMINAL_WIDTH wide
        return "\n".join(lines)


@attrs.frozen
class Table:
    """An extra table a scenario adds to its report (title, column names, rows of cells).

    Parameters
    ----------
    title : str
        The table's first line.
    columns : tuple of str
        Column headers.
    rows : tuple of tuple
        One row of cells per line.

    Examples
    --------
    >>> t = Table("counts", ("seed", "diverged"), ((0, False), (1, True)))
    >>> t.rows[1]
    (1, True)
    """

    title: str
    columns: tuple
    rows: tuple

    def to_dict(self) -> dict:
        """A JSON-ready dict: title, header and rows.

        Returns
        -------
        dict
            Keys title, columns, rows (rows as lists, NaN as None).

        Examples
        --------
        >>> Table("t", ("a", "b"), ((1, float("nan")),)).to_dict()
        {'title': 't', 'columns': ['a', 'b'], 'rows': [[1, None]]}
        """
        return {"title": self.title, "columns": list(self.columns), "rows": json_ready(self.rows)}

    def render(self) -> str:
        """The table as aligned plain text (:func:`render_table`).

        Returns
        -------
        str

        Examples
        --------
        >>> print(Table("t", ("a", "b"), ((1, True),)).render())
        t
        a  b
        -  ---
        1  yes
        """
        return render_table(self.title, self.columns, self.rows)


def _cell(x: Any) -> str:
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, (float, np.floating)):
        return format_number(float(x))
    return str(x)


TERMINAL_WIDTH = 120
"""The widest line of a terminal rendering (:meth:`Report.render`); report.json and report.html keep every text whole."""

_MIN_COLUMN = 22  # a wide column is wrapped no narrower than this (when the width allows), else grouped


def _min_column(width: int) -> int:
    return max(4, min(_MIN_COLUMN, (width - _GAP) // 2))
_GAP = 2  # spaces between columns


def wrap_text(text: str, width: int = TERMINAL_WIDTH, indent: str = "", hang: str = "") -> str:
    """``text`` wrapped at spaces so that no line is longer than ``width``; a word longer than a line is cut.

    Each line of ``text`` is wrapped on its own; the first piece starts with ``indent``, the
    continuations with ``indent + hang``. Nothing is dropped: joining the pieces' words gives the text.

    Parameters
    ----------
    text : str
    width : int
        Longest line, >= len(indent + hang) + 1.
    indent, hang : str
        Prefix of every line; extra prefix of continuation lines.

    Returns
    -------
    str

    Examples
    --------
    >>> print(wrap_text("one two three four", width=9, indent="  ", hang=" "))
      one two
       three
       four
    """
    import textwrap

    out = []
    for line in str(text).split("\n"):
        pieces = textwrap.wrap(line, width=width, initial_indent=indent, subsequent_indent=indent + hang,
                               break_long_words=True, break_on_hyphens=False, drop_whitespace=True)
        out.extend(pieces or [indent.rstrip()])
    return "\n".join(out)


def _column_widths(natural: list, available: int) -> list:
    """Widths that fit ``available`` characters: the narrow columns keep their natural width, the
    wide ones share the rest equally (water filling), never below ``_MIN_COLUMN``."""
    if sum(natural) <= available:
        return list(natural)
    floor = [min(w, _min_column(available)) for w in natural]
    lo, hi = 0, max(natural)
    while lo < hi:  # the largest cap c with sum(min(w, max(c, floor))) <= available
        c = (lo + hi + 1) // 2
        if sum(max(min(w, c), f) for w, f in zip(natural, floor)) <= available:
            lo = c
        else:
            hi = c - 1
    widths = [max(min(w, lo), f) for w, f in zip(natural, floor)]
    spare = available - sum(widths)
    for i in sorted(range(len(widths)), key=lambda i: -natural[i]):  # hand out what is left, widest first
        if spare <= 0:
            break
        extra = min(spare, natural[i] - widths[i])
        widths[i] += extra
        spare -= extra
    return widths


def _column_groups(natural: list, width: int) -> list:
    """Columns split into consecutive groups that fit ``width`` at their minimum widths, the first
    column (the row's key) repeated in each group."""
    need = lambda cols: sum(min(natural[i], _min_column(width)) for i in cols) + _GAP * (len(cols) - 1)
    if need(range(len(natural))) <= width or len(natural) <= 2:
        return [list(range(len(natural)))]
    groups, cur = [], [0]
    for i in range(1, len(natural)):
        if len(cur) > 1 and need(cur + [i]) > width:
            groups.append(cur)
            cur = [0]
        cur.append(i)
    groups.append(cur)
    return groups


def _render_block(head: list, cells: list, width: int) -> list:
    body = [max([0] + [len(x) for r in cells for x in r[i].split("\n")]) for i in range(len(head))]
    natural = [max([b] + [len(x) for x in head[i].split("\n")]) for i, b in enumerate(body)]
    # headers wrap before cells do: their widest word is the least a column needs for them
    soft = [max([b] + [len(w) for w in head[i].split()]) for i, b in enumerate(body)]
    available = width - _GAP * (len(head) - 1)
    if sum(natural) > available >= sum(soft):
        widths, spare = list(soft), available - sum(soft)
        for i in sorted(range(len(head)), key=lambda i: natural[i] - soft[i]):  # least wrapping first
            extra = min(spare, natural[i] - widths[i])
            widths[i] += extra
            spare -= extra
    else:
        widths = _column_widths(natural if sum(natural) <= available else soft, available)

    def lines(row):
        parts = [wrap_text(c, max(w, 1)).split("\n") if c else [""] for c, w in zip(row, widths)]
        height = max(len(p) for p in parts)
        return ["  ".join((p[k] if k < len(p) else "").ljust(w) for p, w in zip(parts, widths)).rstrip()
                for k in range(height)]

    out = lines(head) + ["  ".join("-" * w for w in widths)]
    for r in cells:
        out += lines(r)
    return out


def render_table(title: str, columns, rows, width: int = TERMINAL_WIDTH) -> str:
    """A plain-text table with aligned columns (floats in four significant digits, bools yes / no)
    whose every line is at most ``width`` characters.

    A table that is wider wraps its widest cells at spaces onto more lines (the narrow
    columns keep their natural width; no column is wrapped below 10 characters); one with
    too many columns for that is printed in groups of consecutive columns, each group
    repeating the first column and headed ``(columns i-j of n)``. Nothing is cut: the cells
    keep every character, and report.json / report.html keep each text on one line.

    Parameters
    ----------
    title : str
        The first line (wrapped at ``width`` too).
    columns : sequence
        Column headers.
    rows : sequence of sequence
        One row per line, one cell per column.
    width : int
        The longest line (default :data:`TERMINAL_WIDTH`, 120).

    Returns
    -------
    str

    Examples
    --------
    >>> print(render_table("t", ["a", "b"], [[1, 2.5]]))
    t
    a  b
    -  ---
    1  2.5
    >>> print(render_table("wrapped", ["key", "text"], [["x", "a long cell that wraps"]], width=20))
    wrapped
    key  text
    ---  ---------------
    x    a long cell
         that wraps
    """
    cells = [[_cell(c) for c in row] for row in rows]
    head = [str(c) for c in columns]
    out = [wrap_text(title, width)]
    natural = [max([len(head[i])] + [len(r[i]) for r in cells]) for i in range(len(head))]
    groups = _column_groups(natural, width)
    for g in groups:
        if len(groups) > 1:
            out.append(f"(columns {g[1] + 1}-{g[-1] + 1} of {len(head)})")
        out += _render_block([head[i] for i in g], [[r[i] for i in g] for r in cells], width)
    return "\n".join(out)


@attrs.frozen
class Report:
    """Everything a run measured, with the estimator and the choices it made.

    ``nodes`` lists each optimizer (name, role, objective, description); ``edges`` the
    delegations; ``choices`` names every **open** choice made (true objective, estimator,
    tolerances); ``node_attributes`` / ``edge_attributes`` carry extra per-node and
    per-edge figures or verdicts for the exports. :func:`build_report` builds one from a run.

    Parameters
    ----------
    scenario : str
        The report's name.
    seed, steps : int
        The run's seed and steps.
    estimator : Estimator
        The capability estimator of every figure.
    measurements : Measurements
        Every figure of the run.
    nodes : tuple of dict
        Per optimizer: name, role, objective, description, ...
    edges : tuple of (str, str)
        The delegations, (parent, child).
    choices : dict, optional
        Every open choice made, by name.
    claims : tuple of Claim, optional
        The claims checked.
    tables : tuple of Table, optional
        Extra tables.
    notes : tuple of str, optional
        Notes printed after everything else.
    node_attributes, edge_attributes : dict, optional
        Extra attributes for the exports, by node and by (parent, child).
    productions : tuple, optional
        The graph's production edges.

    Examples
    --------
    >>> from hierarchy.figures import CapabilityFigure
    >>> cap = CapabilityFigure("gd", "L", ("human",), Spread.of([0.5]), 1.0, Spread.of([0.0]))
    >>> m = Measurements(Estimator("finite"), (cap,), (), ())
    >>> r = Report("demo", 0, 20, Estimator("finite"), m, ({"name": "human"}, {"name": "gd"}), (("human", "gd"),))
    >>> r.scenario, r.capabilities[0].capability.median, r.claims
    ('demo', 0.5, ())
    """

    scenario: str
    seed: int
    steps: int
    estimator: Estimator
    measurements: Measurements
    nodes: tuple
    edges: tuple
    choices: dict = attrs.field(factory=dict)
    claims: tuple = ()
    tables: tuple = ()
    notes: tuple = ()
    node_attributes: dict = attrs.field(factory=dict)
    edge_attributes: dict = attrs.field(factory=dict)
    productions: tuple = ()

    @property
    def capabilities(self):
        """Every capability figure (the measurements').

        Returns
        -------
        tuple of CapabilityFigure

        Examples
        --------
        >>> from hierarchy.figures import AlignmentFigure, CapabilityFigure, ProductFigure
        >>> m = Measurements(Estimator("finite"),
        ...                  (CapabilityFigure("gd", "L", ("human",), Spread.of([0.5]), 1.0, Spread.of([0.0])),),
        ...                  (AlignmentFigure("gd", "human", "gd", "L", "G", Spread.of([0.8]), Spread.of([1.0]), 1.0),),
        ...                  (ProductFigure(("human", "gd"), Spread.of([1.0]), Spread.of([1.0]), 0.0),))
        >>> r = Report("demo", 0, 20, Estimator("finite"), m, (), (("human", "gd"),))
        >>> [(f.chain, f.objective, f.capability.median) for f in r.capabilities]
        [('gd', 'L', 0.5)]
        """
        return self.measurements.capabilities

    @property
    def alignments(self):
        """Every alignment figure (the measurements').

        Returns
        -------
        tuple of AlignmentFigure

        Examples
        --------
        >>> from hierarchy.figures import AlignmentFigure, CapabilityFigure, ProductFigure
        >>> m = Measurements(Estimator("finite"),
        ...                  (CapabilityFigure("gd", "L", ("human",), Spread.of([0.5]), 1.0, Spread.of([0.0])),),
        ...                  (AlignmentFigure("gd", "human", "gd", "L", "G", Spread.of([0.8]), Spread.of([1.0]), 1.0),),
        ...                  (ProductFigure(("human", "gd"), Spread.of([1.0]), Spread.of([1.0]), 0.0),))
        >>> r = Report("demo", 0, 20, Estimator("finite"), m, (), (("human", "gd"),))
        >>> [(f.parent, f.child, f.alignment.median) for f in r.alignments]
        [('human', 'gd', 0.8)]
        """
        return self.measurements.alignments

    @property
    def products(self):
        """Every delegation-product figure (the measurements').

        Returns
        -------
        tuple of ProductFigure

        Examples
        --------
        >>> from hierarchy.figures import AlignmentFigure, CapabilityFigure, ProductFigure
        >>> m = Measurements(Estimator("finite"),
        ...                  (CapabilityFigure("gd", "L", ("human",), Spread.of([0.5]), 1.0, Spread.of([0.0])),),
        ...                  (AlignmentFigure("gd", "human", "gd", "L", "G", Spread.of([0.8]), Spread.of([1.0]), 1.0),),
        ...                  (ProductFigure(("human", "gd"), Spread.of([1.0]), Spread.of([1.0]), 0.0),))
        >>> r = Report("demo", 0, 20, Estimator("finite"), m, (), (("human", "gd"),))
        >>> [(f.chain, f.discrepancy) for f in r.products]
        [(('human', 'gd'), 0.0)]
        """
        return self.measurements.products

    @property
    def max_discrepancy(self) -> float:
        """The largest delegation-product discrepancy over all chains (NaN if none is defined).

        Returns
        -------
        float

        Examples
        --------
        >>> from hierarchy.figures import AlignmentFigure, CapabilityFigure, ProductFigure
        >>> m = Measurements(Estimator("finite"),
        ...                  (CapabilityFigure("gd", "L", ("human",), Spread.of([0.5]), 1.0, Spread.of([0.0])),),
        ...                  (AlignmentFigure("gd", "human", "gd", "L", "G", Spread.of([0.8]), Spread.of([1.0]), 1.0),),
        ...                  (ProductFigure(("human", "gd"), Spread.of([1.0]), Spread.of([1.0]), 0.0),))
        >>> r = Report("demo", 0, 20, Estimator("finite"), m, (), (("human", "gd"),))
        >>> r.max_discrepancy
        0.0
        >>> Report("empty", 0, 0, Estimator(), Measurements(Estimator(), (), (), ()), (), ()).max_discrepancy
        nan
        """
        d = [p.discrepancy for p in self.products if math.isfinite(p.discrepancy)]
        return max(d) if d else float("nan")

    def to_dict(self) -> dict:
        """The JSON document of report.json (format documented in README).

        Returns
        -------
        dict
            JSON-ready (:func:`json_ready`): NaN as None, tuples as lists, edge attributes
            keyed "parent->child".

        Examples
        --------
        >>> from hierarchy.figures import AlignmentFigure, CapabilityFigure, ProductFigure
        >>> m = Measurements(Estimator("finite"),
        ...                  (CapabilityFigure("gd", "L", ("human",), Spread.of([0.5]), 1.0, Spread.of([0.0])),),
        ...                  (AlignmentFigure("gd", "human", "gd", "L", "G", Spread.of([0.8]), Spread.of([1.0]), 1.0),),
        ...                  (ProductFigure(("human", "gd"), Spread.of([1.0]), Spread.of([1.0]), 0.0),))
        >>> r = Report("demo", 0, 20, Estimator("finite"), m, (), (("human", "gd"),))
        >>> d = r.to_dict()
        >>> d["scenario"], d["edges"], d["max_discrepancy"], d["capabilities"][0]["capability"]["median"]
        ('demo', [['human', 'gd']], 0.0, 0.5)
        """
        return json_ready({
            "scenario": self.scenario,
            "seed": self.seed,
            "steps": self.steps,
            "estimator": {"kind": self.estimator.kind, "tail": self.estimator.tail,
                          "tolerance": self.estimator.tolerance, "description": str(self.estimator)},
            "choices": self.choices,
            "nodes": [dict(n) for n in self.nodes],
            "edges": [list(e) for e in self.edges],
            "productions": [list(p) for p in self.productions],
            "capabilities": [
                {"chain": f.chain, "objective": f.objective, "nodes": list(f.nodes), "capability": f.capability,
                 "converged_fraction": f.converged_fraction, "drift": f.drift}
                for f in self.capabilities],
            "alignments": [
                {"chain": f.chain, "parent": f.parent, "child": f.child, "base_objective": f.base_objective,
                 "mesa_objective": f.mesa_objective, "alignment": f.alignment, "normalized_alignment": f.normalized,
                 "normalization": f.normalization, "defined_fraction": f.defined_fraction}
                for f in self.alignments],
            "delegation_product": [
                {"chain": list(p.chain), "direct": p.direct, "product": p.product, "discrepancy": p.discrepancy}
                for p in self.products],
            "max_discrepancy": self.max_discrepancy,
            "claims": [c.to_dict() for c in self.claims],
            "tables": [t.to_dict() for t in self.tables],
            "notes": list(self.notes),
            "node_attributes": self.node_attributes,
            "edge_attributes": {f"{p}->{c}": v for (p, c), v in self.edge_attributes.items()},
        })

    def to_json(self) -> str:
        """The whole report as strict JSON text (no NaN; undefined numbers as null).

        Returns
        -------
        str
            :meth:`to_dict`, indented by 2.

        Examples
        --------
        >>> r = Report("empty", 0, 0, Estimator(), Measurements(Estimator(), (), (), ()), (), ())
        >>> json.loads(r.to_json())["max_discrepancy"] is None
        True
        """
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def main_table(self) -> "Table":
        """The main table of :meth:`render` and of report.html: one row per chain.

        Columns: the chain (root first), ``C(<objective>)`` for every objective measured
        (Definition 1; a ``*`` marks a limit estimate that has not converged for some copies),
        the chain's alignments ``parent->child: alpha | normalized`` (Definition 2) and the
        delegation product's relative discrepancy. One function builds it, so the terminal
        table and the HTML table cannot disagree.

        Returns
        -------
        Table
            Cells as strings.

        Raises
        ------
        Nothing of its own.

        Examples
        --------
        >>> from hierarchy.figures import AlignmentFigure, CapabilityFigure, ProductFigure
        >>> m = Measurements(Estimator("finite"),
        ...                  (CapabilityFigure("gd", "L", ("human",), Spread.of([0.5, 0.7]), 1.0, Spread.of([0.0, 0.0])),),
        ...                  (AlignmentFigure("gd", "human", "gd", "L", "G", Spread.of([0.8, 1.0]), Spread.of([1.0, 1.0]), 1.0),),
        ...                  (ProductFigure(("human", "gd"), Spread.of([1.0, 1.0]), Spread.of([1.0, 1.0]), 0.0),))
        >>> r = Report("demo", 0, 20, Estimator("finite"), m, ({"name": "human"}, {"name": "gd"}), (("human", "gd"),),
        ...            claims=(Claim.compare("x > 0", {"x": 0.5, "y": 2.0}, margin=0.5, standard_error=0.1),))
        >>> t = r.main_table()
        >>> t.columns
        ('chain', 'C(L)', 'alignment (edge: alpha | normalized)', 'product check')
        >>> t.rows[0][0], t.rows[0][3]
        ('human -> gd', '0')
        """
        objectives = []
        for f in self.capabilities:
            if f.objective not in objectives:
                objectives.append(f.objective)
        cols = ["chain"] + [f"C({o})" for o in objectives] + ["alignment (edge: alpha | normalized)", "product check"]
        rows = []
        for chain in dict.fromkeys(f.chain for f in self.capabilities):
            caps = {f.objective: f for f in self.capabilities if f.chain == chain}
            al = [f for f in self.alignments if f.chain == chain]
            pr = [p for p in self.products if p.chain[-1] == chain]
            row = [" -> ".join(pr[0].chain) if pr else chain]
            for o in objectives:
                f = caps.get(o)
                row.append("" if f is None else str(f.capability) + ("" if f.converged_fraction == 1.0 or
                                                                     self.estimator.kind == "finite" else "*"))
            row.append("; ".join(f"{f.parent}->{f.child}: {f.alignment} | {f.normalized}" for f in al))
            row.append(format_number(pr[0].discrepancy) if pr else "")
            rows.append(tuple(row))
        return Table("capability (Definition 1), alignment (Definition 2), delegation product (relative discrepancy)",
                     tuple(cols), tuple(rows))

    def _repr_html_(self) -> str:
        """The report as HTML for Jupyter: report.html's content without the page around it.

        Returns
        -------
        str
            :func:`hierarchy.html.report_fragment` of this report (no plots: a report holds
            none; a scenario result's ``_repr_html_`` adds them).

        Raises
        ------
        Nothing of its own.

        Examples
        --------
        >>> from hierarchy.figures import AlignmentFigure, CapabilityFigure, ProductFigure
        >>> m = Measurements(Estimator("finite"),
        ...                  (CapabilityFigure("gd", "L", ("human",), Spread.of([0.5, 0.7]), 1.0, Spread.of([0.0, 0.0])),),
        ...                  (AlignmentFigure("gd", "human", "gd", "L", "G", Spread.of([0.8, 1.0]), Spread.of([1.0, 1.0]), 1.0),),
        ...                  (ProductFigure(("human", "gd"), Spread.of([1.0, 1.0]), Spread.of([1.0, 1.0]), 0.0),))
        >>> r = Report("demo", 0, 20, Estimator("finite"), m, ({"name": "human"}, {"name": "gd"}), (("human", "gd"),),
        ...            claims=(Claim.compare("x > 0", {"x": 0.5, "y": 2.0}, margin=0.5, standard_error=0.1),))
        >>> r._repr_html_().startswith('<div class="mesastack-report"')
        True
        """
        from .html import report_fragment

        return report_fragment(self)

    def to_frame(self):
        """Every figure as a long (tidy) pandas DataFrame: one row per figure and copy.

        A row is one copy's value of one figure on one chain: ``figure`` is ``capability``
        or ``drift`` (Definition 1, of ``objective`` on ``chain``), ``alignment`` or
        ``normalized_alignment`` (Definition 2, of the edge ``parent -> child``, with
        ``objective`` the base and ``mesa_objective`` the mesa-objective), or ``direct`` /
        ``product`` (the two sides of C_root = prod(alpha) * C_leaf on ``chain``). Beside the
        copy's ``value`` (NaN for a diverged or undefined copy) and its estimator error
        ``copy_error``, every row repeats its figure's summary over copies (``median``,
        ``q25`` / ``q75``: the interquartile range, ``ci95_low`` / ``ci95_high``: the 95%
        bootstrap interval of the median, ``standard_error``, ``n`` finite of ``K``), the
        ``estimator`` and the figure's ``converged_fraction`` / ``defined_fraction`` /
        ``discrepancy`` where it has one.

        Returns
        -------
        pandas.DataFrame
            Columns: figure, chain, parent, child, edge, objective, mesa_objective, copy,
            value, copy_error, median, q25, q75, ci95_low, ci95_high, standard_error, n, K,
            estimator, converged_fraction, defined_fraction, discrepancy.

        Raises
        ------
        ParameterError
            When pandas is not installed (``pip install pandas``).

        Examples
        --------
        >>> from hierarchy.figures import AlignmentFigure, CapabilityFigure, ProductFigure
        >>> m = Measurements(Estimator("finite"),
        ...                  (CapabilityFigure("gd", "L", ("human",), Spread.of([0.5, 0.7]), 1.0, Spread.of([0.0, 0.0])),),
        ...                  (AlignmentFigure("gd", "human", "gd", "L", "G", Spread.of([0.8, 1.0]), Spread.of([1.0, 1.0]), 1.0),),
        ...                  (ProductFigure(("human", "gd"), Spread.of([1.0, 1.0]), Spread.of([1.0, 1.0]), 0.0),))
        >>> r = Report("demo", 0, 20, Estimator("finite"), m, ({"name": "human"}, {"name": "gd"}), (("human", "gd"),),
        ...            claims=(Claim.compare("x > 0", {"x": 0.5, "y": 2.0}, margin=0.5, standard_error=0.1),))
        >>> df = r.to_frame()
        >>> al = df[df.figure == "alignment"]
        >>> list(al["edge"]), list(al["copy"]), list(al["value"]), list(al["median"])
        (['human->gd', 'human->gd'], [0, 1], [0.8, 1.0], [0.9, 0.9])
        >>> len(df), sorted(set(df.figure))
        (12, ['alignment', 'capability', 'direct', 'drift', 'normalized_alignment', 'product'])
        """
        pd = _pandas()
        est = str(self.estimator)
        rows = []

        def add(figure, spread, chain, parent=None, child=None, objective=None, mesa=None, **extra):
            errors = spread.error_per_copy
            for k, v in enumerate(spread.per_copy):
                rows.append({"figure": figure, "chain": chain, "parent": parent, "child": child,
                             "edge": f"{parent}->{child}" if parent is not None else None,
                             "objective": objective, "mesa_objective": mesa, "copy": k, "value": v,
                             "copy_error": errors[k] if k < len(errors) else math.nan,
                             "median": spread.median, "q25": spread.q25, "q75": spread.q75,
                             "ci95_low": spread.ci_low, "ci95_high": spread.ci_high,
                             "standard_error": spread.standard_error, "n": spread.n, "K": spread.K,
                             "estimator": est, "converged_fraction": math.nan, "defined_fraction": math.nan,
                             "discrepancy": math.nan, **extra})

        for f in self.capabilities:
            add("capability", f.capability, f.chain, objective=f.objective, converged_fraction=f.converged_fraction)
            add("drift", f.drift, f.chain, objective=f.objective, converged_fraction=f.converged_fraction)
        for f in self.alignments:
            for name, spread in (("alignment", f.alignment), ("normalized_alignment", f.normalized)):
                add(name, spread, f.chain, f.parent, f.child, f.base_objective, f.mesa_objective,
                    defined_fraction=f.defined_fraction)
        for p in self.products:
            root = next((c.objective for c in self.capabilities if c.chain == p.chain[-1]
                         and p.chain[0] in c.nodes), None)
            for name, spread in (("direct", p.direct), ("product", p.product)):
                add(name, spread, p.chain[-1], objective=root, discrepancy=p.discrepancy)
        return pd.DataFrame(rows, columns=_FRAME_COLUMNS)

    def claims_frame(self):
        """The claims as a long pandas DataFrame: one row per claim and number that entered it.

        ``claim`` numbers the claims in report order; every row repeats the claim's
        ``text``, ``verdict`` (holds / fails / undecided), ``label``, ``margin`` (positive
        when it holds), ``resolution`` (z standard errors), ``rule`` and ``undefined``, and,
        for a claim replicated over seeds, ``seeds_holds`` / ``seeds_fails`` /
        ``seeds_undecided`` of ``seeds_n`` with ``rate_low`` / ``rate_high`` (the Wilson 95%
        interval of the rate of holding); ``number`` / ``value`` name one number of the claim
        (a claim without numbers has one row with both missing). One row per claim:
        ``frame.drop_duplicates("claim")``.

        Returns
        -------
        pandas.DataFrame
            Columns: claim, text, verdict, label, margin, resolution, rule, undefined,
            seeds_n, seeds_holds, seeds_fails, seeds_undecided, rate_low, rate_high, number, value.

        Raises
        ------
        ParameterError
            When pandas is not installed (``pip install pandas``).

        Examples
        --------
        >>> from hierarchy.figures import AlignmentFigure, CapabilityFigure, ProductFigure
        >>> m = Measurements(Estimator("finite"),
        ...                  (CapabilityFigure("gd", "L", ("human",), Spread.of([0.5, 0.7]), 1.0, Spread.of([0.0, 0.0])),),
        ...                  (AlignmentFigure("gd", "human", "gd", "L", "G", Spread.of([0.8, 1.0]), Spread.of([1.0, 1.0]), 1.0),),
        ...                  (ProductFigure(("human", "gd"), Spread.of([1.0, 1.0]), Spread.of([1.0, 1.0]), 0.0),))
        >>> r = Report("demo", 0, 20, Estimator("finite"), m, ({"name": "human"}, {"name": "gd"}), (("human", "gd"),),
        ...            claims=(Claim.compare("x > 0", {"x": 0.5, "y": 2.0}, margin=0.5, standard_error=0.1),))
        >>> cf = r.claims_frame()
        >>> list(cf.claim), list(cf.verdict), list(cf.number), list(cf.value), list(cf.margin)
        ([0, 0], ['holds', 'holds'], ['x', 'y'], [0.5, 2.0], [0.5, 0.5])
        """
        pd = _pandas()
        rows = []
        for i, c in enumerate(self.claims):
            s = c.seeds
            base = {"claim": i, "text": c.text, "verdict": c.verdict, "label": c.label, "margin": c.margin,
                    "resolution": c.resolution, "rule": c.rule, "undefined": c.undefined,
                    "seeds_n": s.n if s else None, "seeds_holds": s.holds if s else None,
                    "seeds_fails": s.fails if s else None, "seeds_undecided": s.undecided if s else None,
                    "rate_low": float(s.rate_interval[0]) if s else math.nan,
                    "rate_high": float(s.rate_interval[1]) if s else math.nan}
            numbers = list(c.numbers.items()) or [(None, math.nan)]
            for name, value in numbers:
                rows.append({**base, "number": name, "value": value})
        return pd.DataFrame(rows, columns=_CLAIM_COLUMNS)

    def render(self) -> str:
        """The terminal rendering: the main table (one row per chain), extra tables, claims.

        Returns
        -------
        str
            The header line, the choices, the main table (a ``*`` marks a limit estimate that
            has not converged), the spread legend, the extra tables, the claims and the notes,
            separated by blank lines.

        Examples
        --------
        >>> from hierarchy.figures import AlignmentFigure, CapabilityFigure, ProductFigure
        >>> m = Measurements(Estimator("finite"),
        ...                  (CapabilityFigure("gd", "L", ("human",), Spread.of([0.5]), 1.0, Spread.of([0.0])),),
        ...                  (AlignmentFigure("gd", "human", "gd", "L", "G", Spread.of([0.8]), Spread.of([1.0]), 1.0),),
        ...                  (ProductFigure(("human", "gd"), Spread.of([1.0]), Spread.of([1.0]), 0.0),))
        >>> r = Report("demo", 0, 20, Estimator("finite"), m, (), (("human", "gd"),))
        >>> print(r.render().split("\\n\\n")[1])
        capability (Definition 1), alignment (Definition 2), delegation product (relative discrepancy)
        chain        C(L)    alignment (edge: alpha | normalized)  product check
        -----------  ------  ------------------------------------  -------------
        human -> gd  0.5 ±0  human->gd: 0.8 ±0 | 1 ±0              0
        """
        table = self.main_table()
        rows = [list(r) for r in table.rows]
        parts = [f"scenario {self.scenario}  seed {self.seed}  steps {self.steps}  estimator {self.estimator}"]
        if self.choices:
            parts.append("choices: " + "; ".join(f"{k} = {v}" for k, v in self.choices.items()))
        parts.append(table.render())
        if any("*" in c for r in rows for c in r[1:-2]):
            parts.append(f"* the limit estimate has not converged for some copies (its error is above "
                         f"{self.estimator.tolerance:g} |C|)")
        parts.append(SPREAD_LEGEND)
        for t in self.tables:
            parts.append(t.render())
        if self.claims:
            parts.append("claims (holds / fails / undecided: the margin against its resolution, z = 2 standard "
                         "errors)\n" + "\n".join(c.render() for c in self.claims))
        for n in self.notes:
            parts.append(f"note: {n}")
        # every line at most TERMINAL_WIDTH wide (tables and claims wrap themselves); no blank line inside a part
        return "\n\n".join(p if all(len(x) <= TERMINAL_WIDTH for x in p.split("\n")) else wrap_text(p, hang="  ")
                             for p in parts)


def build_report(scenario: str, graph, runs: dict, estimator: Estimator = Estimator(), *, seed: int = 0,
                 steps: int = 0, choices: Mapping = None, claims=(), tables=(), notes=(),
                 node_attributes: Mapping = None, edge_attributes: Mapping = None,
                 measurements: Measurements = None) -> Report:
    """Measure ``runs`` ({leaf: ChainRun}) of ``graph`` and wrap everything in a Report.

    Parameters
    ----------
    scenario : str
        The report's name.
    graph : DelegationGraph
        The graph that ran.
    runs : dict
        {leaf: ChainRun}.
    estimator : Estimator, optional
        The capability estimator.
    seed, steps : int
        The run's seed and steps (recorded).
    choices : mapping, optional
        Every open choice made (true objective, tolerances, ...), by name.
    claims, tables, notes : sequence, optional
        Claims checked, extra tables, notes.
    node_attributes, edge_attributes : mapping, optional
        Extra attributes for the exports, by node and by (parent, child).
    measurements : Measurements, optional
        Already measured figures (default: :func:`~hierarchy.measure.measure` of ``runs``).

    Returns
    -------
    Report

    Raises
    ------
    ParameterError
        From :func:`~hierarchy.measure.measure`.

    Examples
    --------
    >>> import numpy as np
    >>> from hierarchy.graph import DelegationGraph, OptimizerNode
    >>> from hierarchy.objective import Objective
    >>> from hierarchy.run import run_graph
    >>> from hierarchy.trajectory import Trajectory
    >>> class Halving:
    ...     records = ("L", "G")
    ...     def run(self, steps, seed, progress=None):
    ...         g = 0.5 ** np.arange(steps + 1)
    ...         return Trajectory({"G": [g], "L": [2 * g + 1]})
    >>> g = DelegationGraph.chain(OptimizerNode("human", Objective("L")), OptimizerNode("gd", Objective("G"), leaf=Halving()))
    >>> r = build_report("demo", g, run_graph(g, 20), Estimator("finite"), steps=20)
    >>> r.scenario, r.max_discrepancy < 1e-12
    ('demo', True)
    """
    from .measure import measure

    m = measurements if measurements is not None else measure(graph, runs, estimator)
    nodes = tuple(
        {"name": n, "role": graph.node(n).role, "objective": graph.node(n).objective.name,
         "objective_description": graph.node(n).objective.description, "description": graph.node(n).description,
         "is_leaf": graph.node(n).is_leaf, "step_unit": getattr(graph.node(n).leaf, "step_unit", None),
         "produced_by": getattr(graph.node(n).leaf, "producer", None)}
        for n in graph.names)
    return Report(scenario, int(seed), int(steps), estimator, m, nodes, tuple(graph.edges), dict(choices or {}),
                  tuple(claims), tuple(tables), tuple(notes), dict(node_attributes or {}), dict(edge_attributes or {}),
                  tuple(graph.productions))


_FRAME_COLUMNS = ["figure", "chain", "parent", "child", "edge", "objective", "mesa_objective", "copy", "value",
                  "copy_error", "median", "q25", "q75", "ci95_low", "ci95_high", "standard_error", "n", "K",
                  "estimator", "converged_fraction", "defined_fraction", "discrepancy"]
_CLAIM_COLUMNS = ["claim", "text", "verdict", "label", "margin", "resolution", "rule", "undefined", "seeds_n",
                  "seeds_holds", "seeds_fails", "seeds_undecided", "rate_low", "rate_high", "number", "value"]


def _pandas():
    """pandas, imported on first use (an optional extra); ParameterError naming the install otherwise."""
    try:
        import pandas
    except ImportError:
        raise ParameterError("Report.to_frame and Report.claims_frame need pandas; install it with "
                             "`pip install pandas` (or the extra: pip install -e \".[sweeps]\")",
                             parameter="pandas") from None
    return pandas
