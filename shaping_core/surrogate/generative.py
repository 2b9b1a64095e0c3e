"""The generative check of a surrogate: does it *behave* like the people it was fitted to, not only
predict their next choice? A model can score a good held-out NLL and still generate behaviour
unlike people's when it plays on its own (the critique of Centaur: Binz et al. 2025 and its
replies), and an adversary trained against it exploits exactly what it generates.

    check = generative_check(surrogate, people, replications=10, seed=0)
    check.rows          # one per statistic: people's mean and 95% interval, the model's, the
                        #   difference's, and whether that interval holds 0

The surrogate plays each person's schedule when the data hold it (every adversary action known,
as go/no-go's stimuli): `ReplayedSchedule` replays that person's adversary actions, `replications`
times, and the statistics of the person and of their simulations are paired. Where the data lack
the schedule (the public bandit file records only the chosen option's reward) it plays the game's
baseline adversary instead, and only statistics that condition on what happened to the player
(win-stay, lose-shift) are comparable; `CheckResult.schedule` says which was used.

The statistics, per person (NaN where a person has no trial that defines one):

    switch_rate          P(a_t != a_{t-1})
    win_stay             P(a_t == a_{t-1} | the previous trial paid)
    lose_shift           P(a_t != a_{t-1} | the previous trial did not pay)
    mean_run_length      mean length of runs of the same action
    reward_rate_block_k  the player's reward rate in the k-th fifth of the trials (go/no-go:
                         1 - the error rate; a bandit's points)
    reward_rate_cue_c_gap_g   (schedules known) the reward rate on trials whose adversary action is
                         c, by how many trials have passed since c last came (go/no-go: the
                         errors on a no-go after a run of g go trials, the prepotency effect)

Intervals are percentile bootstraps over people (a person's simulations averaged first); the
difference model - people is resampled in pairs (a person with their own simulations) where the
schedules were replayed.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor

from ..data.sequences import TrialSequences
from ..games import Game, Observation
from ..participants import ParticipantModel
from ..policies.base import Policy
from ..simulation import play_episodes

BLOCKS = 5
GAP_BINS = ((1, 1), (2, 3), (4, 8), (9, 16), (17, 10_000))
"""Trials since the cue last came (1: on the previous trial), grouped; the first appearance of a
cue counts in the last group (a long time)."""


class ReplayedSchedule(Policy):
    """Plays recorded adversary actions: episode b takes `actions[b, t]` on trial t. Deterministic,
    so an episode's trials are those of the recorded schedule wherever the rules allow them (a
    recorded schedule obeys them)."""

    name, label = "replayed_schedule", "Replayed schedule"
    games = ("ipd", "bandit", "gonogo", "trust")

    def __init__(self, game: Game, actions: Tensor):
        super().__init__(game)
        if bool((actions < 0).any()):
            raise ValueError("a replayed schedule needs every adversary action; some are unknown (-1)")
        self.actions = actions

    def reset(self, batch_size, device="cpu"):
        if batch_size != self.actions.shape[0]:
            raise ValueError(f"the schedule holds {self.actions.shape[0]} episodes, not {batch_size}")
        return None

    def act(self, observation: Observation, state):
        trial = observation.trial.clamp_max(self.actions.shape[1] - 1)
        return self._deterministic(self.actions.gather(1, trial.unsqueeze(1)).squeeze(1)), state


def behaviour(actions: Tensor, rewards: Tensor, adversary_actions: Tensor, active: Tensor,
              n_cues: int | None) -> dict[str, np.ndarray]:
    """Each statistic of the module docstring, one value per sequence ([N] arrays, NaN where
    undefined). `n_cues` is the number of adversary actions when they are all known, else None
    (no per-cue statistics)."""
    actions, rewards, active = actions.numpy(), rewards.numpy().astype(float), active.numpy()
    both = active[:, 1:] & active[:, :-1]
    same = (actions[:, 1:] == actions[:, :-1]) & both
    paid = (rewards[:, :-1] > 0) & both

    def rate(hits: np.ndarray, of: np.ndarray) -> np.ndarray:
        counts = of.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, (hits & of).sum(axis=1) / counts, np.nan)

    stats = {"switch_rate": rate(~same, both), "win_stay": rate(same, paid),
             "lose_shift": rate(~same, both & ~paid)}
    changes = (actions[:, 1:] != actions[:, :-1]) & both
    with np.errstate(invalid="ignore", divide="ignore"):
        stats["mean_run_length"] = active.sum(axis=1) / (changes.sum(axis=1) + 1)
    lengths = active.sum(axis=1)
    trial = np.arange(actions.shape[1])[None, :]
    for block in range(BLOCKS):
        in_block = active & (trial * BLOCKS >= block * lengths[:, None]) & (trial * BLOCKS < (block + 1) * lengths[:, None])
        stats[f"reward_rate_block_{block + 1}"] = _mean_where(rewards, in_block)
    if n_cues is not None:
        cues = adversary_actions.numpy()
        for cue in range(n_cues):
            gap = _trials_since(cues, cue)
            for low, high in GAP_BINS:
                where = active & (cues == cue) & (gap >= low) & (gap <= high)
                label = f"{low}" if low == high else (f"{low}+" if high >= 10_000 else f"{low}-{high}")
                stats[f"reward_rate_cue_{cue}_gap_{label}"] = _mean_where(rewards, where)
    return stats


def _mean_where(values: np.ndarray, where: np.ndarray) -> np.ndarray:
    counts = where.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, (values * where).sum(axis=1) / counts, np.nan)


def _trials_since(cues: np.ndarray, cue: int) -> np.ndarray:
    """[N, T] trials since `cue` last came before trial t (a large number before its first)."""
    since = np.full(cues.shape, 10_000, dtype=np.int64)
    last = np.full(cues.shape[0], -10_000, dtype=np.int64)
    for t in range(cues.shape[1]):
        since[:, t] = np.minimum(t - last, 10_000)
        last = np.where(cues[:, t] == cue, t, last)
    return since


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    people: int
    """People with a value (the statistic is undefined for the rest)."""

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class StatisticRow:
    statistic: str
    people: Interval
    model: Interval
    difference: Interval
    """The model's mean minus people's, bootstrapped over people (paired where each person's own
    schedule was replayed)."""

    @property
    def consistent(self) -> bool | None:
        """The 95% interval of the difference contains 0; None where no person defines the
        statistic (go/no-go: no go trial comes 9-16 trials after the last go)."""
        return None if self.difference.people == 0 else self.difference.contains(0.0)


@dataclass(frozen=True)
class CheckResult:
    schedule: str
    """"replayed": each person's own schedule; or the baseline adversary's name."""
    rows: tuple[StatisticRow, ...]
    replications: int

    def to_dict(self) -> dict:
        return {"schedule": self.schedule, "replications": self.replications,
                "rows": [{"statistic": r.statistic, "people": asdict(r.people), "model": asdict(r.model),
                          "difference": asdict(r.difference), "consistent": r.consistent}
                         for r in self.rows]}


def bootstrap(values: np.ndarray, resamples: int, rng: np.random.Generator) -> Interval:
    """The mean over people with a value and its 95% percentile interval over `resamples`
    resamplings of them."""
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    means = rng.choice(values, size=(resamples, len(values)), replace=True).mean(axis=1)
    return _interval(float(values.mean()), means, len(values))


def bootstrap_difference(model: np.ndarray, people: np.ndarray, paired: bool, resamples: int,
                         rng: np.random.Generator) -> Interval:
    """mean(model) - mean(people) and its 95% interval: people resampled together with their own
    simulations when `paired`, each side on its own otherwise."""
    if paired:
        both = ~np.isnan(model) & ~np.isnan(people)
        if not both.any():
            return Interval(math.nan, math.nan, math.nan, 0)
        differences = model[both] - people[both]
        means = rng.choice(differences, size=(resamples, len(differences)), replace=True).mean(axis=1)
        return _interval(float(differences.mean()), means, int(both.sum()))
    model, people = model[~np.isnan(model)], people[~np.isnan(people)]
    if len(model) == 0 or len(people) == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    means = (rng.choice(model, size=(resamples, len(model)), replace=True).mean(axis=1)
             - rng.choice(people, size=(resamples, len(people)), replace=True).mean(axis=1))
    return _interval(float(model.mean() - people.mean()), means, min(len(model), len(people)))


def _interval(mean: float, resampled: np.ndarray, people: int) -> Interval:
    low, high = np.percentile(resampled, [2.5, 97.5])
    return Interval(mean, float(low), float(high), people)


def generative_check(surrogate: ParticipantModel, people: TrialSequences, *, baseline: Policy,
                     replications: int = 10, resamples: int = 2000, seed: int = 0) -> CheckResult:
    """Simulate `surrogate` `replications` times per person and compare the statistics with
    people's. `baseline` plays where the data lack the schedule."""
    game = people.game
    known = bool((people.adversary_actions[people.mask] >= 0).all())
    n = people.n_sequences
    if known:
        schedule = people.adversary_actions.clamp_min(0).repeat(replications, 1)
        adversary: Policy = ReplayedSchedule(game, schedule)
    else:
        adversary = baseline
    played = play_episodes(game, surrogate, adversary, n * replications,
                           generator=torch.Generator().manual_seed(seed))
    n_cues = len(game.spec.adversary_actions) if known else None
    human = behaviour(people.participant_actions, people.participant_rewards, people.adversary_actions,
                      people.mask, n_cues)
    simulated = behaviour(played.participant_actions, played.participant_rewards, played.adversary_actions,
                          played.active, n_cues)
    rng = np.random.default_rng(seed)
    rows = []
    for name, values in human.items():
        per_person = simulated[name].reshape(replications, n)
        with warnings.catch_warnings():  # a person whose simulations all leave it undefined
            warnings.simplefilter("ignore", RuntimeWarning)
            model_values = np.nanmean(per_person, axis=0)
        rows.append(StatisticRow(name, bootstrap(values, resamples, rng), bootstrap(model_values, resamples, rng),
                                 bootstrap_difference(model_values, values, known, resamples, rng)))
    return CheckResult("replayed" if known else adversary.name, tuple(rows), replications)
