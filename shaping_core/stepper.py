"""One trial between an adversary policy and a participant, in the game's turn order.

The simulator (`simulation.play_episodes`: thousands of model participants at once) and the live
server (`webapp/play/engine.py`: one person) play every trial through a `Stepper`, so what the
adversary sees, when it decides, and how its recurrent state moves on are written once:

- SIMULTANEOUS (IPD): the adversary decides from history; the participant does not see its move;
- ADVERSARY_FIRST (bandit, go/no-go): the adversary sets up the trial; the participant then
  chooses, seeing the cue if the game shows one;
- PARTICIPANT_FIRST (trust): the adversary decides after the participant, seeing their choice.

A trial is two calls. `decide` runs the adversary's policy once and returns a `Pending` decision:
its probabilities, from which `Pending.draw` samples the action, and the policy's state after this
trial's observation. `finish` plays the trial with both actions. The adversary's next recurrent state is the pending
decision's, so the policy runs once per trial, whether the decision is applied at once (the
simulator) or in a later database transaction (the live server, which keeps the pending decision
while the person thinks).

The adversary samples only actions the rules allow (`sample_actions` with the game's mask).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .games import Game, Observation, State, StepResult, TurnOrder
from .policies.base import Policy, sample_actions


def trial_generator(seed: int, trial: int) -> torch.Generator:
    """The generator of the adversary's draw on `trial` of the episode seeded `seed`."""
    return torch.Generator().manual_seed((seed * 1_000_003 + trial) % 2**63)


@dataclass(frozen=True)
class Pending:
    """The adversary's decision for the current trial, not yet played."""

    observation: Observation  # what it decided from
    probs: Tensor  # [B, n_adversary_actions]
    policy_state: Any  # the policy's recurrent state after this trial's observation
    features: Tensor  # [B, F] what the decision was based on (what a trainer records)

    def draw(self, generator: torch.Generator | None = None, *, seeds: Sequence[int] | None = None) -> Tensor:
        """[B] long: the action, sampled from `probs` within the rules' mask, with `generator`, or,
        given each episode's seed in `seeds`, episode by episode with `trial_generator(seed, trial)`
        as in live play, so that a draw depends only on its episode's seed and trial, not on the
        batch or on how often it was drawn before. (Replaying stored trials needs no draw.)"""
        mask = self.observation.action_mask
        if seeds is None:
            return sample_actions(self.probs, mask, generator)
        trials = self.observation.trial.tolist()
        return torch.cat([sample_actions(self.probs[i:i + 1], mask[i:i + 1], trial_generator(seed, trials[i]))
                          for i, seed in enumerate(seeds)])


class Stepper:
    """Plays trials of `game` for `adversary`, for a batch of episodes of any size."""

    def __init__(self, game: Game, adversary: Policy):
        self.game, self.adversary = game, adversary
        order = game.spec.turn_order
        self.adversary_sees_participant = order is TurnOrder.PARTICIPANT_FIRST
        """Whether the adversary decides after the participant and sees their choice."""
        self.participant_sees_adversary = order is TurnOrder.ADVERSARY_FIRST
        """Whether the participant chooses after the adversary, seeing what the game shows of its move."""

    def decide(self, state: State, policy_state: Any, participant_action: Tensor | None = None) -> Pending:
        """The adversary's decision for the current trial. `participant_action` is the participant's
        choice of this trial; it is read only where the adversary may see it (participant-first)."""
        if self.adversary_sees_participant and participant_action is None:
            raise ValueError(f"in {self.game.spec.label} the adversary decides after the participant: "
                             f"pass the participant's action")
        observation = self.game.observe(state, participant_action if self.adversary_sees_participant else None)
        probs, policy_state, features = self.adversary.act_with_features(observation, policy_state)
        return Pending(observation, probs, policy_state, features)

    def finish(self, state: State, participant_action: Tensor, adversary_action: Tensor) -> tuple[State, StepResult]:
        """Play the current trial with both actions; the game state after it, and what happened."""
        return self.game.step(state, participant_action, adversary_action)

    def final_features(self, state: State, policy_state: Any) -> Tensor:
        """The adversary's features after the last trial (for bootstrapping critics). In
        participant-first games the participant's move of the trial after the last is a
        placeholder 0."""
        placeholder = (torch.zeros(state.trial.shape[0], dtype=torch.long, device=state.trial.device)
                       if self.adversary_sees_participant else None)
        observation = self.game.observe(state, placeholder)
        return self.adversary.act_with_features(observation, policy_state)[2]
