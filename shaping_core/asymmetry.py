"""How shaping grows with the adversary's advantage: its model's fidelity and its shaping weight.

Two Advantage Alignment agents of equal ability learn to reciprocate (ipd_training.py). Against a
weaker learner an opponent shaper may exploit instead; two knobs should set how much:

- fidelity: how well the adversary's model of the person (the surrogate it reads and trains
  against) predicts people. Here: surrogates fitted on growing fractions of the training games,
  fraction 0 being an untrained network, each scored by its NLL per decision on held-out games;
- beta: AdAlign's shaping weight (algorithms/adalign.py); 0 is the naive learner of its own
  reward (MAX), and FAIR is swept beside it as the prosocial reference.

Every cell (fidelity, objective, seed) trains one shaping adversary against its surrogate
(adversary_training.train_adversary) and plays it against fixed "true" people it never trained
on: in the IPD the best surrogate of the human data (experiments/ipd_surrogate.py) and the
synthetic learner families; in the trust game synthetic investors. It records both sides' points
per round, the joint welfare and how much each side gave the other over the game
(`Game.cooperation`). The build-then-betray index is the adversary's giving in the first third
of the game minus the last third: positive for an adversary that invests in the person's trust
and cashes it in at the end (Dezfouli et al.'s MAX trustee).

    settings = SweepSettings(game="trust", fidelities=(0.0, 1.0), betas=(0.0, 1.0), seeds=(0,))
    people = trust_people(settings)
    row = run_cell(settings, people, Cell(fidelity=1.0, objective="adalign", beta=1.0, seed=0))

Cells are independent and seeded; `run_sweep` runs the missing ones in parallel with joblib,
writes each to cells/<key>.json as it finishes (an interrupted sweep resumes from them) and then
the table, metrics.json and heatmaps (experiments/asymmetry.py, docs/asymmetry.md).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .adversary_training import AdversarySettings, train_adversary
from .data.sequences import TrialSequences
from .devices import resolve_device
from .games import Game, make_game
from .games.ipd import memory_one, zero_determinant_fit
from .learners import make_learner
from .params import check_at_least_one
from .participants import ParticipantModel
from .policies import make_policy
from .policies.base import Policy
from .simulation import Episodes, play_episodes
from .surrogate.fit import SurrogateSettings, evaluate_surrogate, train_surrogate
from .surrogate.model import SurrogateNet, SurrogateParticipant


@dataclass
class SweepSettings:
    """One asymmetry sweep. The defaults are the full IPD sweep of docs/asymmetry.md."""

    game: str = "ipd"
    """The game: "ipd" (true people: the human surrogate and IPD learners) or "trust" (true
    people: synthetic investors)."""
    game_params: dict[str, Any] = field(default_factory=dict)
    """The game's parameters; {} is the platform's default version (IPD: R, S, T, P = 3, 0, 5, 1
    over 20 announced rounds; trust: 10 rounds)."""
    rounds: int | None = None
    """Rounds per game; None keeps game_params' (or the default)."""
    fidelities: tuple[float, ...] = (0.0, 0.01, 0.1, 1.0)
    """Fractions of the training games the adversary's surrogate is fitted on; 0 is an untrained
    network (a model that knows nothing of people)."""
    betas: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0)
    """AdAlign's shaping weights; 0 is the naive learner of its own points (MAX)."""
    fair: bool = True
    """Also train a FAIR adversary at every fidelity (the prosocial reference column)."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Seeds of the cells: each draws its surrogate's games, initial weights and training."""
    surrogate_hidden: int = 8
    """GRU size of every fidelity's surrogate (the human IPD CV chose 8: experiments/ipd_surrogate.py)."""
    surrogate_steps: int = 600
    """Minibatch steps a fidelity's surrogate is trained for, whatever its data's size, so that
    fidelity differs by data only."""
    surrogate_batch: int = 256
    """Games per minibatch when fitting a surrogate."""
    iterations: int = 150
    """PPO batches per adversary."""
    batch_size: int = 256
    """Simulated people per PPO batch."""
    adversary_hidden: int = 16
    """GRU size of the adversary and its critics."""
    gamma: float = 1.0
    """The adversary's discount (1: the game's total, as the platform's adversaries)."""
    eval_episodes: int = 2048
    """Episodes against each true opponent."""
    simulated_people: int = 2000
    """Trust game: synthetic investors whose games the surrogates are fitted on (the IPD uses
    the human data instead)."""
    test_share: float = 0.2
    """Share of the games held out to score every fidelity's surrogate."""
    data: str = ""
    """IPD: the human games file (format ipd-human-games)."""
    true_surrogate: str = ""
    """IPD: checkpoint of the surrogate fitted on all the human games (the true person)."""
    device: str = "cpu"
    """Where cells train and play: "cpu", "cuda" or "auto" (CUDA when available)."""

    def __post_init__(self):
        self.fidelities, self.betas, self.seeds = (tuple(float(f) for f in self.fidelities),
                                                   tuple(float(b) for b in self.betas),
                                                   tuple(int(s) for s in self.seeds))
        if self.game not in PEOPLE:
            raise ValueError(f"game must be 'ipd' or 'trust', got {self.game!r}")
        if not self.fidelities or any(not 0 <= f <= 1 for f in self.fidelities):
            raise ValueError(f"fidelities must be fractions in [0, 1], got {list(self.fidelities)}")
        if not self.betas or any(b < 0 for b in self.betas):
            raise ValueError(f"betas must be at least 0, got {list(self.betas)}")
        if not self.seeds:
            raise ValueError("at least one seed is needed")
        if not 0 < self.test_share < 1:
            raise ValueError(f"test_share must lie in (0, 1), got {self.test_share}")
        check_at_least_one(self, ("surrogate_hidden", "surrogate_steps", "surrogate_batch", "iterations",
                                  "batch_size", "adversary_hidden", "eval_episodes", "simulated_people"))
        resolve_device(self.device)  # a clear error now rather than in every cell
        missing = [name for name in PEOPLE_NEED.get(self.game, ()) if not getattr(self, name)]
        if missing:
            raise ValueError(f"the {self.game} sweep needs {' and '.join(missing)} (the human games and the "
                             f"surrogate fitted on them)")

    def make_game(self, rounds: int | None = None) -> Game:
        rounds = rounds or self.rounds
        return make_game(self.game, {**self.game_params, **({} if rounds is None else {"rounds": rounds})})


@dataclass(frozen=True)
class Cell:
    """One adversary of the sweep: its model's fidelity, objective, shaping weight and seed."""

    fidelity: float
    objective: str  # "adalign" or "fair"
    beta: float  # the shaping weight (adalign only; 0 for fair)
    seed: int
    rounds: int | None = None  # the game's length, where a sweep varies it (treacherous turn)
    gamma: float | None = None  # the adversary's discount, where a sweep varies it

    @property
    def key(self) -> str:
        rounds = "" if self.rounds is None else f"_rounds{self.rounds}"
        gamma = "" if self.gamma is None else f"_gamma{self.gamma:g}"
        return (f"fidelity{self.fidelity:g}_{self.objective}_beta{self.beta:g}"
                f"_seed{self.seed}{rounds}{gamma}")


def cells_of(settings: SweepSettings) -> list[Cell]:
    objectives = [("adalign", beta) for beta in settings.betas]
    objectives += [("fair", 0.0)] if settings.fair else []
    return [Cell(f, objective, beta, seed) for f in settings.fidelities
            for objective, beta in objectives for seed in settings.seeds]


# --- people: the data the adversary's model is fitted on, and the true opponents ------------------


@dataclass
class People:
    """What a sweep's adversaries may learn people from (`pool`: the training games, `test`:
    held-out games that score each fidelity), and the true opponents they are played against,
    built for any length of the game."""

    pool: TrialSequences
    test: TrialSequences
    true_opponents: Callable[[Game], dict[str, ParticipantModel]]
    description: dict[str, Any] = field(default_factory=dict)
    # What else to say about an adversary from its played episodes (the IPD: its memory-one
    # strategy and how close it is to extortion).
    describe: Callable[[Game, Episodes], dict[str, Any]] | None = None


def _split(sequences: TrialSequences, test_share: float) -> tuple[TrialSequences, TrialSequences]:
    """Training pool and held-out test games: one fixed permutation (seed 0) for every cell."""
    order = torch.randperm(sequences.n_sequences, generator=torch.Generator().manual_seed(0))
    n_test = max(1, round(test_share * sequences.n_sequences))
    return sequences.subset(order[n_test:]), sequences.subset(order[:n_test])


IPD_LEARNERS = ("tit_for_tat_like", "win_stay_lose_shift", "q_learning")


def ipd_people(settings: SweepSettings) -> People:
    """The human games (split into pool and test) and the true opponents: the surrogate fitted
    on all of them, and the IPD learner families."""
    from .data import load_sequences
    from .surrogate.checkpoint import load_surrogate

    game = settings.make_game()
    sequences = load_sequences(settings.data, "ipd-human-games", game=game)
    true_net = load_surrogate(settings.true_surrogate).net

    def opponents(game: Game) -> dict[str, ParticipantModel]:
        return {"human surrogate": SurrogateParticipant(game, true_net),
                **{name: make_learner(name, game) for name in IPD_LEARNERS}}

    pool, test = _split(sequences, settings.test_share)
    return People(pool, test, opponents, {"data": sequences.provenance,
                                          "true_surrogate": settings.true_surrogate},
                  describe=ipd_strategy)


def ipd_strategy(game: Game, played: Episodes) -> dict[str, Any]:
    """The adversary's memory-one strategy (from its own view) and its zero-determinant fit."""
    strategy = memory_one(played.adversary_actions, played.participant_actions, played.active)
    return {"memory_one": strategy, "zero_determinant": zero_determinant_fit(strategy, game.params)}


# Synthetic investors: the population the trust game's surrogates are fitted on and the true
# people, and a second style (quicker to trust and to distrust) none of them is fitted on.
INVESTORS = {
    "investor": {"initial_trust": [0.3, 0.7], "learning_rate": [0.1, 0.5], "noise": [0.1, 0.2]},
    "quick investor": {"initial_trust": [0.5, 0.9], "learning_rate": [0.6, 0.9], "noise": [0.05, 0.1]},
}


def trust_people(settings: SweepSettings) -> People:
    """Games of `simulated_people` synthetic investors against the random repayment, split into
    pool and test; true opponents: the same investor population and the quick investors."""
    game = settings.make_game()
    investors = make_learner("investor", game, INVESTORS["investor"])
    generator = torch.Generator().manual_seed(0)
    played = play_episodes(game, investors, make_policy("random_repayment", game),
                           settings.simulated_people, generator=generator)
    pool, test = _split(sequences_of(game, played), settings.test_share)

    def opponents(game: Game) -> dict[str, ParticipantModel]:
        return {name: make_learner("investor", game, params) for name, params in INVESTORS.items()}

    return People(pool, test, opponents, {"simulated_people": settings.simulated_people,
                                          "investors": INVESTORS,
                                          "data_adversary": "random_repayment"})


PEOPLE = {"ipd": ipd_people, "trust": trust_people}
# The settings (files) each game's true people are made from.
PEOPLE_NEED = {"ipd": ("data", "true_surrogate")}
# The classic adversaries each game's trained ones are compared with.
CLASSICS = {"ipd": (("random", {"p_cooperate": 0.5}), ("tit_for_tat", {}), ("always_defect", {})),
            "trust": (("random_repayment", {}), ("fixed_fraction", {}))}


def people_for(settings: SweepSettings) -> People:
    return PEOPLE[settings.game](settings)


def sequences_of(game: Game, episodes: Episodes) -> TrialSequences:
    """Played episodes as the sequences a surrogate is fitted on."""
    def played(x: torch.Tensor, padding) -> torch.Tensor:
        return torch.where(episodes.active, x, padding)

    n = episodes.active.shape[0]
    return TrialSequences(game, played(episodes.participant_actions, -1),
                          played(episodes.participant_rewards, 0.0).float(),
                          played(episodes.adversary_actions, -1), [f"sim{i}" for i in range(n)])


# --- one cell ------------------------------------------------------------------------------------


def fit_fidelity(settings: SweepSettings, people: People, fidelity: float,
                 seed: int) -> tuple[SurrogateNet, float]:
    """The adversary's model at `fidelity`: a surrogate fitted on that fraction of the pool (an
    untrained one at 0), and its NLL per decision on the held-out games."""
    surrogate_settings = SurrogateSettings(hidden_sizes=(settings.surrogate_hidden,),
                                           batch_size=settings.surrogate_batch, seed=seed,
                                           anneal_lr=True, max_epochs=1, device=settings.device)
    n = round(fidelity * people.pool.n_sequences)
    if n == 0:
        torch.manual_seed(seed)
        net = SurrogateNet(people.pool.game, settings.surrogate_hidden,
                           reads_context=people.pool.context is not None).eval()
    else:
        chosen = torch.randperm(people.pool.n_sequences,
                                generator=torch.Generator().manual_seed(seed))[:n]
        games = people.pool.subset(chosen)
        epochs = max(1, math.ceil(settings.surrogate_steps / math.ceil(n / settings.surrogate_batch)))
        surrogate_settings.max_epochs = epochs
        net = train_surrogate(games, settings.surrogate_hidden, epochs, surrogate_settings)
    return net.cpu(), evaluate_surrogate(net.cpu(), people.test)["nll_per_choice"]


def measure(game: Game, adversary: Policy, person: ParticipantModel, episodes: int,
            seed: int, describe: Callable[[Game, Episodes], dict[str, Any]] | None = None,
            device: torch.device | str = "cpu") -> dict[str, Any]:
    """Points per round of each side (mean and std over episodes), joint welfare, how much each
    side gave over the game, by round and by thirds, the build-then-betray index, and what
    `describe` says of the adversary."""
    generator = torch.Generator(device=device).manual_seed(seed)
    played = play_episodes(game, person, adversary, episodes, generator=generator, device=device)
    played = Episodes(**{f.name: getattr(played, f.name).cpu() for f in dataclasses.fields(played)})
    rounds = played.lengths.float()
    mine, theirs = played.adversary_return() / rounds, played.participant_return() / rounds
    person_gives, adversary_gives = game.cooperation(played.participant_actions, played.adversary_actions)
    thirds = [third.float() for third in torch.tensor_split(torch.arange(played.active.shape[1]), 3)]

    def by_third(gives: torch.Tensor) -> list[float]:
        out = []
        for third in thirds:
            columns = third.long()
            active = played.active[:, columns]
            out.append(float(gives[:, columns][active].mean()) if bool(active.any()) else float("nan"))
        return out

    adversary_thirds = by_third(adversary_gives)
    by_round = [float(person_gives[:, t][played.active[:, t]].mean())
                for t in range(played.active.shape[1])]
    return {**({} if describe is None else describe(game, played)),
            "person_gives_by_round": by_round,"adversary_points": float(mine.mean()), "adversary_points_std": float(mine.std()),
            "person_points": float(theirs.mean()), "person_points_std": float(theirs.std()),
            "joint_points": float((mine + theirs).mean()),
            "person_gives": float(person_gives[played.active].mean()),
            "adversary_gives": float(adversary_gives[played.active].mean()),
            "person_gives_by_third": by_third(person_gives),
            "adversary_gives_by_third": adversary_thirds,
            "build_then_betray": adversary_thirds[0] - adversary_thirds[-1]}


def run_cell(settings: SweepSettings, people: People, cell: Cell) -> dict[str, Any]:
    """Train the cell's adversary against its fidelity's surrogate and play it against every
    true opponent. The same settings, people and cell give the same numbers."""
    torch.manual_seed(cell.seed)
    device = resolve_device(settings.device)
    game = settings.make_game(cell.rounds)
    surrogate, nll = fit_fidelity(settings, people, cell.fidelity, cell.seed)
    adversary_settings = AdversarySettings(
        objective=cell.objective, beta=cell.beta, iterations=settings.iterations,
        batch_size=settings.batch_size, hidden_size=settings.adversary_hidden, seed=cell.seed,
        gamma=settings.gamma if cell.gamma is None else cell.gamma,
        eval_episodes=settings.eval_episodes)
    adversary, curve = train_adversary(game, surrogate, adversary_settings, progress=False,
                                       device=device)
    against = {name: measure(game, adversary, person, settings.eval_episodes, seed=cell.seed,
                             describe=people.describe, device=device)
               for name, person in people.true_opponents(game).items()}
    against["own surrogate"] = measure(game, adversary, SurrogateParticipant(game, surrogate),
                                       settings.eval_episodes, seed=cell.seed,
                                       describe=people.describe, device=device)
    return {"cell": dataclasses.asdict(cell), "key": cell.key, "surrogate_nll": nll,
            "rounds": game.max_trials, "against": against,
            "final_training_return": curve[-1]["adversary_return"]}


def baselines(settings: SweepSettings, people: People, rounds: int | None = None) -> dict[str, Any]:
    """The classic adversaries against the same true opponents (no training)."""
    game = settings.make_game(rounds)
    names = CLASSICS[settings.game]
    return {name: {opponent: measure(game, make_policy(name, game, params), person,
                                     settings.eval_episodes, seed=0, describe=people.describe)
                   for opponent, person in people.true_opponents(game).items()}
            for name, params in names}


# --- the sweep -----------------------------------------------------------------------------------


def run_sweep(settings: SweepSettings, out: Path, cells: list[Cell] | None = None, *,
              jobs: int = 2, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Run every cell not yet in out/cells (in parallel, `jobs` processes) and return all rows."""
    from joblib import Parallel, delayed

    cells = cells_of(settings) if cells is None else cells
    folder = out / "cells"
    folder.mkdir(parents=True, exist_ok=True)
    missing = [cell for cell in cells if not (folder / f"{cell.key}.json").exists()]
    log(f"{len(cells) - len(missing)} of {len(cells)} cells already written; running {len(missing)}")
    if missing:
        Parallel(n_jobs=jobs, verbose=10)(delayed(_write_cell)(settings, cell, folder)
                                          for cell in missing)
    return [json.loads((folder / f"{cell.key}.json").read_text()) for cell in cells]


def _write_cell(settings: SweepSettings, cell: Cell, folder: Path) -> None:
    torch.set_num_threads(1)  # one core per cell: joblib runs cells side by side
    row = run_cell(settings, _people_cached(settings), cell)
    temporary = folder / f".{cell.key}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(row, indent=1) + "\n")
    temporary.replace(folder / f"{cell.key}.json")  # whole or absent, never half written


_PEOPLE: dict[str, People] = {}


def _people_cached(settings: SweepSettings) -> People:
    """Each worker process builds the people once (loading the data, simulating investors)."""
    key = json.dumps(dataclasses.asdict(settings), sort_keys=True)
    if key not in _PEOPLE:
        _PEOPLE[key] = people_for(settings)
    return _PEOPLE[key]


def summarize(rows: list[dict[str, Any]], opponent: str, measure_name: str) -> dict[str, Any]:
    """Mean and std over seeds of one measure against one opponent, per (fidelity, objective)."""
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        cell = row["cell"]
        value = row["against"][opponent][measure_name]
        groups.setdefault((cell["fidelity"], cell["objective"], cell["beta"], cell.get("rounds"),
                           cell.get("gamma")), []).append(value)
    return {key: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, len(v))
            for key, v in groups.items()}


def fidelity_nll(rows: list[dict[str, Any]]) -> dict[float, tuple[float, float]]:
    """Held-out NLL of each fidelity's surrogates: mean and std over seeds."""
    by_fidelity: dict[float, dict[int, float]] = {}
    for row in rows:
        by_fidelity.setdefault(row["cell"]["fidelity"], {})[row["cell"]["seed"]] = row["surrogate_nll"]
    return {f: (float(np.mean(list(v.values()))),
                float(np.std(list(v.values()), ddof=1)) if len(v) > 1 else 0.0)
            for f, v in sorted(by_fidelity.items())}
