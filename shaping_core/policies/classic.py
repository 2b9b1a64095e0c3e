"""Classic hand-written adversaries, one small class each.

IPD strategies read the previous round (C = 0, D = 1); the schedule and repayment strategies read
their game's observation info. All follow the interface in base.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..games.base import Observation
from ..games.budget import action_to_bits
from ..games.ipd import COOPERATE, DEFECT
from ..params import Params
from .base import Policy, PolicyParamsError


class TitForTat(Policy):
    """Cooperate first, then copy the participant's previous move."""

    name, label, games = "tit_for_tat", "Tit-for-tat", ("ipd",)

    def act(self, observation: Observation, state):
        previous = observation.last_participant_action
        return self._deterministic(torch.where(previous < 0, COOPERATE, previous)), state


class GrimTrigger(Policy):
    """Cooperate until the participant defects once, then defect for ever."""

    name, label, games = "grim_trigger", "Grim trigger", ("ipd",)

    def reset(self, batch_size, device="cpu"):
        return torch.zeros(batch_size, dtype=torch.bool, device=device)  # triggered yet?

    def act(self, observation: Observation, triggered):
        triggered = triggered | (observation.last_participant_action == DEFECT)
        return self._deterministic(triggered.long()), triggered


class WinStayLoseShift(Policy):
    """Pavlov: cooperate first; keep the last move after a good payoff (R or T), switch after a
    bad one (S or P). With the dilemma's ordering that means: cooperate iff both sides made the
    same move last round."""

    name, label, games = "win_stay_lose_shift", "Win-stay, lose-shift", ("ipd",)

    def act(self, observation: Observation, state):
        same = observation.last_participant_action == observation.last_adversary_action
        first = observation.last_participant_action < 0
        return self._deterministic(torch.where(first | same, COOPERATE, DEFECT)), state


class AlwaysCooperate(Policy):
    name, label, games = "always_cooperate", "Always cooperate", ("ipd",)

    def act(self, observation: Observation, state):
        return self._deterministic(torch.full_like(observation.trial, COOPERATE)), state


class AlwaysDefect(Policy):
    name, label, games = "always_defect", "Always defect", ("ipd",)

    def act(self, observation: Observation, state):
        return self._deterministic(torch.full_like(observation.trial, DEFECT)), state


@dataclass(frozen=True)
class RandomIPDParams(Params):
    p_cooperate: float = 0.5

    def __post_init__(self):
        if not 0 <= self.p_cooperate <= 1:
            raise PolicyParamsError(f"p_cooperate must lie in [0, 1], got {self.p_cooperate:g}")


class RandomIPD(Policy):
    """Cooperate with a fixed probability each round, whatever happened."""

    name, label, games = "random", "Random", ("ipd",)
    params_class = RandomIPDParams

    def act(self, observation: Observation, state):
        p = self.params.p_cooperate
        probs = torch.tensor([p, 1 - p], device=observation.trial.device)
        return probs.expand(observation.batch_size, 2), state


class RandomSchedule(Policy):
    """A random schedule that respects the budget: each budget's event (a reward on an option, a
    no-go trial) is placed with probability budget_left / trials_left, independently. Sequential
    sampling at that rate places exactly the budget, uniformly at random over the trials."""

    name, label, games = "random_schedule", "Random schedule (budget-respecting)", ("bandit", "gonogo")

    def act(self, observation: Observation, state):
        budget_left = observation.info["budget_left"].float()  # [B, K]
        trials_left = observation.info["trials_left"].float().clamp_min(1).unsqueeze(1)
        p_place = (budget_left / trials_left).clamp(0, 1)  # [B, K]
        n_budgets = p_place.shape[1]
        bits = action_to_bits(torch.arange(2**n_budgets, device=p_place.device), n_budgets)
        # P(action) = prod_k (p_k if bit k else 1 - p_k)
        per_bit = torch.where(bits.unsqueeze(0), p_place.unsqueeze(1), 1 - p_place.unsqueeze(1))
        return per_bit.prod(dim=2), state


class RandomRepayment(Policy):
    """Return each available fraction with equal probability."""

    name, label, games = "random_repayment", "Random repayment", ("trust",)

    def act(self, observation: Observation, state):
        probs = torch.full((observation.batch_size, self.n_actions), 1 / self.n_actions,
                           device=observation.trial.device)
        return probs, state


@dataclass(frozen=True)
class FixedFractionParams(Params):
    fraction: float = 0.5


class FixedFractionRepayment(Policy):
    """Always return the same fraction of the multiplied investment."""

    name, label, games = "fixed_fraction", "Fixed-fraction repayment", ("trust",)
    params_class = FixedFractionParams

    def __init__(self, game, params=None):
        super().__init__(game, params)
        fractions = game.params.return_fractions
        if self.params.fraction not in fractions:
            raise PolicyParamsError(
                f"{self.label}: fraction must be one of the game's return fractions "
                f"{list(fractions)}, got {self.params.fraction:g}"
            )
        self.action = fractions.index(self.params.fraction)

    def act(self, observation: Observation, state):
        return self._deterministic(torch.full_like(observation.trial, self.action)), state
