"""Load test: many bot participants at once through the real join flow and websocket protocol.

    .venv/bin/python experiments/load_test.py --base-url http://127.0.0.1:8000 --study demo-bandit \
        --participants 1000 --rate 1 --duration 60 [--ramp 60] [--out out/load_test] [--seed 0]

Each virtual participant joins the study's public link, consents and passes the comprehension
check over HTTP (webapp.bots: CSRF, Origin, the pages a browser gets), opens the play websocket
and sends one choice every 1/--rate seconds (a fixed schedule with a random phase; a move whose
result is late goes out as soon as the result arrives, never in a burst to catch up). A
synthetic learner (--learner) picks the choices. A participant whose game ends joins again as a
new participant, so the load stays at --participants until the end. Joins are spread evenly over
--ramp seconds. The steady part starts when every participant has joined (or at the end of the
ramp, if later) and lasts --duration seconds; then everyone stops.

Printed, and written to --out (config.json, metrics.json, load_test.png):
  - moves sent and acknowledged (a `result`, first or duplicate), errors by code, reconnects;
  - p50/p95/p99/max of the time from sending a choice to receiving its result, over the whole
    run and over the steady part, and per second in the figure;
  - joins: how many, failures, p50/p95 of the time to reach the game page, and when all were in;
  - lost or duplicated trials: what the clients were acknowledged is compared with what the
    database holds. This reads the database through Django with this process's environment
    (DATABASE_URL), so run it with the server's settings, or pass --no-db-check;
  - the CPU seconds this load generator used (it shares the machine with the server).

Lost: a trial acknowledged to the client that the database lacks, or stores with another choice or
reward. Duplicated: more than one stored row for one trial of one participant, or a stored choice
the client never sent. In flight: sent and stored, but the run ended before the result arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import websockets
from websockets.asyncio.client import connect as ws_connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from webapp.bots.bot import Bot, BotFailed  # noqa: E402
from webapp.bots.player import Player  # noqa: E402
from webapp.bots.runner import bot_seed, learner_factory  # noqa: E402

JOIN_GRACE_S = 300.0  # longest wait for the last participant to join before the steady part starts anyway
RESULT_TIMEOUT_S = 15.0  # as play.js: no answer for this long, the socket is taken for dead
BACKOFF_S = (0.25, 0.5, 1.0, 2.0, 4.0)
RATE_LIMITED_PAUSE_S = 0.2  # after a `rate_limited` error (only above --rate 10: the server's limit)


@dataclass
class Participation:
    """What one client knows of one participant: its choices and the results it was given."""

    token: str
    sent: dict[int, int] = field(default_factory=dict)  # trial -> action index
    acked: dict[int, float] = field(default_factory=dict)  # trial -> points in the result


@dataclass
class Run:
    started: float
    steady_from: float
    ends: float
    participants: int
    joined: int = 0  # participants who have reached their first game
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (sent at, seconds)
    join_seconds: list[float] = field(default_factory=list)
    join_failures: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    disconnects: Counter = field(default_factory=Counter)
    participations: list[Participation] = field(default_factory=list)
    moves_sent: int = 0
    moves_acked: int = 0

    def first_joined(self, duration: float) -> None:
        """One more participant is in; when all are, the steady part starts (not before the end of
        the ramp) and the end of the run is set."""
        self.joined += 1
        if self.joined == self.participants:
            self.steady_from = max(self.steady_from, time.perf_counter())
            self.ends = self.steady_from + duration


# --- one virtual participant ------------------------------------------------------------------


async def virtual_participant(index: int, args, run: Run, transport: httpx.AsyncHTTPTransport,
                              known_answers: dict[str, str]) -> None:
    jitter = random.Random(bot_seed(args.seed, index))
    await asyncio.sleep(args.ramp * index / max(1, args.participants))
    visit = 0
    while time.perf_counter() < run.ends:
        bot = Bot(base_url=args.base_url, study_slug=args.study, model_factory=args.model_factory,
                  seed=bot_seed(args.seed, index * 1000 + visit), index=index, known_answers=known_answers)
        visit += 1
        joined_at = time.perf_counter()
        # Not closed after use: closing a client closes its transport, shared by all participants.
        http = httpx.AsyncClient(transport=transport, follow_redirects=True, timeout=30.0,
                                 headers={"User-Agent": "ShapingLab-load-test"})
        try:
            page = await bot.reach_game(http)
        except (BotFailed, httpx.HTTPError) as error:
            run.join_failures[f"{type(error).__name__}: {str(error)[:80]}"] += 1
            await asyncio.sleep(1.0)
            continue
        run.join_seconds.append(time.perf_counter() - joined_at)
        if visit == 1:
            run.first_joined(args.duration)
        if page.kind != "play":
            continue
        participation = Participation(token=bot.result.token)
        run.participations.append(participation)
        await play(bot, page.ws_path, participation, run, args.rate, jitter)


async def play(bot: Bot, ws_path: str, participation: Participation, run: Run, rate: float,
               jitter: random.Random) -> None:
    player: Player = bot.player
    interval = 1.0 / rate
    next_move_at = time.perf_counter() + jitter.random() * interval
    failures = 0
    while not player.done and time.perf_counter() < run.ends:
        if failures:
            await asyncio.sleep(BACKOFF_S[min(failures, len(BACKOFF_S)) - 1] * (0.8 + 0.4 * jitter.random()))
        try:
            async with ws_connect(f"{bot.ws_origin}{ws_path}", origin=bot.origin, proxy=None,
                                  open_timeout=30, close_timeout=2, compression=None) as ws:
                outgoing = player.on_state(await _receive(ws, "state"))
                while outgoing is not None:
                    if outgoing["type"] == "choice":
                        delay = next_move_at - time.perf_counter()
                        if delay > 0:
                            await asyncio.sleep(delay)
                        if time.perf_counter() >= run.ends:
                            return
                        next_move_at = max(next_move_at + interval, time.perf_counter())
                        participation.sent.setdefault(outgoing["trial"], player.moves[outgoing["trial"]].action)
                        run.moves_sent += 1
                    sent_at = time.perf_counter()
                    await ws.send(json.dumps(outgoing))
                    reply = await _receive(ws)
                    outgoing = _answer(reply, outgoing, sent_at, player, participation, run)
                    if reply.get("code") == "rate_limited":
                        await asyncio.sleep(RATE_LIMITED_PAUSE_S)
                    if reply["type"] == "result":
                        failures = 0
        except _Retry as retry:
            run.disconnects[retry.reason] += 1
        except websockets.ConnectionClosed as closed:
            run.disconnects[f"closed ({closed.rcvd.code if closed.rcvd else None})"] += 1
        except (OSError, TimeoutError, websockets.InvalidHandshake) as error:
            run.disconnects[type(error).__name__] += 1
        failures += 1


class _Retry(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _answer(reply: dict[str, Any], outgoing: dict[str, Any], sent_at: float, player: Player,
            participation: Participation, run: Run) -> dict[str, Any] | None:
    """The next message to send after `reply`, recording what it tells."""
    if reply["type"] == "result":
        run.moves_acked += 1
        run.latencies.append((sent_at - run.started, time.perf_counter() - sent_at))
        participation.acked[reply["trial"]] = float(reply["feedback"]["points"])
        return player.on_result(reply)
    if reply["type"] == "state":
        return player.on_state(reply)
    run.errors[reply.get("code")] += 1
    if reply.get("code") == "server_error":
        raise _Retry("server_error")  # reconnect after a back-off; the state says what to resend
    if reply.get("code") == "rate_limited":
        return outgoing  # dropped unread: resent after the pause the caller takes
    return {"type": "sync"}


async def _receive(ws, expected: str | None = None) -> dict[str, Any]:
    try:
        message = json.loads(await asyncio.wait_for(ws.recv(), RESULT_TIMEOUT_S))
    except TimeoutError:
        raise _Retry(f"no message for {RESULT_TIMEOUT_S:g} s") from None
    if expected and message.get("type") != expected:
        raise _Retry(f"expected {expected}, got {message.get('type')}")
    return message


# --- the database check -------------------------------------------------------------------------


def check_database(participations: list[Participation]) -> dict[str, int]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from webapp.play.models import Trial

    by_token = {p.token: p for p in participations}
    rows = (Trial.objects.filter(participant__token__in=list(by_token), participant_action__isnull=False)
            .values_list("participant__token", "index", "participant_action", "participant_reward"))
    stored: dict[str, dict[int, list[tuple[int, float]]]] = {}
    for token, index, action, reward in rows.iterator(chunk_size=5000):
        stored.setdefault(token, {}).setdefault(index, []).append((action, reward))
    counts = Counter()
    for token, participation in by_token.items():
        trials = stored.get(token, {})
        for index, points in participation.acked.items():
            rows_here = trials.get(index, [])
            if not rows_here or rows_here[0] != (participation.sent.get(index), points):
                counts["lost"] += 1
        for index, rows_here in trials.items():
            counts["stored"] += 1
            if len(rows_here) > 1 or rows_here[0][0] != participation.sent.get(index):
                counts["duplicated"] += 1
            elif index not in participation.acked:
                counts["in_flight"] += 1
        counts["acknowledged"] += len(participation.acked)
    return {key: counts[key] for key in ("acknowledged", "stored", "lost", "duplicated", "in_flight")}


# --- the report ---------------------------------------------------------------------------------


def percentiles_ms(seconds: list[float]) -> dict[str, float | None]:
    if not seconds:
        return {"p50": None, "p95": None, "p99": None, "max": None, "n": 0}
    values = np.asarray(seconds) * 1000
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2), "p99": round(float(p99), 2),
            "max": round(float(values.max()), 2), "n": int(values.size)}


def metrics_of(run: Run, args, wall_s: float, cpu_s: float, database: dict[str, int] | None) -> dict:
    steady_start = run.steady_from - run.started
    steady = [lat for at, lat in run.latencies if at >= steady_start]
    steady_s = max(1e-9, run.ends - run.steady_from)
    return {
        "moves_sent": run.moves_sent,
        "moves_acknowledged": run.moves_acked,
        "moves_per_second_steady": round(len(steady) / steady_s, 1),
        "moves_per_second_overall": round(run.moves_acked / max(1e-9, wall_s), 1),
        "latency_ms": percentiles_ms([lat for _, lat in run.latencies]),
        "latency_ms_steady": percentiles_ms(steady),
        "errors": dict(run.errors),
        "disconnects": dict(run.disconnects),
        "all_joined_after_s": round(run.steady_from - run.started, 1) if run.joined == run.participants else None,
        "joins": len(run.join_seconds),
        "join_failures": dict(run.join_failures),
        "join_ms": percentiles_ms(run.join_seconds),
        "participations": len(run.participations),
        "database": database,
        "wall_seconds": round(wall_s, 1),
        "load_generator_cpu_seconds": round(cpu_s, 1),
    }


def plot(run: Run, metrics: dict, args, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (over_time, histogram) = plt.subplots(1, 2, figsize=(11, 4))
    if run.latencies:
        at = np.array([a for a, _ in run.latencies])
        ms = np.array([lat for _, lat in run.latencies]) * 1000
        seconds = np.floor(at).astype(int)
        buckets = np.unique(seconds)
        for q, style in ((50, "-"), (95, "--"), (99, ":")):
            over_time.plot(buckets, [np.percentile(ms[seconds == s], q) for s in buckets], style, label=f"p{q}")
        over_time.axvline(run.steady_from - run.started, color="grey", lw=0.8, label="steady part starts")
        over_time.set(xlabel="seconds since start", ylabel="choice → result (ms)", yscale="log")
        over_time.legend()
        histogram.hist(ms, bins=np.logspace(np.log10(max(ms.min(), 0.1)), np.log10(ms.max() + 1), 50))
        histogram.set(xscale="log", xlabel="choice → result (ms)", ylabel="moves")
    fig.suptitle(f"{args.participants} participants × {args.rate:g} moves/s on {args.study} "
                 f"({metrics['moves_per_second_steady']:g} moves/s acknowledged in the steady part)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    return 0.0 if text.strip() in ("0", "0.0") else _positive_float(text)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True, help="the server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--study", default="demo-bandit", help="the live study's slug (default demo-bandit)")
    parser.add_argument("--participants", type=_positive_int, required=True, help="concurrent participants")
    parser.add_argument("--rate", type=_positive_float, default=1.0, help="moves per second per participant")
    parser.add_argument("--duration", type=_positive_float, required=True,
                        help="seconds of steady play, once everyone has joined")
    parser.add_argument("--ramp", type=_non_negative_float, default=None,
                        help="seconds over which the joins are spread (default: participants / 20)")
    parser.add_argument("--learner", default="q_learning", help="the bots' synthetic learner")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("out/load_test"))
    parser.add_argument("--no-db-check", action="store_true", help="skip the database comparison")
    args = parser.parse_args(argv)
    parts = urlsplit(args.base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        parser.error(f"--base-url must be http(s)://HOST[:PORT], got {args.base_url!r}")
    if args.ramp is None:
        args.ramp = args.participants / 20
    return args


async def load(args) -> tuple[Run, float]:
    started = time.perf_counter()
    # Until everyone has joined, the run may last up to JOIN_GRACE_S past the ramp.
    run = Run(started=started, steady_from=started + args.ramp,
              ends=started + args.ramp + JOIN_GRACE_S + args.duration, participants=args.participants)
    # One connection pool for every participant's HTTP (each has its own cookies): creating a
    # client's TLS context per participant costs more CPU than its whole join.
    transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=100, max_keepalive_connections=100))
    known_answers: dict[str, str] = {}
    async with transport:
        await asyncio.gather(*(virtual_participant(i, args, run, transport, known_answers)
                               for i in range(args.participants)))
    return run, time.perf_counter() - started


def main(argv=None) -> dict:
    args = parse_args(argv)
    args.model_factory = learner_factory(args.learner)
    args.out.mkdir(parents=True, exist_ok=True)
    config = {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(args).items()
              if key != "model_factory"}
    config.update(python=platform.python_version(), machine=platform.machine(), cpus=os.cpu_count(),
                  command=" ".join([Path(sys.executable).name, *sys.argv]))
    (args.out / "config.json").write_text(json.dumps(config, indent=2))
    print(f"load test: {args.participants} participants × {args.rate:g} moves/s, ramp {args.ramp:g} s, "
          f"then {args.duration:g} s, against {args.base_url}/s/{args.study}/", flush=True)

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    run, wall_s = asyncio.run(load(args))
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    database = None if args.no_db_check else check_database(run.participations)
    metrics = metrics_of(run, args, wall_s, cpu_s, database)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot(run, metrics, args, args.out / "load_test.png")

    steady = metrics["latency_ms_steady"]
    print(f"moves sent {metrics['moves_sent']}, acknowledged {metrics['moves_acknowledged']} "
          f"({metrics['moves_per_second_steady']:g}/s in the steady part, {metrics['moves_per_second_overall']:g}/s "
          f"over the whole run)")
    print(f"choice → result in the steady part: p50 {steady['p50']} ms, p95 {steady['p95']} ms, "
          f"p99 {steady['p99']} ms, max {steady['max']} ms (n={steady['n']})")
    print(f"errors {metrics['errors'] or 0}; disconnects {metrics['disconnects'] or 0}")
    print(f"all {args.participants} participants in after {metrics['all_joined_after_s']} s; "
          f"joins {metrics['joins']} (p50 {metrics['join_ms']['p50']} ms, p95 {metrics['join_ms']['p95']} ms), "
          f"failed {sum(metrics['join_failures'].values())} {metrics['join_failures'] or ''}")
    if database is not None:
        print(f"database: {database['stored']} trials stored, {database['lost']} lost, "
              f"{database['duplicated']} duplicated, {database['in_flight']} in flight at the end")
    print(f"load generator: {cpu_s:.1f} CPU s in {wall_s:.1f} s; written to {args.out}")
    print(json.dumps(metrics))
    return metrics


if __name__ == "__main__":
    main()
