"""A trained strategy-game policy deployed as a leaf optimizer: it plays games, one step per turn.

The training leaf (:class:`~agents.strategy_game.training.StrategyTrainer`) produces a
policy; :class:`StrategyDeployment` is the leaf built from it (``hierarchy.product.Produced``):
the policy at war with one alliance, playing a batch of games. Its steps are the game's
turns, and it records, per copy and turn, the base objective it was trained on and the
villages it has destroyed of any alliance (what its attacks achieve, at war or not), both
averaged over the games and negated (lower is better, like every mesastack objective).
"""

from __future__ import annotations

import attrs
import numpy as np
import torch

from hierarchy.errors import ParameterError
from hierarchy.trajectory import Trajectory
from agents.strategy_game.episodes import one_thread, play_drawn
from agents.strategy_game.evaluation import evaluation_games
from agents.strategy_game.game import StrategyGame
from agents.strategy_game.policy import StrategyPolicy
from agents.strategy_game.training import check_counts

__all__ = ["StrategyDeployment"]


@attrs.frozen(eq=False)
class StrategyDeployment:
    """``policy`` at war with ``opponent``, playing ``episodes`` games (hierarchy.protocol.Leaf).

    Records, per copy k and turn t (index 0: the start of the games):

    - ``L`` = -(mean over the games of the policy's base objective after t turns);
    - ``V`` = -(mean over the games of the villages destroyed, any alliance, after t turns).

    Every copy plays the same games (:func:`~agents.strategy_game.evaluation.evaluation_games`
    of the run's seed), sampling its actions from its own noise (so copy k does not depend on
    K). One step is one turn; a run of ``steps`` turns keeps the first ``steps`` turns of the
    games (at most the rules' ``turns``).

    Examples
    --------
    >>> from agents.strategy_game.training import train_policy
    >>> policy, _ = train_policy("troops", ("Aurora",), steps=0, population=2, episodes=4)
    >>> import numpy as np
    >>> tr = StrategyDeployment(policy, "Brotherhood", episodes=8).run(10, np.random.SeedSequence(0))
    >>> tr["L"].shape, float(tr["L"][0, 0])
    ((2, 11), -0.0)
    """

    policy: StrategyPolicy
    opponent: str
    episodes: int = 512
    records = ("L", "V")
    step_unit = "turn"

    def __attrs_post_init__(self):
        check_counts(episodes=self.episodes)
        self.policy.rules.alliance_index(self.opponent)

    def run(self, steps: int, seed: np.random.SeedSequence, progress=None) -> Trajectory:
        """Play the games for ``steps`` turns from ``seed``; the trajectory of L and V [K, steps + 1]."""
        turns = self.policy.rules.turns
        if not 1 <= steps <= turns:
            raise ParameterError(f"a deployment runs 1 to {turns} turns (the game's length), not {steps}; "
                                 f"give steps <= {turns}")
        game = StrategyGame(self.policy.rules)
        K, n = self.policy.K, self.episodes
        with one_thread(), torch.no_grad():
            start, raid, u = evaluation_games(game, self.opponent, n, seed, K)
            ep = play_drawn(game, start, self.policy.actor(game), raid, u, record=(self.policy.objective, "razed"))

        def per_turn(values: torch.Tensor) -> np.ndarray:  # [T + 1, K * n] -> [K, steps + 1]
            return -values.reshape(-1, K, n).double().mean(-1).T[:, : steps + 1].numpy()

        if progress is not None:
            progress(steps)
        return Trajectory({"L": per_turn(ep.values[self.policy.objective]), "V": per_turn(ep.values["razed"])},
                          meta={"opponent": self.opponent, "episodes": n, "objective": self.policy.objective})
