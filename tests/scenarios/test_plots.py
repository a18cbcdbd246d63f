"""The plots' own arithmetic against independent truth (the estimator on every prefix, a synthetic
orbit), and what a panel shows: the meaning in its title, the labelled band and tail window, a log
axis for any objective spanning decades, every recorded objective."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hierarchy import DelegationGraph, Objective, OptimizerNode, Trajectory
from hierarchy.alignment import alignment
from hierarchy.estimator import Estimator
from scenarios.harris_abc import orbit_caption
from scenarios.machinery.api import objective_plots, recorded_objectives
from scenarios.machinery.plots import _draw_objective, _pyplot, nan_quantiles, running_alignment, spans_decades, thin


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(5, 3000), st.integers(4, 400))
def test_thinned_curves_keep_every_extreme_and_bands_contain_the_band(seed, T, points):
    rng = np.random.default_rng(seed)
    y = np.cumsum(rng.normal(size=T))
    y[rng.random(T) < 0.05] = np.nan
    lo, hi = y - rng.random(T), y + rng.random(T)
    t = np.arange(T)
    tt, yy = thin(t, y, points=points)
    assert tt.size <= points and np.all(np.diff(tt) > 0)  # two steps a bin at most, in order
    assert np.array_equal(yy, y[tt], equal_nan=True)  # the kept points are the curve's own
    if np.isfinite(y).any():
        assert np.nanmax(yy) == np.nanmax(y) and np.nanmin(yy) == np.nanmin(y)  # no spike or dip lost
    if T <= points:
        assert np.array_equal(tt, t)
    tb, lb, hb = thin(t, lo, hi, points=points, lower=0)
    width = -(-T // max(1, points // 2)) if T > points else 1
    for k, step in enumerate(tb):  # the thinned band covers the whole band of its bin
        b = slice(step // width * width, step // width * width + width)
        if np.isfinite(lo[b]).any():
            assert lb[k] <= np.nanmin(lo[b]) and hb[k] >= np.nanmax(hi[b])


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 9), st.integers(1, 6), st.floats(0.0, 0.9))
def test_nan_quantiles_are_numpys_nanpercentile(seed, n, T, nan_share):
    """The one-sort band equals numpy's column-by-column nanpercentile (its linear rule), NaN columns included."""
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, T)) * 10.0 ** rng.integers(-3, 4, size=(n, T))
    v[rng.random((n, T)) < nan_share] = np.nan
    v[:, 0] = np.nan  # one column with no value at all
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanpercentile(v, [50, 25, 75, 0, 100], axis=0)
    got = nan_quantiles(v, [0.5, 0.25, 0.75, 0.0, 1.0])
    assert got.shape == expected.shape
    assert np.allclose(got, expected, rtol=1e-14, atol=0, equal_nan=True)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.sampled_from([0.1, 0.25, 0.5]))
def test_running_alignment_is_the_estimator_on_every_prefix(seed, tail):
    rng = np.random.default_rng(seed)
    mesa = np.exp(-rng.uniform(0.01, 0.3, size=(3, 1)) * np.arange(40)) + rng.uniform(0, 0.01, size=(3, 40))
    base = 2.0 * mesa + rng.normal(0, 0.01, size=(3, 40)) + 1.0
    run = running_alignment(base, mesa, tail)
    for t in (1, 2, 7, 20, 39):
        expected = alignment(base[:, :t + 1], mesa[:, :t + 1], Estimator("limit", tail)).value
        finite = np.isfinite(expected)
        assert np.allclose(run[:, t][finite], expected[finite], rtol=1e-9, atol=1e-12)
    assert np.isnan(run[:, 0]).all()


def test_spans_decades():
    assert spans_decades([np.array([1.0, 1e-2])]) and not spans_decades([np.array([1.0, 0.02])])
    assert not spans_decades([np.array([1.0, 1e-3, 0.0])]) and not spans_decades([np.array([np.nan])])


def _panel(values, name="U", description="a made-up utility", tail=0.25, caps=None):
    plt = _pyplot()
    fig, ax = plt.subplots()
    try:
        _draw_objective(ax, {"opt": {name: values}}, name, (), None, None, {name: description}, tail, caps)
        return (ax.get_title(), ax.get_yscale(), [t.get_text() for t in ax.get_legend().get_texts()],
                [t.get_text() for t in ax.texts])
    finally:
        plt.close(fig)


def test_a_panel_names_its_objective_band_tail_and_capabilities():
    v = np.stack([0.5 ** np.arange(41), 0.6 ** np.arange(41)])  # positive, spans decades, named neither G nor G1
    title, scale, legend, texts = _panel(v, caps={"opt": {"U": 0.9}})
    assert title.startswith("U: a made-up utility") and scale == "log"
    assert any("IQR over copies" in x for x in legend) and any("tail window" in x and "0.25" in x for x in legend)
    assert any("C(U) = 0.9" in x for x in legend) and any("C is the drop" in x for x in legend)
    _, scale, _, _ = _panel(np.stack([np.linspace(2, 1, 41)] * 2))
    assert scale == "linear"  # less than two decades


class TwoThings:
    records = ("G", "L", "U")
    deterministic = True

    def run(self, steps, seed, progress=None):
        g = 0.5 ** np.arange(steps + 1)
        return Trajectory({"G": [g], "L": [2 * g + 1], "U": [-g]})


def test_every_recorded_objective_is_plotted(tmp_path):
    from hierarchy.run import run_graph

    g = DelegationGraph.chain(OptimizerNode("human", Objective("L", "the loss")),
                              OptimizerNode("gd", Objective("G"), leaf=TwoThings()))
    runs = run_graph(g, 20)
    assert recorded_objectives(g, runs) == ["L", "G", "U"]
    plots = objective_plots(g, runs, "demo")
    plots["objectives.png"](tmp_path / "o.png")
    assert (tmp_path / "o.png").read_bytes()[:4] == b"\x89PNG"


def test_orbit_caption_finds_the_jump_and_the_period_two_orbit():
    T = 400
    G = np.concatenate([0.5 ** np.arange(100) + 1e-4, np.full(T - 100, 0.05)])[None, :]
    L = (1.0 + 0.01 * (-1.0) ** np.arange(T) + np.linspace(1, 0, T))[None, :]
    text = orbit_caption(L, G, 0.25)
    # G first exceeds 10x its running minimum at step 100 (min ~ 1e-4 + 0.5^99), L flips every tail step
    assert "first at step 100" in text and "on 100% of tail steps" in text
    assert "never jumps" in orbit_caption(L, 0.5 ** np.arange(T)[None, :], 0.25)


def test_dead_caption_counts_the_dead_copies_and_the_step_the_gradient_vanishes():
    pytest.importorskip("sklearn")
    from scenarios.harris_digits import dead_caption

    T, H = 40, float(np.log(2))
    G = np.stack([np.concatenate([np.full(12, 0.3), np.full(T - 12, 3e-33)]), np.full(T, 0.2)])
    L = np.stack([np.concatenate([np.full(12, 0.9), np.full(T - 12, H)]), np.linspace(0.9, 0.1, T)])
    tr = Trajectory({"L": L, "G": G}, copy_meta={"dead_units": [8, 3]})
    text = dead_caption(tr, "C", H, 8, 0.25)
    # copy 0 dies: G below 1e-20 of its start from step 12 on, its tail L is the label entropy
    assert "on 1 of 2 copies" in text and "from step 12 on" in text and f"tail mean {H:.6f}" in text
    assert "no copy ends" in dead_caption(tr, "C", H, 16, 0.25)


def test_maze_key_names_every_colour_and_the_replicator_cells():
    from scenarios.common.maze_plots import maze_key

    labels = [h.get_label() for h in maze_key()]
    assert {"entrance", "exit", "exit, hidden from the agent", "green cell"} <= set(labels) and len(labels) == 5
    assert len(maze_key(occupied=True)) == 6


def test_a_picture_drawn_in_advance_writes_the_same_bytes_and_fails_where_the_drawing_failed(tmp_path):
    from scenarios.machinery.plots import drawn_in_advance

    def draw(target):
        with open(target, "wb") if isinstance(target, (str, type(tmp_path))) else _Same(target) as f:
            f.write(b"\x89PNG picture")

    draw(tmp_path / "direct.png")
    drawn_in_advance(draw)(tmp_path / "later.png")
    assert (tmp_path / "later.png").read_bytes() == (tmp_path / "direct.png").read_bytes()

    def broken(target):
        raise ValueError("no data to draw")
    late = drawn_in_advance(broken)  # drawing fails now; the writer learns it when it writes
    with pytest.raises(ValueError, match="no data to draw"):
        late(tmp_path / "never.png")
    assert not (tmp_path / "never.png").exists()


class _Same:
    def __init__(self, f):
        self.f = f

    def __enter__(self):
        return self.f

    def __exit__(self, *exc):
        return False
