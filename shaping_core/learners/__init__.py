"""Synthetic learners: models of people with known parameters, behind the participant-model
interface (shaping_core/participants.py).

They are the ground truth of transfer tests (an adversary trained against a surrogate fitted to a
learner's data is evaluated against the learner itself) and the brains of bots that play the live
platform. All are batched over episodes and return probabilities, never samples.

    learner = make_learner("q_learning", game, {"alpha": [0.1, 0.5]})
    episodes = play_episodes(game, learner, adversary, 256, generator=g)

Every numeric parameter may be a fixed number or a [low, high] range drawn uniformly per episode
at `reset` (learners/base.py). `learners_for(game_name)` lists the learners that can play a game;
learners/datasets.py turns simulated play into the platform's export table; learners/zoo.py
gathers the families of people every shaping result is reported against.
"""

from __future__ import annotations

from typing import Any

from ..games import Game
from ..participants import ParticipantModel, ParticipantParamsError
from .bandit_zoo import BANDIT_LEARNERS
from .gonogo_zoo import GONOGO_LEARNERS
from .heuristics import RandomChoice, TitForTatLike, WinStayLoseShift
from .investor import Investor
from .q_learning import QLearner
from .zoo import Family, family, zoo_for

LEARNERS: dict[str, type[ParticipantModel]] = {
    cls.name: cls for cls in (QLearner, WinStayLoseShift, TitForTatLike, Investor, RandomChoice,
                              *BANDIT_LEARNERS, *GONOGO_LEARNERS)
}


def learners_for(game_name: str) -> list[type[ParticipantModel]]:
    return [cls for cls in LEARNERS.values() if game_name in cls.games]


def make_learner(name: str, game: Game, params: dict[str, Any] | None = None) -> ParticipantModel:
    """Build a learner by name; raises ParticipantParamsError with a readable message for an
    unknown name, a game it cannot play, or bad parameters."""
    try:
        cls = LEARNERS[name]
    except KeyError:
        raise ParticipantParamsError(
            f"unknown learner {name!r}; expected one of {', '.join(LEARNERS)}") from None
    return cls(game, params)


__all__ = ["LEARNERS", "Family", "Investor", "QLearner", "RandomChoice", "TitForTatLike",
           "WinStayLoseShift", "family", "learners_for", "make_learner", "zoo_for"]
