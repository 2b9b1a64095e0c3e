"""One participant's game in server memory, rebuilt from the trial table.

`LiveGame` wraps a shaping_core game and adversary at batch size one. It is only a cache
(DESIGN.md, principle 4): `LiveGame.replay` rebuilds it from stored trials at any time, feeding each
stored trial through the same `policy.act` and `game.step` calls that produced it, so the
adversary's recurrent state and the game state end up exactly where they were. Trials are played
by `shaping_core.stepper.Stepper`, as in the simulator; the adversary's decision is kept from
`decide` (when the trial is opened) to `advance` (when the person's choice arrives), so its policy
runs once per trial.

Adversary draws are seeded per trial from the participant's seed, so a trial's draw does not
depend on how often the game was rebuilt before it.

A practice block before the game is a LiveGame of its own (`practice=True`): the game's practice
game against its baseline adversary, rebuilt from the practice rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from shaping_core.games import Game
from shaping_core.policies import Policy
from shaping_core.stepper import Pending, Stepper


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
        self.stepper = Stepper(game, policy)
        self.state = game.init(1, length=torch.tensor([length]))
        self._index_and_done()
        self.policy_state = policy.reset(1)
        self.participant_points = 0.0
        self.adversary_points = 0.0
        # The adversary's decision for the current trial, kept from `decide` until `advance` plays
        # it, so that the adversary's policy runs once per trial; with the trial index and the
        # participant action it was decided for.
        self._pending: tuple[int, int | None, Pending] | None = None

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

    def _index_and_done(self) -> None:
        # Kept as plain values, read from the state once per trial: a move asks for them several
        # times, and every read of a tensor element is a torch call.
        self.trial_index: int = int(self.state.trial[0])
        """The current trial's index (the number of trials played)."""
        self.done: bool = bool(self.state.done[0])
        """Whether the game is over."""

    @property
    def adversary_moves_after_participant(self) -> bool:
        return self.stepper.adversary_sees_participant

    def decide(self, participant_action: int | None = None) -> Decision:
        """The adversary's action for the current trial (not yet applied). Pass the participant's
        action only in participant-first games."""
        pending = self._pending_for(participant_action)
        return Decision(adversary_action=int(pending.draw(seeds=[self.seed])[0]),
                        probs=[round(float(p), 6) for p in pending.probs[0]])

    def advance(self, participant_action: int, adversary_action: int) -> Outcome:
        """Play the current trial with both actions and move to the next."""
        if self.done:
            raise ValueError("the game is over")
        pending = self._pending_for(participant_action)
        self.state, result = self.stepper.finish(self.state, torch.tensor([participant_action]),
                                                 torch.tensor([adversary_action]))
        self._index_and_done()
        if int(result.adversary_action[0]) != adversary_action:
            raise ReplayMismatch(f"adversary action {adversary_action} breaks the rules here")
        self.policy_state, self._pending = pending.policy_state, None
        outcome = Outcome(
            participant_reward=float(result.participant_reward[0]),
            adversary_reward=float(result.adversary_reward[0]),
            adversary_action=adversary_action,
            done=bool(result.done[0]),
        )
        self.participant_points += outcome.participant_reward
        self.adversary_points += outcome.adversary_reward
        return outcome

    def _pending_for(self, participant_action: int | None) -> Pending:
        """The adversary's decision for the current trial: the kept one, or a new one. Its draw (in
        `decide`) is seeded by the participant's seed and the trial, so a decision made again
        (after a rebuild) is the same decision."""
        seen = participant_action if self.adversary_moves_after_participant else None
        key = (self.trial_index, seen)
        if self._pending is None or self._pending[:2] != key:
            seen_tensor = None if seen is None else torch.tensor([seen])
            self._pending = (*key, self.stepper.decide(self.state, self.policy_state, seen_tensor))
        return self._pending[2]
