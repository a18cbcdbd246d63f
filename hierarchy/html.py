"""The HTML rendering of a Report: report.html and the notebook display, as pure functions of strings.

:func:`report_page` is the whole of ``report.html``; :func:`report_fragment` the same content
without the page around it (what ``Report._repr_html_`` shows in Jupyter). Both are built
from the :class:`~hierarchy.report.Report` value alone, the one the terminal table is
rendered from: the main table is :meth:`~hierarchy.report.Report.main_table`, the extra
tables are the report's :class:`~hierarchy.report.Table` values with the terminal's cell
formatting, the numbers are the report's figures (:class:`~hierarchy.figures.Spread` printed
as in the terminal). Nothing is measured here.

What the page holds: the run's header and open choices; the delegation graph drawn as inline
SVG (nodes carry their capabilities per chain, Definition 1; delegation edges their alignment
alpha and normalized alpha per chain, Definition 2; production edges dashed) where hovering a
node or edge shows all its figures (an SVG ``<title>``) and clicking it shows them in the panel
beside the graph; the main table, the legend of the spreads, the extra tables; the claims with
their verdicts, numbers, margins, resolutions and rules; the plots; the notes.

Why hand-written HTML and SVG rather than Jinja2 or a plotting library: the page is a handful
of sections of escaped text and one small graph, about as long written directly with
:func:`html.escape` as the templates would be, and the core (``hierarchy``) then needs no new
dependency (Jinja2 is not one of mesastack's). The layout of the graph is computed in Python
with networkx (:func:`graph_layout`: layers by ``topological_generations``, each layer ordered
by the mean place of its parents), so the page needs no layout engine, no CDN and no network:
styles and a 30-line script are inline, plots are PNG data URIs, and a Content-Security-Policy
meta tag forbids loading anything from anywhere (``default-src 'none'``). Without JavaScript
(JupyterLab does not run scripts of untrusted outputs) every figure panel is shown and the
hover titles still work.
"""

from __future__ import annotations

import base64
import html
from typing import Mapping, Optional

import networkx as nx

from .figures import SPREAD_LEGEND, format_number
from .report import Report, _cell

__all__ = ["CSP", "graph_layout", "node_figures", "edge_figures", "graph_svg", "table_html", "claims_html",
           "plots_html", "data_uri", "report_fragment", "report_page"]

#: The page's Content-Security-Policy: nothing is loaded from anywhere; inline styles, inline
#: scripts and data: images only.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
         ".gif": "image/gif", ".webp": "image/webp"}

_BOX_W, _BOX_GAP_X, _LAYER_GAP_Y, _LINE_H, _MAX_LINES = 190, 40, 110, 15, 4

_STYLE = """
.mesastack-report{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:14px;color:#1d1d1f;
  line-height:1.4;max-width:1400px}
.mesastack-report h2{font-size:1.3em;margin:1.2em 0 .4em}
.mesastack-report h3{font-size:1.05em;margin:1em 0 .3em}
.mesastack-report table{border-collapse:collapse;margin:.3em 0 1em;font-size:13px;max-width:100%}
.mesastack-report td{overflow-wrap:anywhere}
.mesastack-report th,.mesastack-report td{border:1px solid #d0d0d5;padding:3px 7px;text-align:left;
  vertical-align:top}
.mesastack-report th{background:#f2f2f5}
.mesastack-report .ms-legend,.mesastack-report .ms-muted{color:#555;font-size:12px}
.mesastack-report .ms-graph-wrap{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.mesastack-report svg.ms-graph{border:1px solid #e0e0e5;background:#fcfcfd;max-width:100%;height:auto}
.mesastack-report .ms-node rect{fill:#eef3fb;stroke:#4a6fa5;stroke-width:1.2}
.mesastack-report .ms-node.ms-leaf rect{fill:#f3f9ee;stroke:#5a8f3c}
.mesastack-report .ms-node,.mesastack-report .ms-edge{cursor:pointer}
.mesastack-report .ms-node:hover rect,.mesastack-report .ms-node.ms-selected rect{stroke-width:3}
.mesastack-report .ms-edge path{fill:none;stroke:#777;stroke-width:1.4}
.mesastack-report .ms-edge.ms-produces path{stroke:#b07a2a;stroke-dasharray:5 4}
.mesastack-report .ms-edge:hover path,.mesastack-report .ms-edge.ms-selected path{stroke:#c0392b;stroke-width:2.6}
.mesastack-report .ms-edge text{font-size:11px;fill:#333}
.mesastack-report svg text{font-family:inherit}
.mesastack-report .ms-details{flex:1 1 340px;min-width:280px;max-width:560px}
.mesastack-report .ms-detail{border:1px solid #d0d0d5;border-radius:4px;padding:6px 10px;margin-bottom:8px;
  background:#fff}
.mesastack-report[data-ready] .ms-detail{display:none}
.mesastack-report[data-ready] .ms-detail.ms-shown{display:block}
.mesastack-report .ms-detail h3{margin-top:0}
.mesastack-report .ms-claim{border-left:5px solid #999;padding:4px 10px;margin:8px 0;background:#fafafa}
.mesastack-report .ms-claim.ms-holds{border-color:#2e7d32}
.mesastack-report .ms-claim.ms-fails{border-color:#c62828}
.mesastack-report .ms-claim.ms-undecided{border-color:#b8860b}
.mesastack-report .ms-verdict{font-weight:600;text-transform:uppercase;font-size:12px;padding:1px 6px;
  border-radius:3px;color:#fff;background:#888}
.mesastack-report .ms-holds .ms-verdict{background:#2e7d32}
.mesastack-report .ms-fails .ms-verdict{background:#c62828}
.mesastack-report .ms-undecided .ms-verdict{background:#b8860b}
.mesastack-report figure{margin:.5em 0 1.2em}
.mesastack-report figure img{max-width:100%;border:1px solid #e0e0e5}
"""

# Click a node or edge: show its panel (and no other). Runs once per report on the page; marks
# the report data-ready, so without it (scripts not run) every panel stays visible.
_SCRIPT = """
(function () {
  var roots = document.querySelectorAll('.mesastack-report:not([data-ready])');
  Array.prototype.forEach.call(roots, function (root) {
    var items = root.querySelectorAll('[data-detail]');
    var panels = root.querySelectorAll('.ms-detail');
    function show(key) {
      Array.prototype.forEach.call(panels, function (p) {
        p.classList.toggle('ms-shown', p.getAttribute('data-for') === key);
      });
      Array.prototype.forEach.call(items, function (g) {
        g.classList.toggle('ms-selected', g.getAttribute('data-detail') === key);
      });
    }
    Array.prototype.forEach.call(items, function (g) {
      g.addEventListener('click', function () { show(g.getAttribute('data-detail')); });
      g.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); show(g.getAttribute('data-detail')); }
      });
    });
    root.setAttribute('data-ready', '1');
    var first = root.querySelector('.ms-node') || items[0];
    if (first) { show(first.getAttribute('data-detail')); }
  });
})();
"""


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def graph_layout(names, edges) -> dict:
    """Positions of a delegation graph's nodes in layers, roots on top: {name: (x, y)} in box units.

    A node's layer is its index in ``networkx.topological_generations`` of the delegation
    edges (every parent in a layer above it); within a layer the nodes are ordered by the
    mean x of their parents (ties: the order of ``names``) and placed at x = 0, 1, 2, ...,
    then each layer is centred on the widest. y is the layer's index.

    Parameters
    ----------
    names : sequence of str
        Every node, in the graph's order.
    edges : sequence of (str, str)
        The delegations (parent, child); they must form a DAG on ``names``.

    Returns
    -------
    dict
        {name: (x, y)}, floats; x in [0, widest layer - 1], y in {0, 1, ...}.

    Raises
    ------
    networkx.NetworkXUnfeasible
        When ``edges`` have a cycle (a DelegationGraph never has one).

    Examples
    --------
    >>> graph_layout(["designer", "A", "B", "C"], [("designer", "A"), ("designer", "B"), ("designer", "C")])
    {'designer': (1.0, 0.0), 'A': (0.0, 1.0), 'B': (1.0, 1.0), 'C': (2.0, 1.0)}
    >>> graph_layout(["r", "m", "l"], [("r", "m"), ("m", "l")])
    {'r': (0.0, 0.0), 'm': (0.0, 1.0), 'l': (0.0, 2.0)}
    """
    names = list(names)
    g = nx.DiGraph()
    g.add_nodes_from(names)
    g.add_edges_from((p, c) for p, c in edges if p in g and c in g)
    order = {n: i for i, n in enumerate(names)}
    layers, x = [], {}
    for gen in nx.topological_generations(g):
        def key(n):
            parents = [x[p] for p in g.predecessors(n) if p in x]
            return (sum(parents) / len(parents) if parents else -1.0, order[n])

        layer = sorted(gen, key=key)
        for i, n in enumerate(layer):
            x[n] = float(i)
        layers.append(layer)
    widest = max((len(layer) for layer in layers), default=0)
    out = {}
    for y, layer in enumerate(layers):
        shift = (widest - len(layer)) / 2.0
        for n in layer:
            out[n] = (x[n] + shift, float(y))
    return {n: out[n] for n in names if n in out}


def node_figures(report: Report, name: str) -> list:
    """The capability figures a node carries, as (chain, objective, text) triples (Definition 1).

    A node carries C(objective) of every chain through it on which it holds that objective
    (the figure's ``nodes``); a leaf also carries its chain's figures that no node holds
    (its other recorded objectives), as the annotated graph does
    (:func:`~hierarchy.exports.annotated_graph`). ``text`` is the spread as the terminal
    prints it, with the share of converged copies.

    Parameters
    ----------
    report : Report
        The run's report.
    name : str
        A node of the report's graph.

    Returns
    -------
    list of (str, str, str)
        In the report's order; empty for a node without figures.

    Raises
    ------
    Nothing of its own (it formats values already measured).

    Examples
    --------
    >>> from hierarchy.estimator import Estimator
    >>> from hierarchy.figures import CapabilityFigure, Spread
    >>> from hierarchy.measure import Measurements
    >>> cap = CapabilityFigure("gd", "L", ("human",), Spread.of([0.5]), 1.0, Spread.of([0.0]))
    >>> r = Report("demo", 0, 20, Estimator("finite"), Measurements(Estimator("finite"), (cap,), (), ()),
    ...            ({"name": "human"}, {"name": "gd"}), (("human", "gd"),))
    >>> node_figures(r, "human"), node_figures(r, "gd")
    ([('gd', 'L', '0.5 ±0')], [])
    """
    out = []
    for f in report.capabilities:
        holders = f.nodes if f.nodes else (f.chain,)
        if name in holders:
            conv = "" if report.estimator.kind == "finite" else f" (converged on {f.converged_fraction:.0%} of copies)"
            out.append((f.chain, f.objective, str(f.capability) + conv))
    return out


def edge_figures(report: Report, parent: str, child: str) -> list:
    """The alignment figures of the edge parent -> child, one per chain through it (Definition 2).

    Parameters
    ----------
    report : Report
        The run's report.
    parent, child : str
        The edge.

    Returns
    -------
    list of AlignmentFigure
        In the report's order; empty for an edge without figures (a production edge).

    Raises
    ------
    Nothing of its own (it formats values already measured).

    Examples
    --------
    >>> from hierarchy.estimator import Estimator
    >>> from hierarchy.figures import AlignmentFigure, Spread
    >>> from hierarchy.measure import Measurements
    >>> a = AlignmentFigure("gd", "human", "gd", "L", "G", Spread.of([0.8]), Spread.of([1.0]), 1.0)
    >>> r = Report("demo", 0, 20, Estimator("finite"), Measurements(Estimator("finite"), (), (a,), ()),
    ...            ({"name": "human"}, {"name": "gd"}), (("human", "gd"),))
    >>> [f.alignment.median for f in edge_figures(r, "human", "gd")], edge_figures(r, "gd", "human")
    ([0.8], [])
    """
    return [f for f in report.alignments if f.parent == parent and f.child == child]


def _node_info(report: Report, name: str) -> dict:
    return next((n for n in report.nodes if n.get("name") == name), {"name": name})


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def graph_svg(report: Report) -> str:
    """The delegation graph as inline SVG, with its figures on nodes and edges.

    A node's box shows its name, role and objective and up to two of its capabilities
    C(objective)@chain (:func:`node_figures`); a delegation edge's label its alignment
    alpha | normalized alpha per chain (:func:`edge_figures`); production edges
    (``producer => product``) are dashed curves. Every node and edge has an SVG ``<title>``
    (shown on hover) with all its figures and a ``data-detail`` key naming its panel in
    :func:`report_fragment`. Positions: :func:`graph_layout`.

    Parameters
    ----------
    report : Report
        The run's report (its ``nodes``, ``edges``, ``productions`` and figures).

    Returns
    -------
    str
        One ``<svg>`` element; ``''`` when the report has no nodes.

    Raises
    ------
    Nothing of its own (it formats values already measured).

    Examples
    --------
    >>> from hierarchy.estimator import Estimator
    >>> from hierarchy.measure import Measurements
    >>> r = Report("demo", 0, 0, Estimator(), Measurements(Estimator(), (), (), ()),
    ...            ({"name": "human", "objective": "L"}, {"name": "gd", "objective": "G", "is_leaf": True}),
    ...            (("human", "gd"),))
    >>> svg = graph_svg(r)
    >>> svg.startswith("<svg"), svg.count('class="ms-node'), svg.count('class="ms-edge')
    (True, 2, 1)
    """
    names = [n.get("name") for n in report.nodes]
    if not names:
        return ""
    pos = graph_layout(names, report.edges)
    lines = {n: _node_lines(report, n) for n in names}
    box_h = 10 + _LINE_H * max(len(v) for v in lines.values())
    cols = max(x for x, _ in pos.values()) + 1
    rows = max(y for _, y in pos.values()) + 1
    step_x, step_y = _BOX_W + _BOX_GAP_X, box_h + _LAYER_GAP_Y
    width, height = int(cols * step_x + 20), int(rows * step_y - _LAYER_GAP_Y + 40 + 0.12 * cols * step_x)

    def centre(n):
        x, y = pos[n]
        return 10 + _BOX_GAP_X / 2 + x * step_x + _BOX_W / 2, 20 + y * step_y + box_h / 2

    parts = [f'<svg class="ms-graph" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="delegation graph">',
             '<defs><marker id="ms-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#777"/></marker></defs>']
    for i, (p, c) in enumerate(report.edges):
        if p not in pos or c not in pos:
            continue
        (x1, y1), (x2, y2) = centre(p), centre(c)
        y1, y2 = y1 + box_h / 2, y2 - box_h / 2
        figs = edge_figures(report, p, c)
        tag = len(figs) > 1 or any(f.chain != c for f in figs)
        label = [f"α{'@' + f.chain if tag else ''} {format_number(f.alignment.median)} | "
                 f"{format_number(f.normalized.median)}" for f in figs]
        if len(label) > 2:
            label = label[:1] + [f"+{len(label) - 1} more (click)"]
        title = _edge_title(report, p, c)
        # the label sits near the child's end, where sibling edges are a box width apart
        # (beside the line when the edge is vertical)
        mx = x1 + 2 if abs(x2 - x1) < 1 else x1 + 0.72 * (x2 - x1) - 30
        my = y1 + 0.5 * (y2 - y1) if abs(x2 - x1) < 1 else y1 + 0.72 * (y2 - y1) - 6 * len(label)
        text = "".join(f'<tspan x="{mx + 4:.1f}" dy="{0 if k == 0 else 13}">{_e(t)}</tspan>'
                       for k, t in enumerate(label))
        parts.append(f'<g class="ms-edge" data-detail="edge-{i}" data-edge="{_e(p)}->{_e(c)}" tabindex="0">'
                     f'<title>{_e(title)}</title>'
                     f'<path d="M{x1:.1f},{y1:.1f} L{x2:.1f},{y2:.1f}" marker-end="url(#ms-arrow)"/>'
                     f'<text x="{mx + 4:.1f}" y="{my - 4:.1f}">{text}</text></g>')
    for i, (p, c) in enumerate(report.productions):
        if p not in pos or c not in pos:
            continue
        (x1, y1), (x2, y2) = centre(p), centre(c)
        y1, y2 = y1 + box_h / 2, y2 + box_h / 2
        cy = max(y1, y2) + 18 + 0.12 * abs(x2 - x1)
        parts.append(f'<g class="ms-edge ms-produces" data-detail="production-{i}" data-edge="{_e(p)}=>{_e(c)}" '
                     f'tabindex="0"><title>{_e(f"{p} produces {c}: {c} starts from what {p} trained")}</title>'
                     f'<path d="M{x1:.1f},{y1:.1f} Q{(x1 + x2) / 2:.1f},{cy:.1f} {x2:.1f},{y2:.1f}" '
                     f'marker-end="url(#ms-arrow)"/></g>')
    for i, n in enumerate(names):
        cx, cy = centre(n)
        x0, y0 = cx - _BOX_W / 2, cy - box_h / 2
        leaf = " ms-leaf" if _node_info(report, n).get("is_leaf") else ""
        bold = ' font-weight="600"'
        text = "".join(f'<text x="{x0 + 8:.1f}" y="{y0 + 17 + k * _LINE_H:.1f}"{bold if k == 0 else ""}>{_e(t)}</text>'
                       for k, t in enumerate(lines[n]))
        parts.append(f'<g class="ms-node{leaf}" data-detail="node-{i}" data-node="{_e(n)}" tabindex="0">'
                     f'<title>{_e(_node_title(report, n))}</title>'
                     f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{_BOX_W}" height="{box_h}" rx="6"/>{text}</g>')
    parts.append("</svg>")
    return "".join(parts)


def _node_lines(report: Report, name: str) -> list:
    info = _node_info(report, name)
    head = name + (f"  ({info['objective']})" if info.get("objective") else "")
    lines = [_clip(head, 28)]
    if info.get("role"):
        lines.append(_clip(str(info["role"]), 30))
    figs = node_figures(report, name)
    shown = [f"C({o})@{c} {format_number(_median(report, c, o))}" for c, o, _ in figs]
    if len(shown) > _MAX_LINES - len(lines):
        keep = _MAX_LINES - len(lines) - 1
        shown = shown[:keep] + [f"+{len(shown) - keep} more (click)"]
    return lines + [_clip(s, 30) for s in shown]


def _median(report: Report, chain: str, objective: str) -> float:
    return next(f.capability.median for f in report.capabilities if f.chain == chain and f.objective == objective)


def _node_title(report: Report, name: str) -> str:
    info = _node_info(report, name)
    lines = [f"{name}: {info.get('role', '')}".rstrip(": ")]
    if info.get("objective"):
        lines.append(f"objective {info['objective']}: {info.get('objective_description') or ''}".rstrip(": "))
    lines += [f"C({o}) on chain {c} = {t}" for c, o, t in node_figures(report, name)]
    return "\n".join(lines)


def _edge_title(report: Report, parent: str, child: str) -> str:
    lines = [f"{parent} -> {child} (delegates)"]
    for f in edge_figures(report, parent, child):
        lines.append(f"chain {f.chain}: alpha = {f.alignment}; normalized = {f.normalized}")
    return "\n".join(lines)


def _dl(pairs) -> str:
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in pairs) + "</table>"


def _details(report: Report) -> str:
    names = [n.get("name") for n in report.nodes]
    out = ['<div class="ms-details"><p class="ms-muted">Hover a node or an edge for its figures; click it to '
           'show them here.</p>']
    for i, n in enumerate(names):
        info = _node_info(report, n)
        pairs = [(k, info[k]) for k in ("role", "objective", "objective_description", "description", "step_unit",
                                        "produced_by") if info.get(k) not in (None, "")]
        figs = node_figures(report, n)
        body = _dl(pairs)
        if figs:
            body += "<p>capabilities (Definition 1), per chain through the node</p>" + _dl(
                (f"C({o}) on chain {ch}", t) for ch, o, t in figs)
        extra = report.node_attributes.get(n)
        if extra:
            body += _dl(extra.items())
        out.append(f'<div class="ms-detail" data-for="node-{i}"><h3>node {_e(n)}</h3>{body}</div>')
    for i, (p, c) in enumerate(report.edges):
        figs = edge_figures(report, p, c)
        body = "".join(
            f"<p>alignment on chain {_e(f.chain)} (Definition 2)</p>" +
            _dl([("base / mesa objective", f"{f.base_objective} / {f.mesa_objective}"), ("alpha", f.alignment),
                 ("normalized alpha", f.normalized), ("normalized by", f.normalization or "-"),
                 ("defined on", f"{f.defined_fraction:.0%} of copies")]) for f in figs)
        body = body or '<p class="ms-muted">no alignment measured</p>'
        extra = report.edge_attributes.get((p, c))
        if extra:
            body += _dl(extra.items())
        out.append(f'<div class="ms-detail" data-for="edge-{i}"><h3>edge {_e(p)} -&gt; {_e(c)}</h3>{body}</div>')
    for i, (p, c) in enumerate(report.productions):
        out.append(f'<div class="ms-detail" data-for="production-{i}"><h3>production {_e(p)} =&gt; {_e(c)}</h3>'
                   f'<p>{_e(c)} starts from what {_e(p)} trained (its product).</p></div>')
    out.append("</div>")
    return "".join(out)


def table_html(title: str, columns, rows) -> str:
    """A table as HTML, its cells formatted as the terminal formats them.

    Floats in four significant digits, bools yes / no, NaN ``undefined`` (the cell rule of
    :func:`~hierarchy.report.render_table`); everything escaped.

    Parameters
    ----------
    title : str
        The caption ('' for none).
    columns : sequence
        Column headers.
    rows : sequence of sequence
        One row of cells per line.

    Returns
    -------
    str
        One ``<table>`` element.

    Raises
    ------
    Nothing of its own (it formats values already measured).

    Examples
    --------
    >>> table_html("t", ["a", "b"], [[1, 2.34567], [True, float("nan")]])
    '<table><caption>t</caption><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2.346</td></tr><tr><td>yes</td><td>undefined</td></tr></table>'
    """
    cap = f"<caption>{_e(title)}</caption>" if title else ""
    head = "<tr>" + "".join(f"<th>{_e(c)}</th>" for c in columns) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{_e(_cell(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{cap}{head}{body}</table>"


def claims_html(claims) -> str:
    """The claims as HTML: each with its verdict, text, seed counts, numbers, margin against
    resolution, and rule (the content of :meth:`~hierarchy.report.Claim.render`).

    Parameters
    ----------
    claims : sequence of Claim
        The report's claims.

    Returns
    -------
    str
        One ``<div class="ms-claim ms-<verdict>">`` per claim; ``''`` for none.

    Raises
    ------
    Nothing of its own (it formats values already measured).

    Examples
    --------
    >>> from hierarchy.report import Claim
    >>> out = claims_html([Claim.compare("x > 0", {"x": 0.5}, margin=0.5, standard_error=0.1)])
    >>> 'ms-claim ms-holds' in out, '<td>0.5</td>' in out, 'margin 0.5 against resolution 0.2' in out
    (True, True, True)
    """
    out = []
    for c in claims:
        body = [f'<div class="ms-claim ms-{_e(c.verdict)}" data-verdict="{_e(c.verdict)}">'
                f'<p><span class="ms-verdict">{_e(c.label)}</span> <span class="ms-claim-text">{_e(c.text)}</span></p>']
        if c.seeds is not None:
            lo, hi = c.seeds.rate_interval
            body.append(f"<p>{_e(c.seeds.describe())} (rate of holding: 95% Wilson interval "
                        f"[{lo:.2f}, {hi:.2f}])</p>")
        if c.numbers:
            body.append(table_html("", ("number", "value"), list(c.numbers.items())))
        body.append(f"<p>margin {_e(format_number(c.margin))} against resolution "
                    f"{_e(format_number(c.resolution))}</p>")
        if c.rule:
            body.append(f'<p class="ms-muted">rule: {_e(c.rule)}</p>')
        out.append("".join(body) + "</div>")
    return "".join(out)


def data_uri(name: str, content: bytes) -> Optional[str]:
    """``content`` as a ``data:`` URI, its type from ``name``'s suffix; None for a non-image.

    Parameters
    ----------
    name : str
        The file's name (``objectives.png``).
    content : bytes
        The file's bytes.

    Returns
    -------
    str or None
        ``data:<mime>;base64,<base64 of content>``.

    Raises
    ------
    Nothing of its own (it formats values already measured).

    Examples
    --------
    >>> data_uri("a.png", b"\\x89PNG"), data_uri("trials.csv", b"a,b")
    ('data:image/png;base64,iVBORw==', None)
    """
    dot = name.rfind(".")
    mime = _MIME.get(name[dot:].lower()) if dot >= 0 else None
    if mime is None:
        return None
    return f"data:{mime};base64,{base64.b64encode(bytes(content)).decode('ascii')}"


def plots_html(plots: Mapping) -> str:
    """The plots inline: one ``<figure>`` per image file, its bytes as a data URI.

    Parameters
    ----------
    plots : mapping of str to bytes
        {file name: its bytes}, in the order to show them; names that are not images
        (:func:`data_uri`) are listed as written beside the page.

    Returns
    -------
    str
        ``''`` for no plots.

    Raises
    ------
    Nothing of its own (it formats values already measured).

    Examples
    --------
    >>> plots_html({"a.png": b"x"})
    '<figure><img src="data:image/png;base64,eA==" alt="a.png"><figcaption>a.png</figcaption></figure>'
    """
    out = []
    for name, content in plots.items():
        uri = data_uri(name, content)
        if uri is None:
            out.append(f'<p class="ms-muted">{_e(name)}: written beside this page</p>')
        else:
            out.append(f'<figure><img src="{uri}" alt="{_e(name)}"><figcaption>{_e(name)}</figcaption></figure>')
    return "".join(out)


def report_fragment(report: Report, plots: Optional[Mapping] = None) -> str:
    """The report as one HTML element (no page around it): what a notebook displays.

    Sections: header and choices; the delegation graph (:func:`graph_svg`) with a panel per
    node and edge; the main table (:meth:`~hierarchy.report.Report.main_table`, with the
    non-converged ``*`` note and the spread legend); the extra tables; the claims
    (:func:`claims_html`) with a count of verdicts; the plots (:func:`plots_html`); the notes.
    Styles and the click script are inline and scoped to ``.mesastack-report``.

    Parameters
    ----------
    report : Report
        The run's report.
    plots : mapping of str to bytes, optional
        The plots' files, {name: bytes}.

    Returns
    -------
    str
        ``<div class="mesastack-report" data-scenario="...">...</div>``.

    Raises
    ------
    Nothing of its own (it formats values already measured).

    Examples
    --------
    >>> from hierarchy.estimator import Estimator
    >>> from hierarchy.measure import Measurements
    >>> r = Report("demo", 0, 0, Estimator(), Measurements(Estimator(), (), (), ()), ({"name": "human"},), ())
    >>> out = report_fragment(r)
    >>> out.startswith('<div class="mesastack-report" data-scenario="demo">'), out.endswith("</div>")
    (True, True)
    """
    r = report
    run = [("seed", r.seed), ("steps", r.steps)] + ([] if "estimator" in r.choices else [("estimator", r.estimator)])
    head = [f"<h2>{_e(r.scenario)}</h2>", _dl(run + list(r.choices.items()))]
    graph = ['<h2>delegation graph</h2><div class="ms-graph-wrap">', graph_svg(r), _details(r), "</div>"]
    table = r.main_table()
    main = ["<h2>capability and alignment</h2>", table_html(table.title, table.columns, table.rows)]
    if any("*" in c for row in table.rows for c in row[1:-2]):
        main.append(f'<p class="ms-legend">* the limit estimate has not converged for some copies (its error is '
                    f'above {r.estimator.tolerance:g} |C|)</p>')
    main.append(f'<p class="ms-legend">{_e(SPREAD_LEGEND)}</p>')
    if r.products:
        main.append(f'<p class="ms-legend">product check: the largest relative discrepancy of C_root = prod(alpha) '
                    f'* C_leaf over copies; largest over chains {_e(format_number(r.max_discrepancy))}</p>')
    extra = ["<h2>tables</h2>"] + [table_html(t.title, t.columns, t.rows) for t in r.tables] if r.tables else []
    claims = []
    if r.claims:
        counts = {v: sum(c.verdict == v for c in r.claims) for v in ("holds", "fails", "undecided")}
        claims = [f"<h2>claims</h2><p>{counts['holds']} hold, {counts['fails']} fail, {counts['undecided']} "
                  f"undecided (of {len(r.claims)}); each is decided by its margin against its resolution, z = 2 "
                  f"standard errors</p>", claims_html(r.claims)]
    figs = ["<h2>plots</h2>", plots_html(plots)] if plots else []
    notes = ["<h2>notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in r.notes) + "</ul>"] if r.notes else []
    body = "".join(head + graph + main + extra + claims + figs + notes)
    return (f'<div class="mesastack-report" data-scenario="{_e(r.scenario)}"><style>{_STYLE}</style>{body}'
            f"<script>{_SCRIPT}</script></div>")


def report_page(report: Report, plots: Optional[Mapping] = None) -> str:
    """The whole of ``report.html``: a self-contained page around :func:`report_fragment`.

    The page loads nothing (its Content-Security-Policy, :data:`CSP`, forbids every
    source but inline styles, inline scripts and data: images).

    Parameters
    ----------
    report : Report
        The run's report.
    plots : mapping of str to bytes, optional
        The plots' files, {name: bytes}, embedded as data URIs.

    Returns
    -------
    str
        An HTML5 document.

    Raises
    ------
    Nothing of its own (it formats values already measured).

    Examples
    --------
    >>> from hierarchy.estimator import Estimator
    >>> from hierarchy.measure import Measurements
    >>> r = Report("demo", 0, 0, Estimator(), Measurements(Estimator(), (), (), ()), ({"name": "human"},), ())
    >>> page = report_page(r)
    >>> page.startswith("<!DOCTYPE html>"), CSP in page, report_fragment(r) in page
    (True, True, True)
    """
    title = f"mesastack {report.scenario} (seed {report.seed}, {report.steps} steps)"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title></head><body>{report_fragment(report, plots)}</body></html>\n")
