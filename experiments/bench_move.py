"""What one move costs the server, without websockets: where a load test's time goes.

    DATABASE_URL=postgres://... .venv/bin/python experiments/bench_move.py --study demo-bandit \
        [--condition random-schedule] [--moves 60] [--repeats 5] [--out out/bench_move]

Joins a new participant to the (live) study on this process's database, takes it to the game, and
records --moves choices through `webapp.play.services.trial_submit`, the function the websocket
consumer runs for every choice, --repeats times (a new participant each time). Prints and writes
to --out (config.json, metrics.json, bench_move.png): milliseconds per move (median over repeats,
and the spread), this process's CPU milliseconds per move (the worker's share of a move; the
database's own work is not in it), SQL statements per move, the median time of each kind of statement, and the
time of the adversary's and the rules' own work (`LiveGame.decide` and `LiveGame.advance`).

Leaves the participants it made in the database (they are ordinary participants of the study).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

from shaping_core.arguments import positive  # noqa: E402

TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", required=True, help="a live study's slug")
    parser.add_argument("--condition", help="play only this condition (default: whichever the join assigns)")
    parser.add_argument("--moves", type=positive, default=60)
    parser.add_argument("--repeats", type=positive, default=5)
    parser.add_argument("--out", type=Path, default=Path("out/bench_move"))
    args = parser.parse_args(argv)

    import django

    django.setup()
    import torch
    from django.conf import settings
    from django.db import connection

    from webapp.play import engine, services
    from webapp.studies.models import Study
    from webapp.studies.services import (ExternalIds, participant_answer_comprehension, participant_consent,
                                         participant_join)

    torch.set_num_threads(1)  # as in a worker
    study = Study.objects.filter(slug=args.study).first()
    if study is None or study.status != Study.Status.LIVE:
        parser.error(f"no live study {args.study!r} in {settings.DATABASES['default']['NAME']}")
    if args.condition and not study.conditions.filter(name=args.condition).exists():
        parser.error(f"study {args.study!r} has no condition {args.condition!r}")

    def new_player():
        for _ in range(200):
            participant, _ = participant_join(study=study, external=ExternalIds())
            if args.condition is None or participant.condition.name == args.condition:
                break
        participant_consent(participant=participant, agreed=True)
        answers = {i: q["answer"] for i, q in enumerate(study.comprehension_questions)}
        participant_answer_comprehension(participant=participant, answers=answers)
        participant.refresh_from_db()
        return participant

    statements: dict[str, list[float]] = defaultdict(list)
    game_work: dict[str, list[float]] = defaultdict(list)

    def timed_statement(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = sql.split(None, 1)[0].upper()
            if kind not in TRANSACTION_CONTROL:  # SQLite's BEGIN shows here, PostgreSQL's does not
                statements[kind].append((time.perf_counter() - started) * 1000)

    def timed(name, method):
        def wrapper(*a, **k):
            started = time.perf_counter()
            try:
                return method(*a, **k)
            finally:
                game_work[name].append((time.perf_counter() - started) * 1000)
        return wrapper

    engine.LiveGame.decide = timed("LiveGame.decide", engine.LiveGame.decide)
    engine.LiveGame.advance = timed("LiveGame.advance", engine.LiveGame.advance)

    per_move, cpu_per_move, counts = [], [], []
    for _ in range(args.repeats):
        participant = new_player()
        live = services.play_start(participant=participant)
        moves = min(args.moves, participant.episode_length)
        before = sum(len(v) for v in statements.values())
        with connection.execute_wrapper(timed_statement):
            started, cpu_started = time.perf_counter(), time.process_time()
            for trial in range(moves):
                action = trial % len(live.game.spec.participant_actions)
                live = services.trial_submit(participant=participant, live=live, trial_index=trial,
                                             action=action, reaction_time_ms=500.0).live
            per_move.append((time.perf_counter() - started) * 1000 / moves)
            cpu_per_move.append((time.process_time() - cpu_started) * 1000 / moves)
        counts.append((sum(len(v) for v in statements.values()) - before) / moves)

    metrics = {
        "ms_per_move": {"median": round(statistics.median(per_move), 3), "min": round(min(per_move), 3),
                        "max": round(max(per_move), 3), "runs": [round(x, 3) for x in per_move]},
        # This process's CPU time: what a worker spends per move, without waiting for the database.
        "cpu_ms_per_move": {"median": round(statistics.median(cpu_per_move), 3),
                            "runs": [round(x, 3) for x in cpu_per_move]},
        "sql_statements_per_move": round(statistics.fmean(counts), 2),  # transaction control not counted
        "statement_ms_median": {k: round(statistics.median(v), 3) for k, v in sorted(statements.items())},
        "statements_per_move_by_kind": {k: round(len(v) / (args.moves * args.repeats), 2)
                                        for k, v in sorted(statements.items())},
        "game_ms_median": {k: round(statistics.median(v), 3) for k, v in sorted(game_work.items())},
    }
    config = {**{k: str(v) for k, v in vars(args).items()}, "database": settings.DATABASES["default"]["ENGINE"],
              "pool": bool(settings.DATABASES["default"].get("OPTIONS", {}).get("pool")),
              "python": platform.python_version(), "cpus": os.cpu_count()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "config.json").write_text(json.dumps(config, indent=2))
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    _plot(metrics, args.out / "bench_move.png")
    m = metrics["ms_per_move"]
    print(f"{m['median']:.2f} ms per move (median of {args.repeats} runs of {args.moves}; "
          f"min {m['min']:.2f}, max {m['max']:.2f}); {metrics['cpu_ms_per_move']['median']:.2f} ms of CPU per move; "
          f"{metrics['sql_statements_per_move']:g} SQL statements per move")
    for kind, ms in metrics["statement_ms_median"].items():
        print(f"  {kind:<8} {metrics['statements_per_move_by_kind'][kind]:g} per move, median {ms:.2f} ms")
    for name, ms in metrics["game_ms_median"].items():
        print(f"  {name:<17} median {ms:.3f} ms")
    print(json.dumps(metrics))
    return metrics


def _plot(metrics: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = {f"{k} ×{metrics['statements_per_move_by_kind'][k]:g}":
             ms * metrics["statements_per_move_by_kind"][k] for k, ms in metrics["statement_ms_median"].items()}
    parts.update(metrics["game_ms_median"])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.barh(list(parts), list(parts.values()))
    ax.axvline(metrics["ms_per_move"]["median"], color="black", lw=1, label="whole move (median)")
    ax.set(xlabel="milliseconds per move (medians)", title="Where one move's time goes (server side)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
