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

Observation info (see budget.BudgetedGame): `budget_left` [B, 2] rewards still to place per
option; `trials_left` [B].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from . import budget
from .base import GameParamsError, GameSpec, Objective, Params, Sight, TrialMeasure, TurnOrder


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


class ChoiceEngineeringBandit(budget.BudgetedGame[BanditParams]):
    spec = GameSpec(
        name="bandit",
        label="Choice-engineering bandit",
        participant_actions=("option0", "option1"),
        adversary_actions=("none", "option0", "option1", "both"),
        turn_order=TurnOrder.ADVERSARY_FIRST,
        objectives=(Objective.MAX, Objective.ADALIGN),
        participant_sees=Sight.NOTHING,
        public_params=(),  # the rewards per option and the target option stay hidden
        counterbalanced_sides=True,
        headline_rate=("target_rate", "target-choice rate"),
    )
    baseline_adversary = ("random_schedule", {})
    # MAX: fitted Q reached the bar against the human surrogate where PPO reached 0.725, and
    # planning against the learner zoo as well (a tenth of the episodes) under the pace rule keeps
    # the other option's rewards from piling up at the end, which the zoo's value learners punish;
    # the mean of two plans' Q is less noisy than either plan, and more than the bar where single
    # plans straddle it. AdAlign is PPO's alone; against the zoo too, on half the episodes
    # (docs/loop.md, "Transfer to the learner zoo").
    default_training = {"max": {"method": "fitted-q", "population": "zoo", "surrogate_share": 0.9, "pace_lag": 6,
                                "plans": 2},
                        "adalign": {"population": "zoo"}}
    # adversary_reward is 1 exactly when the participant chose the target option.
    trial_measures = (TrialMeasure("target_choice", "target option chosen",
                                   lambda frame, game: frame["adversary_reward"].astype(float)),)
    params_class = BanditParams

    @property
    def budgets(self) -> tuple[int, ...]:
        return (self.params.rewards_per_option, self.params.rewards_per_option)

    @property
    def paced_budget(self) -> int:
        """The other option's rewards: they cost target choices, so PPO held them to the end."""
        return 1 - self.params.target_option

    @property
    def lead_budget(self) -> int:
        """The target's rewards: plans against the surrogate spent them in the first half."""
        return self.params.target_option

    def step(self, state: budget.BudgetState, participant_action: Tensor, adversary_action: Tensor):
        self._check_actions(participant_action, adversary_action, state.batch_size)
        assigned, applied = self.place_events(state, adversary_action)
        chosen_reward = assigned.gather(1, participant_action.unsqueeze(1)).squeeze(1).float()
        target_reward = (participant_action == self.params.target_option).float()
        return self._advance(state, participant_action, applied, chosen_reward, target_reward,
                             **self.after_placing(state, assigned))

    @property
    def target_participant_action(self) -> int:
        return self.params.target_option

    def mirror(self, participant_actions: Tensor, adversary_actions: Tensor) -> tuple[Tensor, Tensor]:
        # Option k becomes option 1 - k; the reward bits (none, option0, option1, both) swap too.
        participant = torch.where(participant_actions >= 0, 1 - participant_actions, participant_actions)
        bits = budget.action_to_bits(adversary_actions.clamp_min(0), 2)
        swapped = bits[..., 1].long() + 2 * bits[..., 0].long()
        return participant, torch.where(adversary_actions >= 0, swapped, adversary_actions)

    def participant_feedback(self, participant_action, adversary_action, participant_reward,
                             adversary_reward):
        # Only the chosen option's reward is revealed, never the other option's assignment.
        return {"your_choice": self.spec.participant_actions[participant_action],
                "points": participant_reward}

    def read_feedback(self, feedback):
        return self.spec.participant_actions.index(feedback["your_choice"]), -1
