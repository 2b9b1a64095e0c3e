"""Go/no-go.

`trials` trials, exactly `nogo_trials` of them no-go. Before each trial the adversary decides its
type (ADVERSARY_FIRST), under the budget rule of budget.py; the participant then responds (key or
tap) within `response_window_ms` or withholds. A response on a no-go trial is a commission error,
no response on a go trial an omission error. The participant earns 1 point per correct trial; the
adversary earns 1 per error. Reaction times are measured by the client; a response that arrives
after the window is an omission (the platform records it as a withhold).

Actions: participant withhold/respond; adversary go/nogo (a one-bit budget mask: nogo = bit 0).

Observation info (see budget.BudgetedGame): `budget_left` [B, 1] no-go trials still to place;
`trials_left` [B].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor

from . import budget
from .base import GameParamsError, GameSpec, Objective, Params, Sight, TrialMeasure, TurnOrder

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


class GoNoGo(budget.BudgetedGame[GoNoGoParams]):
    spec = GameSpec(
        name="gonogo",
        label="Go/no-go",
        participant_actions=("withhold", "respond"),
        adversary_actions=("go", "nogo"),
        turn_order=TurnOrder.ADVERSARY_FIRST,
        objectives=(Objective.MAX, Objective.ADALIGN),
        participant_sees=Sight.CUE,
        public_params=("response_window_ms",),  # how many trials are no-go stays hidden
        headline_rate=("error_rate", "error rate"),
    )
    baseline_adversary = ("random_schedule", {})
    # MAX: fitted Q, which raised errors over the random schedule against the human surrogate
    # several times as much as PPO did, with 350 per-trial networks 64 units wide (the same errors
    # as 128 in a checkpoint under the admin's upload limit), against the surrogate alone (PPO and
    # fitted Q against the surrogate and the zoo both did worse), and at least 6 go trials between
    # two no-go trials: without the spacing rule the plan put no-go trials late and close
    # together, and learners who err after long runs of go trials, as people do, erred less than
    # under the random schedule (docs/loop.md, "The spacing rule").
    default_training = {"max": {"method": "fitted-q", "passes": 2, "episodes": 4096, "fit_steps": 150,
                                "width": 64, "min_gap": 6}}
    # An error (a response on a no-go trial or none on a go trial) is the trial that pays nothing.
    trial_measures = (TrialMeasure("error", "error rate (commission + omission)",
                                   lambda frame, game: (frame["participant_reward"] == 0).astype(float)),)
    no_response_action = WITHHOLD
    params_class = GoNoGoParams

    @property
    def budgets(self) -> tuple[int, ...]:
        return (self.params.nogo_trials,)

    @property
    def spaced_budget(self) -> int:
        """The no-go trials: people err on a no-go more after a longer run of go trials."""
        return 0

    def step(self, state: budget.BudgetState, participant_action: Tensor, adversary_action: Tensor):
        self._check_actions(participant_action, adversary_action, state.batch_size)
        nogo, trial_type = self.place_events(state, adversary_action)
        # Correct: respond on go, withhold on no-go; i.e. the response differs from the type bit.
        correct = (participant_action != trial_type).float()
        return self._advance(
            state, participant_action, trial_type, correct, 1.0 - correct,
            **self.after_placing(state, nogo),
        )

    def practice_game(self, n_trials):
        """The same window and share of no-go trials over `n_trials`, rounded half up; a practice
        of two or more trials has at least one trial of each kind the game has, so that both are
        practised."""
        p = self.params
        nogo = math.floor(n_trials * p.nogo_trials / p.trials + 0.5)
        if n_trials >= 2:
            if p.nogo_trials > 0:
                nogo = max(nogo, 1)
            if p.nogo_trials < p.trials:
                nogo = min(nogo, n_trials - 1)
        return GoNoGo(GoNoGoParams(trials=n_trials, nogo_trials=nogo, response_window_ms=p.response_window_ms))

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

    def read_feedback(self, feedback):
        return (self.spec.participant_actions.index(feedback["your_choice"]),
                self.spec.adversary_actions.index(feedback["stimulus"]))

    @property
    def response_window_ms(self):
        return self.params.response_window_ms
