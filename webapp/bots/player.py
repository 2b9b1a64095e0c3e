"""One bot's play, without I/O: protocol messages in, the next message to send out.

Keeping the decisions apart from the socket makes reconnecting simple and exactly-once: after a
reconnect the server sends a fresh `state`, and the player answers it as it answers any state. If
the choice still waiting for its result is for the trial the state says is current, it is resent
unchanged (the server stores a trial once and answers a repeat with the stored result); if that
trial was recorded meanwhile, its outcome is in the state's `history` and play moves on.

The participant model sees every trial once, in order: `act` on the view of trial t both learns
from trial t-1 and gives the probabilities for t (shaping_core/participants.py). A participation
resumed part-way (a bot rejoining with the same participant label) first feeds the model the
views of the trials already played, so its learning state matches the recorded history.

A study's practice block (docs/protocol.md, Practice and breaks) is answered with uniformly random
choices that the model never sees: practice earns nothing and is left out of analyses, so the
model's learning starts with the game, as the simulated participants' does offline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from shaping_core.games import Game, Sight
from shaping_core.participants import ParticipantModel

from . import moves

ModelFactory = Callable[[Game], ParticipantModel]


@dataclass(frozen=True)
class Move:
    """A choice the bot sent: the action index its model sampled and the message's fields."""

    trial: int
    action: int
    choice: str
    rt_ms: float | None
    practice: bool = False

    def message(self) -> dict[str, Any]:
        message = {"type": "choice", "trial": self.trial, "choice": self.choice, "rt_ms": self.rt_ms}
        return message | {"practice": True} if self.practice else message

    def answers(self, trial: Mapping[str, Any]) -> bool:
        """Whether this move is for `trial` (a state's `current`, a result's `next`, or a result)."""
        return self.trial == trial["trial"] and self.practice == bool(trial.get("practice", False))


class Player:
    def __init__(self, model_factory: ModelFactory, generator: torch.Generator):
        self.model_factory = model_factory
        self.generator = generator
        self.game: Game | None = None
        self.model: ParticipantModel | None = None
        self.model_state: Any = None
        self.history: list[dict[str, Any]] = []  # feedback of the completed trials, by index
        self.viewed = 0  # trials whose view the model has acted on
        self.pending: Move | None = None  # sent, no result yet
        self.moves: dict[int, Move] = {}  # every choice sent, by trial (a resend is the same move)
        self.points = 0.0
        self.done = False
        self.debrief_url: str | None = None

    def on_state(self, state: Mapping[str, Any]) -> dict[str, Any] | None:
        """A full state (on connect, after a sync): the choice to send now, or None when done."""
        if self.game is None:
            self.game = moves.game_from_state(state)
            self.model = self.model_factory(self.game)
            self.model_state = self.model.reset(1, generator=self.generator)
        self.history = list(state["history"])
        self.points = float(state["points"])
        if state["done"]:
            return self._finish(state["debrief_url"])
        return self._choose(state["current"])

    def on_result(self, result: Mapping[str, Any]) -> dict[str, Any] | None:
        """The answer to a choice: the next choice to send, or None (done, or a stale result)."""
        if self.pending is None or not self.pending.answers(result):
            return None  # a late answer to a choice already settled by a state
        if result.get("practice"):
            self.pending = None
            return self._choose(result["next"])
        if len(self.history) == result["trial"]:
            self.history.append(result["feedback"])
        self.pending = None
        self.points = float(result["points"])
        if result["done"]:
            return self._finish(result["debrief_url"])
        return self._choose(result["next"])

    def _choose(self, current: Mapping[str, Any]) -> dict[str, Any]:
        trial, cue = current["trial"], current.get("cue") or {}
        if self.pending is not None and self.pending.answers(current):
            return self.pending.message()  # not recorded before the connection dropped: resend
        if current.get("practice"):
            return self._practise(trial)
        if trial != len(self.history) or self.viewed > trial:
            raise moves.ProtocolMismatch(f"trial {trial} is open, but the bot has seen "
                                         f"{len(self.history)} results and chosen for {self.viewed} trials")
        while self.viewed < trial:  # trials played before this bot took over: learn from them
            self._act(self.viewed, self._past_cue(self.history[self.viewed]))
        probs = self._act(trial, cue)
        action = moves.sample_action(probs, self.generator)
        move = Move(trial=trial, action=action, **moves.choice_fields(self.game, action, self.generator))
        self.pending = self.moves[trial] = move
        return move.message()

    def _practise(self, trial: int) -> dict[str, Any]:
        n_actions = len(self.game.spec.participant_actions)
        action = int(torch.randint(n_actions, (1,), generator=self.generator))
        self.pending = Move(trial=trial, action=action, practice=True,
                            **moves.choice_fields(self.game, action, self.generator))
        return self.pending.message()

    def _act(self, trial: int, cue: Mapping[str, Any]) -> torch.Tensor:
        previous = self.history[trial - 1] if trial else None
        view = moves.view(self.game, trial, previous, cue)
        probs, self.model_state = self.model.act(view, self.model_state)
        self.viewed = trial + 1
        return probs

    def _past_cue(self, feedback: Mapping[str, Any]) -> dict[str, Any]:
        """The cue a completed trial showed, recovered from its feedback."""
        if self.game.spec.participant_sees is Sight.CUE:
            return self.game.participant_cue(self.game.read_feedback(feedback)[1])
        return {}

    def _finish(self, debrief_url: str | None) -> None:
        self.done, self.pending, self.debrief_url = True, None, debrief_url
        return None
