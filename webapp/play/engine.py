"""One participant's game in server memory, rebuilt from the trial table.

`LiveGame` wraps a shaping_core game and adversary at batch size one. It is only a cache
(DESIGN.md, principle 4): `LiveGame.replay` rebuilds it from stored trials at any time, feeding each
stored trial through the same `policy.act` and `game.step` calls that produced it, so the
adversary's recurrent state and the game state end up exactly where they were.

Adversary draws are seeded per trial from the participant's seed, so a trial's draw does not
depend on how often the game was rebuilt before it.

A practice block before the game is a LiveGame of its own (`practice=True`): the game's practice
game against its baseline adversary, rebuilt from the practice rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from shaping_core.games import Game, TurnOrder
from shaping_core.policies import Policy, sample_actions


class ReplayMismatch(RuntimeError):
    """Stored trials disagree with what the rules give for their actions."""


@dataclass(frozen=True)
class StoredTrial:
    index: int
    participant_action: int
    adversary_action: int
    participant_reward: float
    adversary_reward: float


@dataclass(frozen=True)
class Decision:
    adversary_action: int
    probs: list[float]


@dataclass(frozen=True)
class Outcome:
    participant_reward: float
    adversary_reward: float
    adversary_action: int
    done: bool


class LiveGame:
    def __init__(self, game: Game, policy: Policy, *, seed: int, length: int, practice: bool = False):
        self.game, self.policy, self.seed, self.practice = game, policy, seed, practice
        self.state = game.init(1, length=torch.tensor([length]))
        self.policy_state = policy.reset(1)
        self.participant_points = 0.0
        self.adversary_points = 0.0

    @classmethod
    def replay(cls, game: Game, policy: Policy, *, seed: int, length: int, trials: list[StoredTrial],
               practice: bool = False) -> LiveGame:
        live = cls(game, policy, seed=seed, length=length, practice=practice)
        for trial in trials:
            if trial.index != live.trial_index:
                raise ReplayMismatch(f"stored trial {trial.index} where trial {live.trial_index} was expected")
            outcome = live.advance(trial.participant_action, trial.adversary_action)
            if (outcome.participant_reward, outcome.adversary_reward) != (
                    trial.participant_reward, trial.adversary_reward):
                raise ReplayMismatch(f"trial {trial.index}: stored rewards differ from the rules")
        return live

    @property
    def trial_index(self) -> int:
        return int(self.state.trial[0])

    @property
    def done(self) -> bool:
        return bool(self.state.done[0])

    @property
    def adversary_moves_after_participant(self) -> bool:
        return self.game.spec.turn_order is TurnOrder.PARTICIPANT_FIRST

    def _observe(self, participant_action: int | None):
        current = (torch.tensor([participant_action]) if self.adversary_moves_after_participant
                   else None)
        return self.game.observe(self.state, current)

    def decide(self, participant_action: int | None = None) -> Decision:
        """The adversary's action for the current trial (not yet applied). Pass the participant's
        action only in participant-first games."""
        observation = self._observe(participant_action)
        probs, _ = self.policy.act(observation, self.policy_state)
        generator = torch.Generator().manual_seed((self.seed * 1_000_003 + self.trial_index) % 2**63)
        action = int(sample_actions(probs, observation.action_mask, generator)[0])
        return Decision(adversary_action=action, probs=[round(float(p), 6) for p in probs[0]])

    def advance(self, participant_action: int, adversary_action: int) -> Outcome:
        """Play the current trial with both actions and move to the next."""
        if self.done:
            raise ValueError("the game is over")
        _, self.policy_state = self.policy.act(self._observe(participant_action), self.policy_state)
        self.state, result = self.game.step(
            self.state, torch.tensor([participant_action]), torch.tensor([adversary_action])
        )
        if int(result.adversary_action[0]) != adversary_action:
            raise ReplayMismatch(f"adversary action {adversary_action} breaks the rules here")
        outcome = Outcome(
            participant_reward=float(result.participant_reward[0]),
            adversary_reward=float(result.adversary_reward[0]),
            adversary_action=adversary_action,
            done=bool(result.done[0]),
        )
        self.participant_points += outcome.participant_reward
        self.adversary_points += outcome.adversary_reward
        return outcome
