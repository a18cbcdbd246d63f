"""Report.to_frame and Report.claims_frame: long (tidy) frames checked against closed forms.

The leaf's copy k has G_k(t) = a_k 0.5^t and L_k = c_k G_k + 1, so on every estimator
alpha_k = C(L)_k / C(G)_k = c_k exactly (Definition 2), and C(G)_k / C(G)_0 = a_k / a_0
(Definition 1 is linear in the objective).
"""

import math
import sys

import numpy as np
import pytest

from hierarchy.decision import SeedCount
from hierarchy.errors import ParameterError
from hierarchy.estimator import Estimator
from hierarchy.graph import DelegationGraph, OptimizerNode
from hierarchy.objective import Objective
from hierarchy.report import Claim, build_report
from hierarchy.run import run_graph
from hierarchy.trajectory import Trajectory

pd = pytest.importorskip("pandas")

A = np.array([1.0, 2.0, 4.0])
C = np.array([2.0, 3.0, 5.0])


class Scaled:
    records = ("G", "L")
    deterministic = True

    def run(self, steps, seed, progress=None):
        g = A[:, None] * 0.5 ** np.arange(steps + 1)[None, :]
        return Trajectory({"G": g, "L": C[:, None] * g + 1.0})


def report(estimator=Estimator("finite"), claims=()):
    g = DelegationGraph.chain(OptimizerNode("human", Objective("L")),
                              OptimizerNode("gd", Objective("G"), leaf=Scaled()))
    return build_report("frames", g, run_graph(g, 30), estimator, steps=30, claims=claims)


@pytest.mark.parametrize("estimator", [Estimator("finite"), Estimator("limit")])
def test_alignment_rows_are_the_closed_form_per_copy(estimator):
    df = report(estimator).to_frame()
    al = df[df.figure == "alignment"].sort_values("copy")
    assert list(al["copy"]) == [0, 1, 2] and set(al["edge"]) == {"human->gd"}
    np.testing.assert_allclose(al["value"], C, rtol=1e-12)
    assert set(al["objective"]) == {"L"} and set(al["mesa_objective"]) == {"G"}
    assert (al["estimator"] == str(estimator)).all()
    np.testing.assert_allclose(al["median"], np.median(C), rtol=1e-12)
    np.testing.assert_allclose(al["q25"], np.percentile(C, 25), rtol=1e-12)


def test_capability_rows_scale_with_the_copies_and_carry_their_summary():
    df = report().to_frame()
    cg = df[(df.figure == "capability") & (df.objective == "G")].sort_values("copy")
    np.testing.assert_allclose(cg["value"] / cg["value"].iloc[0], A / A[0], rtol=1e-12)
    cl = df[(df.figure == "capability") & (df.objective == "L")].sort_values("copy")
    np.testing.assert_allclose(cl["value"].to_numpy() / cg["value"].to_numpy(), C, rtol=1e-12)
    for _, group in df.groupby(["figure", "chain", "objective", "edge"], dropna=False):
        finite = group["value"][np.isfinite(group["value"])]
        assert (group["n"] == len(finite)).all() and (group["K"] == len(group)).all()
        if len(finite):
            np.testing.assert_allclose(group["median"], np.median(finite), rtol=1e-12)
            assert (group["ci95_low"].isna() | (group["ci95_low"] <= group["ci95_high"])).all()


def test_frame_has_one_row_per_figure_and_copy():
    r = report()
    df = r.to_frame()
    expected = 2 * sum(f.capability.K for f in r.capabilities) + 2 * sum(f.alignment.K for f in r.alignments) \
        + 2 * sum(p.direct.K for p in r.products)
    assert len(df) == expected == 3 * (2 * 2 + 2 + 2)  # C(L), C(G) with drift; alpha, normalized; direct, product
    assert not df.duplicated(["figure", "chain", "objective", "edge", "copy"]).any()
    prod = df[df.figure.isin(["direct", "product"])]
    assert set(prod["objective"]) == {"L"} and (prod["discrepancy"] < 1e-12).all()
    # the delegation product: both sides agree copy by copy
    np.testing.assert_allclose(prod[prod.figure == "direct"]["value"], prod[prod.figure == "product"]["value"],
                               rtol=1e-12)


def test_claims_frame_one_row_per_claim_and_number():
    per_seed = [Claim.compare("x > 0", {"x": v}, margin=v, standard_error=0.1) for v in (0.5, 0.6, -0.5)]
    claims = (Claim.compare("a > b", {"a": 2.0, "b": 1.0}, margin=1.0, standard_error=0.1),
              Claim.exact("no copy diverged", {}, margin=1),
              Claim.replicated("x > 0", per_seed))
    cf = report(claims=claims).claims_frame()
    assert list(cf["claim"]) == [0, 0, 1, 2]
    assert list(cf["number"][:2]) == ["a", "b"] and list(cf["value"][:2]) == [2.0, 1.0]
    assert pd.isna(cf["number"].iloc[2]) and math.isnan(cf["value"].iloc[2])
    one = cf.drop_duplicates("claim")
    assert list(one["verdict"]) == ["holds", "holds", "undecided"]
    rep = one.iloc[2]
    count = SeedCount.of(["holds", "holds", "fails"])
    assert (rep["seeds_n"], rep["seeds_holds"], rep["seeds_fails"], rep["seeds_undecided"]) == (3, 2, 1, 0)
    assert (rep["rate_low"], rep["rate_high"]) == pytest.approx(count.rate_interval)
    assert pd.isna(one["seeds_n"].iloc[0]) and math.isnan(one["rate_low"].iloc[0])
    np.testing.assert_allclose(one["margin"].iloc[0], 1.0)


def test_empty_report_gives_empty_frames_with_the_columns():
    r = report()
    empty = type(r)("e", 0, 0, r.estimator, type(r.measurements)(r.estimator, (), (), ()), (), ())
    assert len(empty.to_frame()) == 0
    assert list(empty.to_frame().columns)[:3] == ["figure", "chain", "parent"]
    assert len(empty.claims_frame()) == 0 and "verdict" in empty.claims_frame().columns


def test_frames_without_pandas_name_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    r = report()
    for frame in (r.to_frame, r.claims_frame):
        with pytest.raises(ParameterError) as e:
            frame()
        assert "pip install pandas" in str(e.value) and "\n" not in str(e.value)


def test_json_and_terminal_are_unchanged_by_the_frames():
    r = report(claims=(Claim.compare("a > b", {"a": 2.0}, margin=1.0, standard_error=0.1),))
    before = (r.to_json(), r.render())
    r.to_frame(), r.claims_frame(), r._repr_html_()
    assert (r.to_json(), r.render()) == before
    # the terminal's main table is Report.main_table (one source for the terminal and the HTML)
    assert r.render().split("\n\n")[1] == r.main_table().render()
    assert r.main_table().rows[0][0] == "human -> gd"
