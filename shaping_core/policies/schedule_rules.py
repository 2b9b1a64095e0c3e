"""Rules a trained adversary of a budgeted game (bandit, go/no-go) keeps on its own schedule, on
top of the game's budget rule: the guards against a surrogate's extrapolation of docs/loop.md
section 3.

- the pace rule (`pace_lag`): the game's paced budget (the bandit: the other option's rewards) may
  not fall more than `pace_lag` events behind its even pace (BudgetedGame.pace_mask);
- the lead rule (`pace_lead`): the game's lead budget (the bandit: the target's rewards) may not
  run more than `pace_lead` events ahead of its even pace (BudgetedGame.lead_mask);
- the spacing rule (`min_gap`): at least `min_gap` trials separate two events of the game's spaced
  budget (go/no-go: go trials between two no-go trials; BudgetedGame.spacing_mask).

A rule is a parameter of the policy, stored in its checkpoint, so an adversary is trained and
played under the same actions.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..games import Game, Observation
from .base import PolicyParamsError


def check_schedule_rules(game: Game, *, pace_lag: int | None = None, pace_lead: int | None = None,
                         min_gap: int | None = None) -> None:
    """A clear error for a rule the game has no budget for, or a gap its budget cannot keep (each
    policy's params check that the numbers are not negative)."""
    if pace_lag is not None and getattr(game, "paced_budget", None) is None:
        raise PolicyParamsError(f"pace_lag needs a game with a paced budget; {game.spec.label} has none")
    if pace_lead is not None and getattr(game, "lead_budget", None) is None:
        raise PolicyParamsError(f"pace_lead needs a game with a lead budget; {game.spec.label} has none")
    if min_gap is None:
        return
    spaced = getattr(game, "spaced_budget", None)
    if spaced is None:
        raise PolicyParamsError(f"min_gap needs a game with a spaced budget; {game.spec.label} has none")
    events = game.budgets[spaced]
    needed = 1 + (events - 1) * (min_gap + 1)
    if events and needed > game.max_trials:
        raise PolicyParamsError(f"min_gap {min_gap} does not fit: {events} events {min_gap} trials apart need "
                                f"{needed} trials, the game has {game.max_trials}")


def allowed_by_schedule_rules(game: Game, observation: Observation, *, pace_lag: int | None = None,
                              pace_lead: int | None = None, min_gap: int | None = None) -> Tensor:
    """[B, A] the game's legal actions, less those the rules refuse. Where the rules together would
    leave nothing (they can disagree near the end), the game's own rule decides alone."""
    legal, info = observation.action_mask, observation.info
    if pace_lag is None and pace_lead is None and min_gap is None:
        return legal
    allowed = legal
    if pace_lag is not None:
        allowed = allowed & game.pace_mask(info["budget_left"], info["trials_left"], pace_lag)
    if pace_lead is not None:
        allowed = allowed & game.lead_mask(info["budget_left"], info["trials_left"], pace_lead)
    if min_gap is not None:
        allowed = allowed & game.spacing_mask(info["budget_left"], info["trials_left"], info["since_event"], min_gap)
    return torch.where(allowed.any(dim=1, keepdim=True), allowed, legal)
