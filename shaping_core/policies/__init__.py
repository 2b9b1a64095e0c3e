"""Adversaries behind one interface (DESIGN.md, principle 2).

`make_policy(name, game, params)` builds any registered adversary; `policies_for(game_name)` lists
the ones that can play a game. A trained one-step-memory IPD policy is registered like the classic
strategies: its parameters are its five trained probabilities (written into its checkpoint), so a
study condition can serve it with no new code path. Policies with network weights (GRU) are saved
and loaded by policies/checkpoint.py.
"""

from __future__ import annotations

from typing import Any

from ..games import Game
from .base import NoParams, Policy, PolicyParamsError, sample_actions
from .classic import (AlwaysCooperate, AlwaysDefect, FixedFractionRepayment, GrimTrigger,
                      RandomIPD, RandomRepayment, RandomSchedule, TitForTat, WinStayLoseShift)
from .tabular import TabularIPDPolicy

POLICIES: dict[str, type[Policy]] = {
    cls.name: cls
    for cls in (TitForTat, GrimTrigger, WinStayLoseShift, AlwaysCooperate, AlwaysDefect,
                RandomIPD, RandomSchedule, RandomRepayment, FixedFractionRepayment, TabularIPDPolicy)
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
