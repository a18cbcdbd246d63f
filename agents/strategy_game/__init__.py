"""The strategy game of seed 004: troops, alliances and villages; a policy trained on a proxy.

Modules, one idea each: :mod:`~agents.strategy_game.game` (rules, troops, alliances,
villages), :mod:`~agents.strategy_game.episodes` (playing batched games),
:mod:`~agents.strategy_game.copy_noise` (each copy's own games and sampling noise),
:mod:`~agents.strategy_game.policy` (the population of MLP policies),
:mod:`~agents.strategy_game.training` (REINFORCE; the training leaf),
:mod:`~agents.strategy_game.evaluation` (behaviour over common games),
:mod:`~agents.strategy_game.plans` (scripted plans and the reference optimizer),
:mod:`~agents.strategy_game.deployment` (the trained policy as a leaf) and
:mod:`~agents.strategy_game.cases` (one case end to end, classified by
:func:`hierarchy.inner_alignment.classify_outer_inner`).

Measured here: trained at war with Aurora only, the policy learns mostly the look of
Aurora's villages, and when the war moves to Brotherhood it keeps attacking Aurora's
villages, now at peace, and leaves Brotherhood's alone (tests/agents/strategy_game).
"""

from agents.strategy_game.cases import Case, assess_case, classify, run_case
from agents.strategy_game.deployment import StrategyDeployment
from agents.strategy_game.episodes import Episodes, play
from agents.strategy_game.evaluation import Evaluation, evaluate
from agents.strategy_game.game import (
    AURORA, BROTHERHOOD, CONCORD, MEASURES, OBJECTIVES, Alliance, GameRules, GameState, StrategyGame, TroopKind,
)
from agents.strategy_game.plans import Plan, PlanSearch, default_plans, plan_search
from agents.strategy_game.policy import StrategyPolicy
from agents.strategy_game.training import StrategyTrainer, case_seeds, reinforce_loss, train_policy

__all__ = [
    "AURORA", "BROTHERHOOD", "CONCORD", "MEASURES", "OBJECTIVES", "Alliance", "Case", "Episodes", "Evaluation",
    "GameRules", "GameState", "Plan", "PlanSearch", "StrategyDeployment", "StrategyGame", "StrategyPolicy",
    "StrategyTrainer", "TroopKind", "assess_case", "case_seeds", "classify", "default_plans", "evaluate", "play",
    "plan_search", "reinforce_loss", "run_case", "train_policy",
]
