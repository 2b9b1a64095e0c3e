"""Choice-engineering bandit (Dezfouli, Nock & Dayan 2020, experiment 1).

Two options, `trials` trials. Before each trial the adversary assigns a reward of 0 or 1 to each
option (ADVERSARY_FIRST); the participant picks an option and sees only that option's reward.
Each option must receive exactly `rewards_per_option` rewards over the game, enforced by the
budget rule (see budget.py): an assignment to an option whose rewards are spent is withheld, and
an option whose remaining rewards equal the remaining trials is forced to 1.

The adversary earns 1 each time the participant picks `target_option`. Which side of the screen
the target appears on is a presentation matter, counterbalanced per participant by the platform.

Actions: participant option0/option1; adversary a bit mask, bit k = reward on option k
(none, option0, option1, both).

Observation info: `budget_left` [B, 2] rewards still to place per option; `trials_left` [B].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from . import budget
from .base import Game, GameParamsError, GameSpec, Objective, Params, State, TurnOrder


@dataclass(frozen=True)
class BanditParams(Params):
    trials: int = 100
    rewards_per_option: int = 25
    target_option: int = 0

    def __post_init__(self):
        if self.trials < 1:
            raise GameParamsError(f"trials must be at least 1, got {self.trials}")
        if not 0 <= self.rewards_per_option <= self.trials:
            raise GameParamsError(
                f"rewards_per_option must lie in 0..trials ({self.trials}), got {self.rewards_per_option}"
            )
        if self.target_option not in (0, 1):
            raise GameParamsError(f"target_option must be 0 or 1, got {self.target_option}")


@dataclass(frozen=True)
class BanditState(State):
    budget_left: Tensor  # [B, 2] long, rewards still to place on each option


class ChoiceEngineeringBandit(Game[BanditParams, BanditState]):
    spec = GameSpec(
        name="bandit",
        label="Choice-engineering bandit",
        participant_actions=("option0", "option1"),
        adversary_actions=("none", "option0", "option1", "both"),
        turn_order=TurnOrder.ADVERSARY_FIRST,
        objectives=(Objective.MAX, Objective.ADALIGN),
    )
    params_class = BanditParams

    @property
    def max_trials(self) -> int:
        return self.params.trials

    def init(self, batch_size, *, generator=None, device="cpu", length=None) -> BanditState:
        length = self._fixed_length(batch_size, self.params.trials, length, device)
        return BanditState(
            **self._common_init(batch_size, length, device),
            budget_left=torch.full((batch_size, 2), self.params.rewards_per_option,
                                   dtype=torch.long, device=device),
        )

    def _trials_left(self, state: BanditState) -> Tensor:
        return state.length - state.trial

    def adversary_action_mask(self, state: BanditState) -> Tensor:
        return budget.action_mask(state.budget_left, self._trials_left(state))

    def observe(self, state: BanditState, participant_action: Tensor | None = None):
        trials_left = self._trials_left(state)
        info = {"budget_left": state.budget_left, "trials_left": trials_left}
        per_option = max(self.params.rewards_per_option, 1)
        extra = [state.budget_left.float() / per_option,
                 (trials_left.float() / self.params.trials).unsqueeze(1)]
        return self._observation(state, participant_action, info, extra, reward_scale=1.0)

    def step(self, state: BanditState, participant_action: Tensor, adversary_action: Tensor):
        self._check_actions(participant_action, adversary_action, state.batch_size)
        requested = budget.action_to_bits(adversary_action, 2)
        assigned = budget.enforce(requested, state.budget_left, self._trials_left(state))
        chosen_reward = assigned.gather(1, participant_action.unsqueeze(1)).squeeze(1).float()
        target_reward = (participant_action == self.params.target_option).float()
        return self._advance(
            state, participant_action, budget.bits_to_action(assigned), chosen_reward, target_reward,
            budget_left=state.budget_left - assigned.long(),
        )

    def participant_feedback(self, participant_action, adversary_action, participant_reward,
                             adversary_reward):
        # Only the chosen option's reward is revealed, never the other option's assignment.
        return {"your_choice": self.spec.participant_actions[participant_action],
                "points": participant_reward}
