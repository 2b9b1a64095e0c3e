"""Faults during a study, on the production server with PostgreSQL and Redis: a worker killed, the
database or Redis briefly away. Bots (webapp.bots) play through the public pages and websocket as
browsers do, with play.js's recovery (reconnect with back-off, resend the waiting choice when the
fresh state says it is still open). Every bot must finish, and the database must hold exactly the
choices each bot made: none lost, none twice, each trial's rewards what the rules give.
"""

import asyncio
import json
import os
import signal
import time

import pytest

from helpers import LiveServer
from tcp_proxy import TcpProxy
from webapp.bots.bot import Bot
from webapp.bots.runner import learner_factory

pytestmark = pytest.mark.slow

STUDY = "fault-bandit"
TRIALS = 40
BOTS = 12
PACE_S = 0.1  # a pause after each choice (within the flood limit), so that the fault lands mid-game
OUTAGE_S = 2.0  # how long a service is away, at least
OUTAGE_MAX_S = 10.0  # ... and at most, while waiting for the server to try it
SETUP = f"""
from webapp.studies.models import Condition, Study
from webapp.studies.services import study_set_status
study = Study(name="Faults", slug="{STUDY}", game="bandit",
              game_params={{"trials": {TRIALS}, "rewards_per_option": 10}})
study.full_clean(); study.save()
Condition.objects.create(study=study, name="random", adversary="random_schedule")
study_set_status(study=study, action="launch")
"""
# Prints every participant's stored trials; live_game_load replays them through the rules and
# raises if a stored reward differs from what the rules give.
CHECK = f"""
import json
from webapp.play.services import live_game_load
from webapp.studies.models import Participant
games = {{}}
for p in Participant.objects.filter(study__slug="{STUDY}").select_related("study", "condition"):
    live_game_load(participant=p)
    rows = list(p.trials.order_by("index").values_list("index", "participant_action"))
    games[p.token] = {{"status": p.status, "length": p.episode_length,
                      "indexes": [i for i, _ in rows], "actions": [a for _, a in rows]}}
print(json.dumps(games))
"""


class PacedBot(Bot):
    """A bot that takes a moment over each choice."""

    async def _sent(self, ws, message):
        await asyncio.sleep(PACE_S)


async def play_with_fault(server: LiveServer, fault) -> list:
    """Start the bots; once they are all well into their games, run `fault()`; wait for them."""
    bots = [PacedBot(base_url=server.base_url, study_slug=STUDY, model_factory=learner_factory("q_learning"),
                     seed=index, index=index) for index in range(BOTS)]
    playing = [asyncio.create_task(bot.run()) for bot in bots]
    deadline = time.monotonic() + 60
    while sum(len(bot.player.moves) for bot in bots) < BOTS * TRIALS // 5:
        assert time.monotonic() < deadline, "the bots did not get going"
        assert not any(task.done() for task in playing), [task.result() for task in playing if task.done()]
        await asyncio.sleep(0.05)
    await fault()
    return await asyncio.gather(*playing)


def assert_nothing_lost(server: LiveServer, results) -> None:
    failed = [(r.index, r.reason) for r in results if not r.completed]
    assert not failed, f"bots that did not finish: {failed}\nserver log:\n{server.log()[-3000:]}"
    stored = json.loads(server.manage_ok("shell", "-c", CHECK).strip().splitlines()[-1])
    assert len(stored) == BOTS
    for result in results:
        game = stored[result.token]
        assert game["status"] == "completed"
        assert game["indexes"] == list(range(game["length"])), "one row per trial, no gaps"
        assert game["actions"] == [move.action for move in result.moves], f"bot {result.index}: stored ≠ chosen"
        assert result.tally == result.points  # what the results said adds up to the debrief
    log = server.log()
    assert "WSCONNECT /ws/play/<token>/" in log, "the access log is on"
    assert not [r.index for r in results if r.token in log], "the access log shows participant tokens"


def _socket_count(pid: int) -> int:
    fds = f"/proc/{pid}/fd"
    return sum(os.readlink(f"{fds}/{fd}").startswith("socket:") for fd in os.listdir(fds))


async def test_killing_a_worker_mid_study_loses_nothing(tmp_path, postgres_url, redis_url):
    server = LiveServer(tmp_path, workers=2, database_url=postgres_url, redis_url=redis_url).start(setup=SETUP)
    try:
        workers = server.worker_pids()
        assert len(workers) == 2
        killed = []

        async def kill_the_busiest_worker():
            # By its process id, never by name: the one holding the most connections.
            pid = max(workers, key=_socket_count)
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

        results = await play_with_fault(server, kill_the_busiest_worker)
        assert_nothing_lost(server, results)
        assert sum(r.reconnects for r in results) >= 1, "the killed worker held none of the games"
        replaced = server.worker_pids()
        assert len(replaced) == 2 and killed[0] not in replaced, "the supervisor restarts a dead worker"
    finally:
        server.stop()


@pytest.mark.parametrize("service", ["database", "redis"])
async def test_a_service_briefly_away_loses_nothing(tmp_path, postgres_url, redis_url, service):
    urls = {"database_url": postgres_url, "redis_url": redis_url}
    away = "database_url" if service == "database" else "redis_url"
    with TcpProxy(urls[away]) as proxy:
        server = LiveServer(tmp_path, workers=2, **{**urls, away: proxy.url}).start(setup=SETUP)
        try:
            seen = {}

            async def outage():
                proxy.cut()
                started = time.monotonic()
                seen["severed"] = proxy.severed
                # Away for OUTAGE_S, and in any case until the server has tried to reach the service
                # while it was away (bounded, so a server that never tries fails the test below).
                await proxy.refusal(timeout=OUTAGE_MAX_S)
                await asyncio.sleep(OUTAGE_S - (time.monotonic() - started))
                seen["refused"] = proxy.refused
                proxy.restore()

            results = await play_with_fault(server, outage)
            assert_nothing_lost(server, results)
            # That the outage happened to the server is counted where it happened, at the proxy:
            # it broke connections the server held, and refused the server while away.
            assert seen["severed"] >= 1, f"the cut broke none of the server's {service} connections"
            assert seen["refused"] >= 1, f"the server did not try the {service} while it was away"
            if service == "redis":
                # Every open websocket listens on Redis, so the cut closes them all: the bots resend.
                assert sum(r.reconnects for r in results) >= 1, "no bot noticed the outage"
            # Bots need not notice the database's: the connection pool waits out a short outage
            # (DJANGO_DB_POOL_TIMEOUT), and only a query running at the cut gets server_error.
        finally:
            server.stop()
