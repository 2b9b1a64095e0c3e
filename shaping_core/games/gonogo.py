"""Go/no-go.

`trials` trials, exactly `nogo_trials` of them no-go. Before each trial the adversary decides its
type (ADVERSARY_FIRST), under the budget rule of budget.py; the participant then responds (key or
tap) within `response_window_ms` or withholds. A response on a no-go trial is a commission error,
no response on a go trial an omission error. The participant earns 1 point per correct trial; the
adversary earns 1 per error. Reaction times are measured by the client; a response that arrives
after the window is an omission (the platform records it as a withhold).

Actions: participant withhold/respond; adversary go/nogo (a one-bit budget mask: nogo = bit 0).

Observation info: `budget_left` [B, 1] no-go trials still to place; `trials_left` [B].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from . import budget
from .base import Game, GameParamsError, GameSpec, Objective, Params, State, TurnOrder

WITHHOLD, RESPOND = 0, 1
GO, NOGO = 0, 1


@dataclass(frozen=True)
class GoNoGoParams(Params):
    trials: int = 350
    nogo_trials: int = 35
    response_window_ms: int = 750

    def __post_init__(self):
        if self.trials < 1:
            raise GameParamsError(f"trials must be at least 1, got {self.trials}")
        if not 0 <= self.nogo_trials <= self.trials:
            raise GameParamsError(f"nogo_trials must lie in 0..trials ({self.trials}), got {self.nogo_trials}")
        if not 100 <= self.response_window_ms <= 5000:
            raise GameParamsError(
                f"response_window_ms must lie in 100..5000, got {self.response_window_ms}"
            )


@dataclass(frozen=True)
class GoNoGoState(State):
    budget_left: Tensor  # [B, 1] long, no-go trials still to place


class GoNoGo(Game[GoNoGoParams, GoNoGoState]):
    spec = GameSpec(
        name="gonogo",
        label="Go/no-go",
        participant_actions=("withhold", "respond"),
        adversary_actions=("go", "nogo"),
        turn_order=TurnOrder.ADVERSARY_FIRST,
        objectives=(Objective.MAX, Objective.ADALIGN),
    )
    params_class = GoNoGoParams

    @property
    def max_trials(self) -> int:
        return self.params.trials

    def init(self, batch_size, *, generator=None, device="cpu", length=None) -> GoNoGoState:
        length = self._fixed_length(batch_size, self.params.trials, length, device)
        return GoNoGoState(
            **self._common_init(batch_size, length, device),
            budget_left=torch.full((batch_size, 1), self.params.nogo_trials, dtype=torch.long,
                                   device=device),
        )

    def _trials_left(self, state: GoNoGoState) -> Tensor:
        return state.length - state.trial

    def adversary_action_mask(self, state: GoNoGoState) -> Tensor:
        return budget.action_mask(state.budget_left, self._trials_left(state))

    def observe(self, state: GoNoGoState, participant_action: Tensor | None = None):
        trials_left = self._trials_left(state)
        info = {"budget_left": state.budget_left, "trials_left": trials_left}
        extra = [state.budget_left.float() / max(self.params.nogo_trials, 1),
                 (trials_left.float() / self.params.trials).unsqueeze(1)]
        return self._observation(state, participant_action, info, extra, reward_scale=1.0)

    def step(self, state: GoNoGoState, participant_action: Tensor, adversary_action: Tensor):
        self._check_actions(participant_action, adversary_action, state.batch_size)
        requested = budget.action_to_bits(adversary_action, 1)
        nogo = budget.enforce(requested, state.budget_left, self._trials_left(state))
        trial_type = budget.bits_to_action(nogo)
        # Correct: respond on go, withhold on no-go; i.e. the response differs from the type bit.
        correct = (participant_action != trial_type).float()
        return self._advance(
            state, participant_action, trial_type, correct, 1.0 - correct,
            budget_left=state.budget_left - nogo.long(),
        )

    def effective_participant_action(self, action, reaction_time_ms):
        if action == RESPOND:
            if reaction_time_ms is None:
                raise ValueError("a response needs its reaction time (rt_ms)")
            if reaction_time_ms > self.params.response_window_ms:
                return WITHHOLD  # too late: an omission
        return action

    def participant_cue(self, adversary_action):
        return {"stimulus": self.spec.adversary_actions[adversary_action]}

    def participant_feedback(self, participant_action, adversary_action, participant_reward,
                             adversary_reward):
        return {"stimulus": self.spec.adversary_actions[adversary_action],
                "your_choice": self.spec.participant_actions[participant_action],
                "correct": participant_reward > 0, "points": participant_reward}
