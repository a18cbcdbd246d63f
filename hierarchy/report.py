"""The Report: every figure of a run with its estimator, the claims checked, and renderings.

A report is a frozen value built from measurements; rendering (terminal table, JSON)
is pure and returns strings; writing them is the caller's business.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

import attrs
import numpy as np

from .estimator import Estimator
from .figures import Spread, format_number, _json_float
from .measure import Measurements


def json_ready(x: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python, tuples -> lists."""
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


@attrs.frozen
class Claim:
    """A claim of the source texts checked on a run: its text, the numbers that decided it,
    the rule applied to them, and whether it holds.

    Example:
        >>> c = Claim.check("alpha_B < alpha_A", {"alpha_A": 0.3, "alpha_B": 0.2}, lambda n: n["alpha_B"] < n["alpha_A"])
        >>> c.holds
        True
    """

    text: str
    numbers: dict
    holds: bool
    rule: str = ""

    @classmethod
    def check(cls, text: str, numbers: Mapping[str, float], decide, rule: str = "") -> "Claim":
        """Decide ``text`` by ``decide(numbers)``; a claim whose numbers are undefined fails."""
        nums = {k: float(v) if isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) else v
                for k, v in numbers.items()}
        if any(isinstance(v, float) and math.isnan(v) for v in nums.values()):
            return cls(text, nums, False, (rule + "; " if rule else "") + "some numbers undefined")
        return cls(text, nums, bool(decide(nums)), rule)

    def to_dict(self) -> dict:
        return {"text": self.text, "numbers": json_ready(self.numbers), "holds": self.holds, "rule": self.rule}


@attrs.frozen
class Table:
    """An extra table a scenario adds to its report (title, column names, rows of cells)."""

    title: str
    columns: tuple
    rows: tuple

    def to_dict(self) -> dict:
        return {"title": self.title, "columns": list(self.columns), "rows": json_ready(self.rows)}

    def render(self) -> str:
        return render_table(self.title, self.columns, self.rows)


def _cell(x: Any) -> str:
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, (float, np.floating)):
        return format_number(float(x))
    return str(x)


def render_table(title: str, columns, rows) -> str:
    """A plain-text table with aligned columns.

    Example:
        >>> print(render_table("t", ["a", "b"], [[1, 2.5]]))
        t
        a  b
        -  ---
        1  2.5
    """
    cells = [[_cell(c) for c in row] for row in rows]
    head = [str(c) for c in columns]
    widths = [max(len(head[i]), *(len(r[i]) for r in cells)) if cells else len(head[i]) for i in range(len(head))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
    out = [title, line(head), line(["-" * w for w in widths])] + [line(r) for r in cells]
    return "\n".join(out)


@attrs.frozen
class Report:
    """Everything a run measured, with the estimator and the choices it made.

    ``nodes`` lists each optimizer (name, role, objective, description); ``edges`` the
    delegations; ``choices`` names every **open** choice made (true objective, estimator,
    tolerances); ``node_attributes`` / ``edge_attributes`` carry extra per-node and
    per-edge figures or verdicts for the exports.
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

    @property
    def capabilities(self):
        return self.measurements.capabilities

    @property
    def alignments(self):
        return self.measurements.alignments

    @property
    def products(self):
        return self.measurements.products

    @property
    def max_discrepancy(self) -> float:
        """The largest delegation-product discrepancy over all chains (NaN if none is defined)."""
        d = [p.discrepancy for p in self.products if math.isfinite(p.discrepancy)]
        return max(d) if d else float("nan")

    def to_dict(self) -> dict:
        """The JSON document of report.json (format documented in README)."""
        return json_ready({
            "scenario": self.scenario,
            "seed": self.seed,
            "steps": self.steps,
            "estimator": {"kind": self.estimator.kind, "tail": self.estimator.tail,
                          "tolerance": self.estimator.tolerance, "description": str(self.estimator)},
            "choices": self.choices,
            "nodes": [dict(n) for n in self.nodes],
            "edges": [list(e) for e in self.edges],
            "capabilities": [
                {"chain": f.chain, "objective": f.objective, "nodes": list(f.nodes), "capability": f.capability,
                 "converged_fraction": f.converged_fraction, "drift": f.drift}
                for f in self.capabilities],
            "alignments": [
                {"chain": f.chain, "parent": f.parent, "child": f.child, "base_objective": f.base_objective,
                 "mesa_objective": f.mesa_objective, "alignment": f.alignment, "normalized_alignment": f.normalized,
                 "defined_fraction": f.defined_fraction}
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
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def render(self) -> str:
        """The terminal rendering: the main table (one row per chain), extra tables, claims."""
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
            rows.append(row)
        parts = [f"scenario {self.scenario}  seed {self.seed}  steps {self.steps}  estimator {self.estimator}"]
        if self.choices:
            parts.append("choices: " + "; ".join(f"{k} = {v}" for k, v in self.choices.items()))
        parts.append(render_table("capability (Definition 1), alignment (Definition 2), delegation product "
                                  "(relative discrepancy)", cols, rows))
        if any("*" in c for r in rows for c in r[1:-2]):
            parts.append("* the limit estimate has not converged (tail drift above tolerance) for some copies")
        for t in self.tables:
            parts.append(t.render())
        if self.claims:
            parts.append("claims")
            for c in self.claims:
                nums = ", ".join(f"{k} = {_cell(v)}" for k, v in c.numbers.items())
                parts.append(f"  [{'holds' if c.holds else 'FAILS'}] {c.text}  ({nums})" + (f"  rule: {c.rule}" if c.rule else ""))
        for n in self.notes:
            parts.append(f"note: {n}")
        return "\n\n".join(parts)


def build_report(scenario: str, graph, runs: dict, estimator: Estimator = Estimator(), *, seed: int = 0,
                 steps: int = 0, choices: Mapping = None, claims=(), tables=(), notes=(),
                 node_attributes: Mapping = None, edge_attributes: Mapping = None,
                 measurements: Measurements = None) -> Report:
    """Measure ``runs`` ({leaf: ChainRun}) of ``graph`` and wrap everything in a Report."""
    from .measure import measure

    m = measurements if measurements is not None else measure(graph, runs, estimator)
    nodes = tuple(
        {"name": n, "role": graph.node(n).role, "objective": graph.node(n).objective.name,
         "objective_description": graph.node(n).objective.description, "description": graph.node(n).description,
         "is_leaf": graph.node(n).is_leaf}
        for n in graph.names)
    return Report(scenario, int(seed), int(steps), estimator, m, nodes, tuple(graph.edges), dict(choices or {}),
                  tuple(claims), tuple(tables), tuple(notes), dict(node_attributes or {}), dict(edge_attributes or {}))
