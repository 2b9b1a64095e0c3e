"""The four games, written once as batched tensor code (DESIGN.md, principle 1).

`make_game(name, params)` is how everything outside this package gets a game.
"""

from collections.abc import Mapping
from typing import Any

from .bandit import ChoiceEngineeringBandit
from .base import (Game, GameParamsError, GameSpec, Objective, Observation, Sight, State,
                   StepResult,
                   TurnOrder)
from .gonogo import GoNoGo
from .ipd import IteratedPrisonersDilemma
from .trust import TrustGame

GAMES: dict[str, type[Game]] = {
    cls.spec.name: cls
    for cls in (IteratedPrisonersDilemma, ChoiceEngineeringBandit, GoNoGo, TrustGame)
}


def make_game(name: str, params: Mapping[str, Any] | None = None) -> Game:
    """Build a game by name; raises GameParamsError with a readable message on bad input."""
    try:
        cls = GAMES[name]
    except KeyError:
        raise GameParamsError(f"unknown game {name!r}; expected one of {', '.join(GAMES)}") from None
    return cls(params)


__all__ = [
    "GAMES", "Game", "GameParamsError", "GameSpec", "Objective", "Observation", "Sight", "State",
    "StepResult", "TurnOrder", "make_game", "ChoiceEngineeringBandit", "GoNoGo",
    "IteratedPrisonersDilemma", "TrustGame",
]
