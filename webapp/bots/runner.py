"""Running many bots: at most `concurrency` at a time on one event loop, and a summary.

    summary = await run_bots("http://127.0.0.1:8000", "demo-ipd", "q_learning", count=50,
                             concurrency=8, seed=1, learner_params={"alpha": [0.1, 0.5]})
    print(summary.report())

Each bot gets its own seed, derived from the run's seed and its index and recorded in its result,
so a run is reproducible on the bots' side (the adversaries' draws are seeded by the server).

A participant's condition is not public (people are blind to it), so bots cannot report it. The
summary's per-condition earnings need the conditions from the server's database, which a caller
that has it passes in (`BotsSummary.label_conditions`: the management command and the experiments,
with `studies.selectors.participant_conditions`); otherwise the condition shows as "unknown". The
bots themselves only speak HTTP and the websocket, and import no app of the server.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .bot import Bot, BotResult
from .player import ModelFactory

UNKNOWN_CONDITION = "unknown"


def bot_seed(run_seed: int, index: int) -> int:
    return (run_seed * 1_000_003 + index) % 2**63


def learner_factory(name: str, params: Mapping[str, Any] | None = None) -> ModelFactory:
    """Models for bots from shaping_core's synthetic learners. The name is checked now; the
    parameters when the first bot learns which game it plays (they may depend on it)."""
    from shaping_core.learners import LEARNERS, make_learner
    from shaping_core.participants import ParticipantParamsError

    if name not in LEARNERS:
        raise ParticipantParamsError(f"unknown learner {name!r}; expected one of {', '.join(LEARNERS)}")
    return lambda game: make_learner(name, game, dict(params) if params else None)


@dataclass
class BotsSummary:
    study_slug: str
    learner: str
    seed: int
    results: list[BotResult]
    seconds: float

    @property
    def completed(self) -> list[BotResult]:
        return [r for r in self.results if r.completed]

    @property
    def failed(self) -> list[BotResult]:
        return [r for r in self.results if not r.completed]

    @property
    def bots_per_second(self) -> float:
        return len(self.results) / self.seconds if self.seconds > 0 else 0.0

    def failure_reasons(self) -> Counter[str]:
        return Counter(r.reason for r in self.failed)

    @property
    def tokens(self) -> list[str]:
        """The participants' tokens, for looking their conditions up on the server."""
        return [r.token for r in self.results if r.token]

    def label_conditions(self, conditions: Mapping[str, str]) -> None:
        """Set each result's condition from {token: condition name} (the server's database)."""
        for r in self.results:
            r.condition = conditions.get(r.token, r.condition)

    def by_condition(self) -> dict[str, list[BotResult]]:
        groups: dict[str, list[BotResult]] = {}
        for r in self.completed:
            groups.setdefault(r.condition or UNKNOWN_CONDITION, []).append(r)
        return dict(sorted(groups.items()))

    def mean_points_by_condition(self) -> dict[str, float]:
        return {name: statistics.fmean(r.points for r in group) for name, group in self.by_condition().items()}

    def report(self) -> str:
        trials = sum(len(r.moves) for r in self.results)
        lines = [f"bots for {self.study_slug} ({self.learner}, seed {self.seed}): "
                 f"{len(self.completed)} completed, {len(self.failed)} failed, "
                 f"{self.seconds:.1f} s ({self.bots_per_second:.2f} bots/s, {trials} choices)"]
        for reason, n in self.failure_reasons().most_common():
            lines.append(f"  failed x{n}: {reason}")
        if self.completed:
            lines.append(f"  {'condition':<24} {'bots':>5} {'mean points':>12} {'mean total':>12}")
            for name, group in self.by_condition().items():
                total = sum(r.total for r in group) / len(group)
                lines.append(f"  {name:<24} {len(group):>5} {statistics.fmean(r.points for r in group):>12.2f} "
                             f"{total:>8.2f} {group[0].currency}")
        return "\n".join(lines)


async def run_bots(base_url: str, study_slug: str, learner: str, count: int, concurrency: int = 8,
                   seed: int | None = None, learner_params: Mapping[str, Any] | None = None, *,
                   label_prefix: str | None = None, progress: bool = False,
                   model_factory: ModelFactory | None = None) -> BotsSummary:
    """Run `count` bots on a study, at most `concurrency` at a time.

    `label_prefix` joins bot i as `?participant_label=<prefix><i>`, so running again with the
    same prefix resumes (or just re-reads) each bot's participation instead of adding people.
    `model_factory` replaces the named learner (a custom or fitted participant model); `learner`
    is then only the label in the summary.
    """
    if count < 0 or concurrency < 1:
        raise ValueError("count must be at least 0 and concurrency at least 1")
    factory = model_factory or learner_factory(learner, learner_params)
    seed = secrets.randbits(31) if seed is None else seed
    known_answers: dict[str, str] = {}  # comprehension answers learned by the run's bots
    results: list[BotResult | None] = [None] * count
    indices = iter(range(count))
    bar = _progress_bar(count, progress)
    started = time.perf_counter()

    async def worker():
        for index in indices:  # one iterator shared by the workers: each index runs once
            query = {"participant_label": f"{label_prefix}{index}"} if label_prefix is not None else None
            bot = Bot(base_url=base_url, study_slug=study_slug, model_factory=factory,
                      seed=bot_seed(seed, index), index=index, query=query, known_answers=known_answers)
            results[index] = await bot.run()
            if bar is not None:
                bar.update()
                if not results[index].completed:
                    bar.set_postfix(failed=sum(1 for r in results if r is not None and not r.completed))

    try:
        await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - started
    return BotsSummary(study_slug=study_slug, learner=learner, seed=seed, results=results, seconds=seconds)


def _progress_bar(count: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=count, unit="bot", file=sys.stderr, dynamic_ncols=True)
