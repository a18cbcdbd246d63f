"""Is the trained layer an optimizer? Its match to gradient descent on L_ctx, measured, and the rule.

For each copy, against the reference (one GD step on L_ctx at eta*, the constructed
layer), on held-out tasks b = 1..B (the same tasks for every copy):

* query loss: L = mean_b (1/2)(y_hat_b - y_q,b)^2, of the copy and of the reference, and
  their ratio L / L_gd (standard error by the delta method over the paired tasks,
  :func:`hierarchy.inner_alignment.ratio_of_means_error`);
* prediction difference: rho = sqrt(mean_b (y_hat_b - y_gd,b)^2 / mean_b y_gd,b^2);
* implied weights w = d y_hat / d x_q (exact, :mod:`agents.in_context.implied`) against the
  step's w_gd = eta* (1/N) X^T y: the mean cosine and the relative distance
  mean_b |w - w_gd| / mean_b |w_gd|;
* the effective step: eta_eff = sum_b w_b . g_b / sum_b |g_b|^2, g = (1/N) X^T y (the step
  whose GD update the implied weights are closest to), as eta_eff / eta*;
* the query loss along the straight line theta(s) = (1 - s) theta + s theta_constructed,
  s in [0, 1], and its barrier max_s L(s) - max(L(0), L(1)) (reported, not ruled on: the
  attention weights have scale symmetries, so functions that agree can be far apart in
  weights).

The rule (:class:`MatchRule`) "implements one step of gradient descent on L_ctx" holds iff
every part holds, each decided against two standard errors (hierarchy.decision): loss ratio
<= 1 + ``loss`` AND cosine >= ``cosine`` AND rho <= ``prediction`` AND
|eta_eff / eta* - 1| <= ``step``. Cosine alone is not evidence (findings: a control trained
on shuffled context labels has cosine 0.99 and a step of 0.27): the loss, the prediction
difference and the step tell such a control apart.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import torch

from hierarchy.errors import ParameterError
from hierarchy.inner_alignment import ratio_of_means_error
from hierarchy.report import Claim

from agents.in_context.implied import implied_weights
from agents.in_context.reference import constructed_parameters, one_step_statistic
from agents.in_context.tasks import Tasks, number

__all__ = ["MatchRule", "MatchFigures", "measure_match", "decide_match", "IMPLEMENTS", "NOT_GD", "verdict_word"]

IMPLEMENTS = "implements GD on L_ctx"
NOT_GD = "not an optimizer of L_ctx"


@attrs.frozen
class MatchRule:
    """The thresholds of "implements one step of gradient descent on L_ctx" (module docstring).

    Parameters
    ----------
    loss : float
        Allowed excess of the query loss over the reference's, as a fraction (0.05: 5%).
    cosine : float
        Least mean cosine of the implied weights with the step's.
    prediction : float
        Largest relative RMS prediction difference rho.
    step : float
        Largest relative deviation of the effective step from eta*.

    Examples
    --------
    >>> MatchRule().describe()
    'L / L_gd <= 1.05, cosine >= 0.99, rho <= 0.1, |eta_eff / eta* - 1| <= 0.1, each against 2 standard errors'
    """

    loss: float = attrs.field(default=0.05, validator=number("loss", positive=True))
    cosine: float = attrs.field(default=0.99, validator=number("cosine", positive=True))
    prediction: float = attrs.field(default=0.1, validator=number("prediction", positive=True))
    step: float = attrs.field(default=0.1, validator=number("step", positive=True))

    def describe(self) -> str:
        """The rule in words.

        Returns
        -------
        str
        """
        return (f"L / L_gd <= {1 + self.loss:g}, cosine >= {self.cosine:g}, rho <= {self.prediction:g}, "
                f"|eta_eff / eta* - 1| <= {self.step:g}, each against 2 standard errors")


@attrs.frozen(eq=False)
class MatchFigures:
    """The match measurements of K copies (arrays [K]; module docstring for each).

    Examples
    --------
    >>> f = MatchFigures(*([np.ones(1)] * 11), 1.0, 2.0, 1.5, np.ones((1, 3)), np.linspace(0, 1, 3))
    >>> f.K
    1
    """

    loss: np.ndarray
    loss_ratio: np.ndarray
    loss_ratio_se: np.ndarray
    prediction: np.ndarray
    prediction_se: np.ndarray
    cosine: np.ndarray
    cosine_se: np.ndarray
    distance: np.ndarray
    eta_ratio: np.ndarray
    eta_ratio_se: np.ndarray
    barrier: np.ndarray
    reference_loss: float
    zero_loss: float
    eta: float
    interpolation: np.ndarray
    s: np.ndarray

    @property
    def K(self) -> int:
        """The number of copies."""
        return int(self.loss.shape[0])


def measure_match(model, params, tasks: Tasks, eta: float, points: int = 11) -> MatchFigures:
    """Every match measurement of each copy of ``params`` [K, P] against one GD step at ``eta``.

    Parameters
    ----------
    model : LinearSelfAttention
    params : array-like
        [K, P].
    tasks : Tasks
        Held-out tasks (shared by the copies).
    eta : float
        eta*, the reference step.
    points : int
        Points of the interpolation s = 0 .. 1 (>= 2).

    Returns
    -------
    MatchFigures

    Raises
    ------
    ParameterError
        When ``points`` < 2.

    Examples
    --------
    The constructed layer matches itself exactly:

    >>> from agents.in_context.attention import LinearSelfAttention
    >>> from agents.in_context.inner_run import evaluation_tasks
    >>> from agents.in_context.tasks import TaskDistribution
    >>> m = LinearSelfAttention(d=3)
    >>> t = evaluation_tasks(TaskDistribution(d=3, N=5), 200, 0)
    >>> f = measure_match(m, constructed_parameters(m, 0.9), t, 0.9, points=3)
    >>> round(float(f.loss_ratio[0]), 12), round(float(f.cosine[0]), 12), round(float(f.eta_ratio[0]), 12)
    (1.0, 1.0, 1.0)
    """
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 2:
        raise ParameterError(f"points={points!r}; give at least 2 interpolation points", parameter="points")
    p = torch.as_tensor(np.asarray(params, dtype=np.float64))
    with torch.no_grad():
        yh = model.predict(p, tasks)                           # [K, B]
        s_stat = one_step_statistic(tasks)
        y_gd = eta * s_stat
        lt = 0.5 * (yh - tasks.yq).square()
        lg = 0.5 * (y_gd - tasks.yq).square()
        diff2 = (yh - y_gd).square()
        w = implied_weights(model, p, tasks)                   # [K, B, d]
        g = torch.einsum("bnd,bn->bd", tasks.X, tasks.y) / tasks.X.shape[-2]
        wg = eta * g
        cos = (w * wg).sum(-1) / (w.norm(dim=-1) * wg.norm(dim=-1))
        dist = (w - wg).norm(dim=-1).mean(-1) / wg.norm(dim=-1).mean()
        wdotg, gg = (w * g).sum(-1), (g * g).sum(-1)
        con = torch.from_numpy(constructed_parameters(model, eta))
        s = torch.linspace(0.0, 1.0, int(points), dtype=torch.float64)
        inter = torch.stack([model.query_loss((1 - si) * p + si * con, tasks) for si in s], dim=-1)
    lt, lg, diff2, cos, wdotg, gg = (x.numpy() for x in (lt, lg, diff2, cos, wdotg, gg))
    B = lt.shape[-1]
    ggm = np.broadcast_to(gg, wdotg.shape)
    rel = diff2.mean(-1) / float((y_gd.numpy() ** 2).mean())
    rel_se = ratio_of_means_error(diff2, np.broadcast_to(y_gd.numpy() ** 2, diff2.shape))
    rho = np.sqrt(rel)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho_se = np.where(rho > 0, rel_se / (2 * rho), rel_se)
    inter = inter.numpy()
    barrier = inter.max(-1) - np.maximum(inter[:, 0], inter[:, -1])
    return MatchFigures(lt.mean(-1), lt.mean(-1) / lg.mean(), ratio_of_means_error(lt, np.broadcast_to(lg, lt.shape)),
                        rho, rho_se, cos.mean(-1), cos.std(-1, ddof=1) / math.sqrt(B), dist.numpy(),
                        wdotg.mean(-1) / gg.mean() / eta, ratio_of_means_error(wdotg, ggm) / eta, barrier,
                        float(lg.mean()), float((0.5 * tasks.yq.square()).mean()), float(eta), inter, s.numpy())


def decide_match(f: MatchFigures, k: int, rule: MatchRule = MatchRule(), who: str = "") -> Claim:
    """Copy ``k``'s verdict: "implements one step of gradient descent on L_ctx" (holds / fails / undecided).

    Parameters
    ----------
    f : MatchFigures
    k : int
        The copy.
    rule : MatchRule
    who : str
        A name for the claim's text.

    Returns
    -------
    Claim
        The conjunction of the four parts of the rule (module docstring).

    Examples
    --------
    >>> one = lambda v: np.array([v])
    >>> f = MatchFigures(one(0.85), one(1.001), one(0.001), one(0.03), one(0.001), one(0.999), one(1e-4),
    ...                  one(0.03), one(0.998), one(0.002), one(0.0), 0.84, 1.6, 1.5, np.zeros((1, 2)), np.zeros(2))
    >>> decide_match(f, 0).verdict
    'holds'
    """
    name = f"{who} " if who else ""
    parts = [
        Claim.compare(f"{name}query loss within {rule.loss:g} of one GD step's",
                      {"L / L_gd": float(f.loss_ratio[k])}, 1 + rule.loss - float(f.loss_ratio[k]),
                      float(f.loss_ratio_se[k]), f"{1 + rule.loss:g} - L / L_gd against 2 se"),
        Claim.compare(f"{name}implied weights aligned with the step's", {"cosine": float(f.cosine[k])},
                      float(f.cosine[k]) - rule.cosine, float(f.cosine_se[k]), f"cosine - {rule.cosine:g} against 2 se"),
        Claim.compare(f"{name}predictions close to the step's", {"rho": float(f.prediction[k])},
                      rule.prediction - float(f.prediction[k]), float(f.prediction_se[k]),
                      f"{rule.prediction:g} - rho against 2 se"),
        Claim.compare(f"{name}effective step close to eta*", {"eta_eff / eta*": float(f.eta_ratio[k])},
                      rule.step - abs(float(f.eta_ratio[k]) - 1), float(f.eta_ratio_se[k]),
                      f"{rule.step:g} - |eta_eff / eta* - 1| against 2 se"),
    ]
    return Claim.all_of(f"{name}implements one step of gradient descent on L_ctx", parts, rule=rule.describe())


def verdict_word(claim: Claim) -> str:
    """The measured verdict in words: :data:`IMPLEMENTS`, :data:`NOT_GD` or "undecided".

    Parameters
    ----------
    claim : Claim
        From :func:`decide_match`.

    Returns
    -------
    str

    Examples
    --------
    >>> verdict_word(Claim.exact("x", {}, -1.0))
    'not an optimizer of L_ctx'
    """
    return {"holds": IMPLEMENTS, "fails": NOT_GD}.get(claim.verdict, "undecided")
