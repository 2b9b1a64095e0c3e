"""Adversaries behind one interface (DESIGN.md, principle 2).

`make_policy(name, game, params)` builds any registered adversary; `policies_for(game_name)` lists
the ones that can play a game. Trained checkpoints register here too, so the live server, the
evaluator and the bots never special-case a policy by name.
"""

from __future__ import annotations

from typing import Any

from ..games import Game
from .base import NoParams, Policy, PolicyParamsError, sample_actions
from .classic import (AlwaysCooperate, AlwaysDefect, FixedFractionRepayment, GrimTrigger,
                      RandomIPD, RandomRepayment, RandomSchedule, TitForTat, WinStayLoseShift)

POLICIES: dict[str, type[Policy]] = {
    cls.name: cls
    for cls in (TitForTat, GrimTrigger, WinStayLoseShift, AlwaysCooperate, AlwaysDefect,
                RandomIPD, RandomSchedule, RandomRepayment, FixedFractionRepayment)
}


def policies_for(game_name: str) -> list[type[Policy]]:
    return [cls for cls in POLICIES.values() if game_name in cls.games]


def make_policy(name: str, game: Game, params: dict[str, Any] | None = None) -> Policy:
    """Build an adversary by name; raises PolicyParamsError with a readable message."""
    try:
        cls = POLICIES[name]
    except KeyError:
        raise PolicyParamsError(f"unknown adversary {name!r}; expected one of {', '.join(POLICIES)}") from None
    return cls(game, params)


__all__ = ["POLICIES", "NoParams", "Policy", "PolicyParamsError", "make_policy", "policies_for",
           "sample_actions"]
