"""Simple rule-based participants: win-stay-lose-shift, a noisy forgiving tit-for-tat, and
uniform random choice. Their parameters may be fixed numbers or [low, high] ranges drawn per
episode (learners/base.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from ..algorithms.bandit_dp import TabularLearner
from ..games.ipd import DEFECT
from ..participants import ParticipantModel, ParticipantParamsError, ParticipantView
from .base import LearnerParams, Range, draw_all, one_hot_or_zero


@dataclass(frozen=True)
class WSLSParams(LearnerParams):
    """epsilon: lapse probability in [0, 1]; on a lapse the choice is uniform over both
    actions, so the rule is followed with probability 1 - epsilon / 2."""

    epsilon: Range = (0.05, 0.05)

    def __post_init__(self):
        super().__post_init__()
        self.check_bounds("epsilon", 0.0, 1.0)


class WinStayLoseShift(ParticipantModel):
    """Repeat the previous action after a win, switch after a loss; the first trial is uniform.

    What counts as a win is the game's (`Game.is_win`): in the IPD a payoff of at least the
    mutual-cooperation payoff R (so R and T are wins, S and P losses: Pavlov); in the bandit, a
    reward (the chosen option paid 1).

        P(a) = (1 - epsilon) * [a == intended] + epsilon / 2,
        intended = previous action if win else the other action
    """

    name, label, games = "win_stay_lose_shift", "Win-stay, lose-shift", ("ipd", "bandit")
    tabular_games = ("bandit",)  # the games where `tabular` describes it (shaping_core/optimum.py)
    params_class = WSLSParams

    def reset(self, batch_size, *, generator=None, device="cpu"):
        return draw_all(self.params, batch_size, generator, device)

    def act(self, view: ParticipantView, state) -> tuple[Tensor, dict[str, Tensor]]:
        win = self.game.is_win(view.last_reward)
        previous = view.last_action
        intended = torch.where(win, previous, 1 - previous)
        intended = torch.where(previous < 0, -1, intended)  # no rule before the first trial
        epsilon = state["epsilon"].unsqueeze(1)
        probs = (1 - epsilon) * one_hot_or_zero(intended, 2) + epsilon / 2
        probs = torch.where((previous < 0).unsqueeze(1), torch.full_like(probs, 0.5), probs)
        return probs, state

    def tabular(self, values: Mapping[str, float], grid: int) -> TabularLearner:
        """One participant (`values`: epsilon) in the bandit as a Markov chain, exactly
        (algorithms/bandit_dp.py; `grid` is unused). States: 0 before the first trial, then
        1 + 2 * previous choice + its reward."""
        if self.game.spec.name not in self.tabular_games:
            raise ParticipantParamsError(f"{self.label}: a tabular form exists for the bandit only")
        epsilon = float(values["epsilon"])
        rows = [[0.5, 0.5]]
        for choice in (0, 1):
            for reward in (0, 1):
                intended = choice if reward else 1 - choice
                rows.append([1 - epsilon / 2 if option == intended else epsilon / 2 for option in (0, 1)])
        # Whatever the state, the next one is the choice just made and the reward it brought.
        after = torch.tensor([[1 + 2 * choice + reward for reward in (0, 1)] for choice in (0, 1)])
        return TabularLearner(probs=torch.tensor(rows, dtype=torch.float64),
                              next_index=after.expand(5, 2, 2).unsqueeze(-1).clone(),
                              next_weight=torch.ones(5, 2, 2, 1, dtype=torch.float64),
                              initial_index=torch.tensor([0]),
                              initial_weight=torch.ones(1, dtype=torch.float64))


@dataclass(frozen=True)
class TitForTatLikeParams(LearnerParams):
    """noise: probability in [0, 1] of doing the opposite of the intended move (a trembling
    hand). forgiveness: probability in [0, 1] of intending to cooperate after the adversary
    defected."""

    noise: Range = (0.05, 0.05)
    forgiveness: Range = (0.1, 0.1)

    def __post_init__(self):
        super().__post_init__()
        self.check_bounds("noise", 0.0, 1.0)
        self.check_bounds("forgiveness", 0.0, 1.0)


class TitForTatLike(ParticipantModel):
    """A human-like tit-for-tat: cooperate first, then copy the adversary's previous move,
    sometimes forgiving a defection, with a small chance of the opposite move.

        P(C | adversary cooperated, or first round) = 1 - noise
        P(C | adversary defected) = forgiveness + (1 - forgiveness) * noise
    """

    name, label, games = "tit_for_tat_like", "Tit-for-tat-like", ("ipd",)
    params_class = TitForTatLikeParams

    def reset(self, batch_size, *, generator=None, device="cpu"):
        return draw_all(self.params, batch_size, generator, device)

    def act(self, view: ParticipantView, state) -> tuple[Tensor, dict[str, Tensor]]:
        noise, forgiveness = state["noise"], state["forgiveness"]
        defected = view.last_seen == DEFECT  # -1 before the first round counts as cooperation
        p_cooperate = torch.where(defected, forgiveness + (1 - forgiveness) * noise, 1 - noise)
        probs = torch.stack([p_cooperate, 1 - p_cooperate], dim=1)  # columns C (0), D (1)
        return probs, state


class RandomChoice(ParticipantModel):
    """Uniform choice over the participant's actions on every trial, whatever happened: the
    floor any learner should beat."""

    name, label, games = "random", "Random", ("ipd", "bandit", "gonogo", "trust")

    def act(self, view: ParticipantView, state) -> tuple[Tensor, None]:
        batch = view.trial.shape[0]
        return torch.full((batch, self.n_actions), 1 / self.n_actions, device=view.trial.device), state
