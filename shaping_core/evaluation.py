"""What an adversary achieves against a model participant: the figures every trainer, the CLI and
the experiments report.

`summarize` reads played episodes: each side's mean points (and their spread) and the game's
headline (`Game.headline`). `evaluate` plays fresh episodes from a seed and summarizes them, adding
for budgeted games when the budget's events fall.
"""

from __future__ import annotations

import torch

from .games import Game
from .games.budget import BudgetedGame
from .participants import ParticipantModel
from .policies.base import Policy
from .simulation import Episodes, play_episodes
from .transfer import placement_by_part


def summarize(game: Game, episodes: Episodes) -> dict[str, float]:
    """Per-episode means (and standard deviations) of what each side earned, plus the game's own
    measure: the bandit's target-choice rate, go/no-go's error rate, the earnings gap."""
    adversary, participant = episodes.adversary_return(), episodes.participant_return()
    out = {"adversary_return": float(adversary.mean()), "adversary_return_std": float(adversary.std()),
           "participant_return": float(participant.mean()),
           "participant_return_std": float(participant.std()),
           "episodes": adversary.shape[0]}
    return {**out, **game.headline(participant, adversary, episodes.lengths.float())}


def evaluate(game: Game, adversary: Policy, participant: ParticipantModel, episodes: int, *,
             seed: int = 0, device: torch.device | str = "cpu") -> dict[str, float]:
    generator = torch.Generator(device=device).manual_seed(seed)
    played = play_episodes(game, participant, adversary, episodes, generator=generator, device=device)
    summary = summarize(game, played)
    if isinstance(game, BudgetedGame):
        # When the budget's events fall (rows: budgets; columns: quarters of the game), the first
        # sign of a degenerate schedule (all at the start, all held to the end).
        summary["placement_by_quarter"] = placement_by_part(game, played).tolist()
    return summary
