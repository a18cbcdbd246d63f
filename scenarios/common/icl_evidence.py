"""The definitions of inner alignment on the in-context learner: evidence per copy, measured.

For a shift family (agents.in_context.shifts) and copy k of the population it judges:

* ``is_mesa_optimizer``: copy k's measured verdict "implements one step of gradient descent
  on L_ctx" (agents.in_context.match; holds -> True, fails or undecided -> False), with the
  numbers that decided it as ``mesa_optimizer_source``;
* performance: the base-objective score R^2 = 1 - L_q / L_q(zero) of the trained layer (one
  application, as trained) on the training distribution and on the family's deployment
  member; reference: the same for the base-objective optimizer of this model class on that
  distribution (one GD step at that distribution's own line-searched step);
* ``mesa_optimal_*``: R^2 of an exact minimizer of the mesa-objective (least squares on the
  context, X^+ y);
* ``capability_generalization``: the relative capability C(L_ctx) / L_ctx(0) of the inner
  run on deployment over that on training (an infinite or undefined ratio, a run with no
  finite progress, enters as -1e300 or +1e300 by its sign, NaN as -1e300: no capability);
* ``alpha``: alpha(query loss over L_ctx) of the inner run on training, ``alpha_variations``
  the same on every member of the family.
"""

from __future__ import annotations

import attrs
import numpy as np

from hierarchy.inner_alignment import DEFINITIONS, MeasuredEvidence, judge_all, population_verdict

from agents.in_context.match import verdict_word

__all__ = ["IclJudgement", "judge_family", "mesa_source"]


@attrs.frozen(eq=False)
class IclJudgement:
    """One family's evidence (median ``typical`` and per copy) and verdicts (per definition and per copy)."""

    family: str
    typical: MeasuredEvidence
    copies: tuple
    verdicts: tuple
    copy_verdicts: tuple


def mesa_source(claim, f, k: int) -> str:
    """What decided is_mesa_optimizer for copy ``k``: its verdict and match numbers."""
    return (f"{verdict_word(claim)} (L/L_gd {f.loss_ratio[k]:.4g}, cosine {f.cosine[k]:.4g}, "
            f"rho {f.prediction[k]:.3g}, eta_eff/eta* {f.eta_ratio[k]:.3g})")


def _median(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else float("nan")


def judge_family(family, base, members, match, th, system: str) -> IclJudgement:
    """Every copy's Evidence for ``family`` and its verdicts under every definition.

    Parameters
    ----------
    family : agents.in_context.shifts.Family
    base : MemberFigures
        The copies on their training distribution.
    members : tuple of MemberFigures
        The copies on each member of the family.
    match : (MatchFigures, tuple of Claim)
        The judged population's match measurements and per-copy verdicts.
    th : hierarchy.inner_alignment.Thresholds
    system : str
        The system's name in the report.

    Returns
    -------
    IclJudgement
    """
    f, claims = match
    dep = members[family.deploy]
    K = f.K
    with np.errstate(divide="ignore", invalid="ignore"):
        capgen = dep.relative_capability / base.relative_capability

    def evidence(name, k):
        pick = (lambda x: float(np.asarray(x, dtype=np.float64)[k])) if k is not None else _median
        is_mesa = all(c.verdict == "holds" for c in claims) if k is None else claims[k].verdict == "holds"
        source = (mesa_source(claims[k], f, k) if k is not None else
                  f"{sum(c.verdict == 'holds' for c in claims)} of {K} copies implement GD on L_ctx")
        cg = pick(capgen)
        return MeasuredEvidence(name, bool(is_mesa), pick(base.r2), base.r2_reference, pick(dep.r2), dep.r2_reference,
                        cg if np.isfinite(cg) else (1e300 if cg > 0 else -1e300),
                        mesa_optimal_train=base.r2_mesa_optimal, mesa_optimal_deploy=dep.r2_mesa_optimal,
                        alpha=pick(base.alpha), alpha_variations=tuple(pick(m.alpha) for m in members),
                        measurement=source)

    typical = evidence(system, None)
    copies = tuple(evidence(f"{system} copy {k}", k) for k in range(K))
    copy_verdicts = tuple(judge_all(e, th) for e in copies)
    verdicts = tuple(population_verdict([cv[i] for cv in copy_verdicts]) for i in range(len(DEFINITIONS)))
    return IclJudgement(family.name, typical, copies, verdicts, copy_verdicts)
