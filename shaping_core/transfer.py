"""Transfer: how far an adversary shapes each family of the learner zoo (learners/zoo.py), beside
the random schedule and, where it can be computed, the best possible adversary.

The measure is the adversary's reward per trial, which in the games with a zoo is the game's
headline (the bandit's target-choice rate, go/no-go's error rate). Every family's result is
reported as a *fraction of the achievable gain*:

    fraction = (adversary - random) / (optimum - random)

1 is the best any adversary could do against that family, knowing each participant's parameters;
0 is no better than the random schedule; below 0 is worse than random. Without an optimum (a
family whose state is too large for dynamic programming) the fraction is None.

`placement_by_part` shows *when* an adversary of a budgeted game (bandit, go/no-go) places its
events, to catch degenerate schedules (every no-go at the start, every non-target reward held to
the end). `TrainingPopulation` is the other half: who a robust adversary is trained against (the human
surrogate together with zoo families, some held out to measure transfer to them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch

from .games import Game
from .games.budget import BudgetedGame, action_to_bits
from .learners import Family, zoo_for
from .learners.population import Population
from .participants import ParticipantModel, ParticipantParamsError
from .policies import make_policy
from .policies.base import Policy
from .simulation import Episodes, play_episodes
from .surrogate.checkpoint import SurrogateCheckpointError, load_surrogate
from .surrogate.model import SurrogateParticipant

BASELINE = "random_schedule"  # the budget-respecting random schedule of the bandit and go/no-go
# The seed of the simulated participants every adversary is evaluated on, and of those whose optimum
# is solved (so that the solved optima are shared between runs: optimum.cached_family_optimum).
EVAL_SEED = 1001


@dataclass(frozen=True)
class Estimate:
    """A mean over simulated participants and its standard error."""

    mean: float
    sem: float

    @classmethod
    def of(cls, values: torch.Tensor) -> Estimate:
        n = values.numel()
        sem = float(values.std(unbiased=True)) / math.sqrt(n) if n > 1 else float("nan")
        return cls(float(values.mean()), sem)


@dataclass(frozen=True)
class FamilyResult:
    """One family: the random schedule, the adversary, the optimum (or None) and the fraction."""

    family: str
    random: Estimate
    adversary: Estimate
    optimum: Estimate | None
    fraction: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def rate_per_episode(game: Game, adversary: Policy, participant: ParticipantModel, episodes: int,
                     seed: int) -> torch.Tensor:
    """[episodes] the adversary's reward per trial in each episode."""
    generator = torch.Generator().manual_seed(seed)
    played = play_episodes(game, participant, adversary, episodes, generator=generator)
    return played.adversary_return() / played.lengths.clamp_min(1)


def fraction_of_gain(adversary: float, random: float, optimum: float | None) -> float | None:
    """(adversary - random) / (optimum - random); None without an optimum or when the optimum is no
    better than random (nothing to gain)."""
    if optimum is None or optimum - random <= 1e-9:
        return None
    return (adversary - random) / (optimum - random)


@dataclass(frozen=True)
class TrainingPopulation:
    """Who a robust adversary is trained against: the surrogate (its mirror image on half its
    episodes where the game counterbalances, as always), optionally other surrogates of the same
    people, and zoo families; each episode is one person of one of them."""

    families: tuple[str, ...]
    """The zoo families in the population (learners/zoo.py); empty: the surrogate alone."""
    surrogate_share: float = 0.5
    """The share of episodes the surrogates play; the families share the rest equally."""
    other_surrogates: tuple[str, ...] = ()
    """Checkpoints of further surrogates fitted to the same people (other seeds, halves of them,
    bootstraps), so that a plan does not rest on the quirks of one fit; the adversary still reads
    the person with the training surrogate alone."""
    training_surrogate_part: float | None = None
    """The part of the surrogates' share that the training surrogate plays when there are other
    surrogates; they split the rest equally. None: every surrogate plays an equal part."""

    @classmethod
    def zoo(cls, game_name: str, hold_out: Sequence[str] = (), surrogate_share: float = 0.5,
            other_surrogates: Sequence[str] = (), training_surrogate_part: float | None = None,
            ) -> TrainingPopulation:
        """The surrogate with every family of the game's zoo but those held out (checked by name)."""
        names = [f.name for f in zoo_for(game_name)]
        unknown = [name for name in hold_out if name not in names]
        if unknown:
            raise ParticipantParamsError(f"no family {', '.join(unknown)} in the {game_name} zoo; "
                                         f"expected one of {', '.join(names)}")
        kept = tuple(name for name in names if name not in hold_out)
        if not kept:
            raise ParticipantParamsError("every family is held out: nothing but the surrogate is left")
        if not 0 <= surrogate_share < 1:
            raise ParticipantParamsError(f"surrogate_share must lie in [0, 1), got {surrogate_share:g}")
        if training_surrogate_part is not None:
            if not other_surrogates:
                raise ParticipantParamsError("training_surrogate_part needs other surrogates to share with")
            if not 0 < training_surrogate_part < 1:
                raise ParticipantParamsError(f"training_surrogate_part must lie in (0, 1), "
                                             f"got {training_surrogate_part:g}")
        return cls(kept, surrogate_share, tuple(str(path) for path in other_surrogates), training_surrogate_part)

    def build(self, game: Game, surrogate: ParticipantModel, device: torch.device | str = "cpu") -> Population:
        """The population, `surrogate` being the training surrogate's participant."""
        others = self.other_surrogate_participants(game, device)
        part = self.training_surrogate_part
        if part is None or not others:
            part = 1 / (1 + len(others))
        each_other = self.surrogate_share * (1 - part) / max(len(others), 1)
        families = [family for family in zoo_for(game.spec.name) if family.name in self.families]
        weights = ([self.surrogate_share * part] + [each_other] * len(others)
                   + [(1 - self.surrogate_share) / len(families)] * len(families))
        return Population(game, [surrogate, *others, *(f.make(game) for f in families)], weights)

    def other_surrogate_participants(self, game: Game, device: torch.device | str = "cpu") -> list[ParticipantModel]:
        """The other surrogates, read from their checkpoints; raises ParticipantParamsError naming
        one that cannot be read or was fitted for another game."""
        participants = []
        for path in self.other_surrogates:
            try:
                loaded = load_surrogate(path, device)
            except SurrogateCheckpointError as error:
                raise ParticipantParamsError(f"other surrogate: {error}") from None
            if loaded.game.spec.name != game.spec.name or loaded.game.params != game.params:
                raise ParticipantParamsError(f"other surrogate {path} was fitted for {loaded.game.spec.label} "
                                             f"{loaded.game.params.to_mapping()}, not {game.spec.label} "
                                             f"{game.params.to_mapping()}")
            participants.append(SurrogateParticipant(game, loaded.net))
        return participants

    def to_dict(self) -> dict:
        return asdict(self)


def placement_by_part(game: BudgetedGame, episodes: Episodes, parts: int = 4) -> torch.Tensor:
    """[n_budgets, parts]: the share of each budget's events (bandit: rewards on option k; go/no-go:
    no-go trials) placed in each of `parts` equal stretches of the game, over all episodes. Each
    row sums to 1 (a budget of 0 is all zeros)."""
    bits = action_to_bits(episodes.adversary_actions.clamp_min(0), len(game.budgets)).float()
    bits = bits * episodes.active.unsqueeze(-1)
    trials = episodes.adversary_actions.shape[1]
    part = torch.arange(trials) * parts // trials  # [T] which stretch each trial belongs to
    placed = torch.zeros(len(game.budgets), parts)
    placed.index_add_(1, part, bits.sum(dim=0).T)
    return placed / placed.sum(dim=1, keepdim=True).clamp_min(1)


OptimumOf = Callable[[Game, Family], Estimate | None]


def evaluate_against_zoo(game: Game, adversary: Policy, *, episodes: int = 4096, seed: int = 0,
                         families: Sequence[Family] | None = None,
                         optimum_of: OptimumOf | None = None) -> list[FamilyResult]:
    """Play `adversary` and the random schedule against every family of the game's zoo (or
    `families`), the same simulated participants for both (the same seed draws the same
    parameters). `optimum_of(game, family)` gives the family's optimum, or None."""
    random = make_policy(BASELINE, game)
    results = []
    for family in families if families is not None else zoo_for(game.spec.name):
        participant = family.make(game)
        baseline = Estimate.of(rate_per_episode(game, random, participant, episodes, seed))
        shaped = Estimate.of(rate_per_episode(game, adversary, participant, episodes, seed))
        optimum = optimum_of(game, family) if optimum_of is not None else None
        results.append(FamilyResult(family.name, baseline, shaped, optimum,
                                    fraction_of_gain(shaped.mean, baseline.mean,
                                                     optimum.mean if optimum else None)))
    return results


def format_table(results: Sequence[FamilyResult]) -> str:
    """A plain-text table, one family per line, for the terminal."""
    def shown(estimate: Estimate | None) -> str:
        # Four decimals: go/no-go's error rates are a few hundredths.
        return "—" if estimate is None else f"{estimate.mean:.4f} ± {estimate.sem:.4f}"

    lines = [f"{'family':<24} {'random':>17} {'adversary':>17} {'optimum':>17} {'fraction':>9}"]
    for row in results:
        fraction = "—" if row.fraction is None else f"{row.fraction:.2f}"
        lines.append(f"{row.family:<24} {shown(row.random):>17} {shown(row.adversary):>17} "
                     f"{shown(row.optimum):>17} {fraction:>9}")
    lines.append("(the adversary's reward per trial: the bandit's target-choice rate, go/no-go's error "
                 "rate; mean ± s.e.m. over simulated participants; fraction = (adversary - random) / "
                 "(optimum - random))")
    return "\n".join(lines)
