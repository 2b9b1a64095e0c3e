"""The learner zoo: styles of people, each a learner and the population its parameters are drawn
from, against which every shaping result is reported (docs/learners.md).

An adversary is worth something only if it shapes people it was not fitted to. The zoo holds
several families per game from the cognitive-modelling literature; each `Family` names a learner
(shaping_core/learners) and a distribution over its parameters, drawn per simulated participant
(a `[low, high]` range is drawn uniformly at `reset`, learners/base.py):

    for family in zoo_for("bandit"):
        episodes = play_episodes(game, family.make(game), adversary, 4096, generator=g)

The families of each game live beside their learners (learners/bandit_zoo.py,
learners/gonogo_zoo.py); this module only gathers them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..games import Game
from ..participants import ParticipantModel, ParticipantParamsError


@dataclass(frozen=True)
class Family:
    """One style of learner: a learner and the population of its parameters."""

    name: str
    """The family's name in tables, figures and on the command line (e.g. `q_asymmetric`)."""
    learner: str
    """The learner's name in `LEARNERS` (shaping_core/learners/__init__.py)."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """The learner's parameters: each a number, or a `[low, high]` range drawn per participant."""
    reference: str = ""
    """Where the model comes from (author, year), as docs/learners.md cites it."""

    def make(self, game: Game) -> ParticipantModel:
        """The learner, ready to `reset` a batch of this family's participants."""
        from . import make_learner  # the package imports this module

        return make_learner(self.learner, game, dict(self.params))


def _zoo() -> dict[str, tuple[Family, ...]]:
    from .bandit_zoo import BANDIT_FAMILIES
    from .gonogo_zoo import GONOGO_FAMILIES

    return {"bandit": BANDIT_FAMILIES, "gonogo": GONOGO_FAMILIES}


def has_zoo(game_name: str) -> bool:
    return game_name in _zoo()


def zoo_for(game_name: str) -> tuple[Family, ...]:
    """The families of one game; a clear error for a game without a zoo."""
    zoo = _zoo()
    if game_name not in zoo:
        raise ParticipantParamsError(f"no learner zoo for {game_name!r}; games with one: {', '.join(zoo)}")
    return zoo[game_name]


def family(game_name: str, name: str) -> Family:
    """One family by name; a clear error naming the game's families otherwise."""
    families = zoo_for(game_name)
    for candidate in families:
        if candidate.name == name:
            return candidate
    raise ParticipantParamsError(f"no family {name!r} in the {game_name} zoo; "
                                 f"expected one of {', '.join(f.name for f in families)}")
