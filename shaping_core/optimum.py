"""The best possible adversary against each learner of a game's zoo, and the random schedule
beside it: the two ends of the scale on which transfer is reported,

    fraction of the achievable gain = (adversary - random) / (optimum - random).

For a learner whose state is small (it has a `tabular(values, grid)` form: a bandit_dp.TabularLearner
or a gonogo_dp.GoNoGoTable, each of which knows how to `solve` itself, read its `optimal_rate` and
play its `oracle`) the optimum is computed exactly (or on a grid) by dynamic programming, one
participant's parameter values at a time:

    result = family_optimum(game, family("bandit", "q_learning"), participants=16)
    result.optimum, result.optimum_sem      # mean over the drawn participants, its s.e.m.

Each participant's optimal policy (`OracleAdversary`) is also played against the learner itself,
with that participant's values, to check the value (`simulated`), as is the random schedule. A
family whose learner has no tabular form has no computed optimum: `family_optimum` returns None.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .games import Game
from .learners import Family, make_learner
from .learners.zoo import has_zoo, zoo_for
from .learners.base import sample_values
from .participants import ParticipantModel
from .policies import make_policy
from .transfer import BASELINE, Estimate, rate_per_episode


@dataclass(frozen=True)
class ParticipantOptimum:
    """One participant (fixed parameter values); rates are the adversary's reward per trial (the
    bandit's target choices, go/no-go's errors)."""

    values: dict[str, float]
    optimum: float
    """The best adversary's expected rate (dynamic programming)."""
    simulated: float
    """The optimal policy (the table's `oracle`) against the learner: the mean over episodes..."""
    simulated_std: float
    """... and the standard deviation of the episodes' rates."""
    random: float
    """The random schedule against the same learner (same episodes' seed)."""
    random_std: float


@dataclass(frozen=True)
class FamilyOptimum:
    """A family's population: means over its drawn participants, and their standard errors."""

    family: str
    optimum: float
    optimum_sem: float
    simulated: float
    simulated_sem: float
    random: float
    random_sem: float
    participants: tuple[ParticipantOptimum, ...]

    def to_dict(self) -> dict:
        return asdict(self)


def solvable(game: Game) -> bool:
    """Whether the best possible adversary is computed for some family of this game's zoo."""
    return has_zoo(game.spec.name) and any(has_tabular_form(family.make(game)) for family in zoo_for(game.spec.name))


def has_tabular_form(learner: ParticipantModel) -> bool:
    """Whether the learner describes itself as a Markov chain (`tabular(values, grid)`) in the
    game it plays: in every game it plays, unless it names fewer in `tabular_games`."""
    games = getattr(learner, "tabular_games", learner.games)
    return callable(getattr(learner, "tabular", None)) and learner.game.spec.name in games


def participant_optimum(game: Game, learner_name: str, values: Mapping[str, float], *,
                        grid: int = 21, episodes: int = 512, seed: int = 0) -> ParticipantOptimum | None:
    """The optimum against one participant of `learner_name` with these parameter values, its
    policy and the random schedule simulated over `episodes` episodes; None if the learner has no
    tabular form."""
    learner = make_learner(learner_name, game, dict(values))
    if not has_tabular_form(learner):
        return None
    table = learner.tabular(values, grid)
    solution = table.solve(game.params)
    simulated = rate_per_episode(game, table.oracle(game, solution), learner, episodes, seed)
    random = rate_per_episode(game, make_policy(BASELINE, game), learner, episodes, seed)
    return ParticipantOptimum(dict(values), table.optimal_rate(solution, game.params),
                              float(simulated.mean()), _std(simulated),
                              float(random.mean()), _std(random))


def family_optimum(game: Game, family: Family, *, participants: int = 16, grid: int = 21,
                   episodes_per_participant: int = 256, seed: int = 0) -> FamilyOptimum | None:
    """The optimum over `participants` people drawn from the family's distribution (a generator
    seeded with `seed`, as `reset` draws them), each solved on its own; None (no tabular form) if
    the family's learner has none."""
    learner = family.make(game)
    if not has_tabular_form(learner):
        return None
    drawn = sample_values(learner.params, participants, torch.Generator().manual_seed(seed))
    people = [participant_optimum(game, family.learner, values, grid=grid,
                                  episodes=episodes_per_participant, seed=seed + i)
              for i, values in enumerate(drawn)]
    optimum, simulated, random = (Estimate.of(torch.tensor([getattr(p, field) for p in people], dtype=torch.float64))
                                  for field in ("optimum", "simulated", "random"))
    return FamilyOptimum(family.name, optimum.mean, optimum.sem, simulated.mean, simulated.sem, random.mean,
                         random.sem, participants=tuple(people))


# Solved optima are kept as JSON files: first the ones shipped with the package (the zoo on the
# default game), then the user's cache, where new ones are written.
SHIPPED_OPTIMA = Path(__file__).resolve().parent / "checkpoints" / "optima"


def cache_folder() -> Path:
    return Path(os.environ.get("SHAPING_CORE_CACHE", Path.home() / ".cache" / "shaping_core")) / "optima"


def cached_family_optimum(game: Game, family: Family, *, participants: int = 16, grid: int = 21,
                          seed: int = 0) -> FamilyOptimum | None:
    """`family_optimum`, read from a file when the same game, family, participants, grid and seed
    were solved before (a family takes minutes), else solved and written to `cache_folder()`."""
    key = json.dumps({"game": game.spec.name, "game_params": game.params.to_mapping(), "learner": family.learner,
                      "params": dict(family.params), "participants": participants, "grid": grid, "seed": seed},
                     sort_keys=True)
    name = f"{game.spec.name}-{family.name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    for folder in (SHIPPED_OPTIMA, cache_folder()):
        if (folder / name).is_file():
            stored = json.loads((folder / name).read_text())
            if stored["key"] == json.loads(key):
                people = tuple(ParticipantOptimum(**p) for p in stored["result"].pop("participants"))
                return FamilyOptimum(**stored["result"], participants=people)
    result = family_optimum(game, family, participants=participants, grid=grid, seed=seed)
    if result is not None:
        cache_folder().mkdir(parents=True, exist_ok=True)
        (cache_folder() / name).write_text(json.dumps({"key": json.loads(key), "result": result.to_dict()}, indent=1))
    return result


def _std(rates: torch.Tensor) -> float:
    return float(rates.std()) if rates.numel() > 1 else float("nan")
