"""Rate limits (webapp/ratelimit.py): the counter shared through the cache, the per-connection
token bucket, and a play websocket flooded with messages."""

import asyncio
import functools
import json
from types import SimpleNamespace

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async

from helpers import choose, connect, make_player, make_study
from webapp import ratelimit
from webapp.bots import bot as bot_module
from webapp.bots import learner_factory
from webapp.play.models import Trial


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- the counter -----------------------------------------------------------------------------------

def test_the_counter_allows_the_limit_then_says_exceeded():
    hits = [ratelimit.exceeded("test", "10.0.0.1", limit=3, window_s=60) for _ in range(5)]
    assert hits == [False, False, False, True, True]
    assert not ratelimit.exceeded("test", "10.0.0.2", limit=3, window_s=60)  # another key
    assert not ratelimit.exceeded("other", "10.0.0.1", limit=3, window_s=60)  # another scope


def test_the_counter_starts_afresh_in_the_next_window(monkeypatch):
    clock = FakeClock(6000.0)
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=clock))
    assert [ratelimit.exceeded("test", "a", limit=1, window_s=60) for _ in range(2)] == [False, True]
    clock.now += 59
    assert ratelimit.exceeded("test", "a", limit=1, window_s=60)
    clock.now += 1
    assert [ratelimit.exceeded("test", "a", limit=1, window_s=60) for _ in range(2)] == [False, True]


async def test_the_async_counter_shares_the_counts():
    for _ in range(2):
        assert not await sync_to_async(ratelimit.exceeded)("test", "a", limit=3, window_s=60)
    assert [await ratelimit.aexceeded("test", "a", limit=3, window_s=60) for _ in range(2)] == [False, True]
    assert await sync_to_async(ratelimit.exceeded)("test", "a", limit=3, window_s=60)


class UnavailableCache:
    """A cache whose server is away (Redis down): every call fails."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("the cache server is away")
        return fail


async def test_without_the_cache_nothing_is_counted_and_nothing_fails(monkeypatch):
    monkeypatch.setattr(ratelimit, "cache", UnavailableCache())
    assert not await sync_to_async(ratelimit.exceeded)("test", "a", limit=0, window_s=60)
    assert not await ratelimit.aexceeded("test", "a", limit=0, window_s=60)


# --- the token bucket ------------------------------------------------------------------------------

def test_a_bucket_allows_a_burst_then_the_rate():
    clock = FakeClock()
    bucket = ratelimit.TokenBucket(rate=4, burst=3, clock=clock)  # times in binary fractions: exact
    assert [bucket.take() for _ in range(5)] == [True, True, True, False, False]
    assert bucket.refused_in_a_row == 2
    clock.now += 0.125  # half a token
    assert not bucket.take() and bucket.refused_in_a_row == 3
    clock.now += 0.125
    assert bucket.take() and bucket.refused_in_a_row == 0
    assert not bucket.take()


def test_a_bucket_never_holds_more_than_the_burst():
    clock = FakeClock()
    bucket = ratelimit.TokenBucket(rate=4, burst=3, clock=clock)
    clock.now += 3600
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    for _ in range(20):  # a steady 4 a second is always allowed
        clock.now += 0.25
        assert bucket.take()


# --- flooding the play websocket -------------------------------------------------------------------

db = database_sync_to_async


@pytest.fixture
def tight_limits(settings):
    """Three messages, no refill within a test, the fifth refusal in a row closes."""
    settings.SHAPING_LAB_WS_MESSAGES_PER_S = 1e-6
    settings.SHAPING_LAB_WS_MESSAGE_BURST = 3
    settings.SHAPING_LAB_WS_REFUSED_BEFORE_CLOSE = 5
    return settings


def completed_trials(participant) -> list[int]:
    return list(Trial.objects.filter(participant=participant, participant_action__isnull=False)
                .values_list("index", flat=True))


@pytest.mark.django_db(transaction=True)
async def test_a_flood_is_dropped_then_cut_off_and_other_connections_play_on(tight_limits):
    study = await db(make_study)("ipd")
    flooder, neighbour = await db(make_player)(study), await db(make_player)(study)
    flooding, _ = await connect(flooder.token)

    assert (await choose(flooding, 0, "C"))["type"] == "result"
    await flooding.send_to(bytes_data=b"\x00")  # garbage counts too
    assert (await flooding.receive_json_from(timeout=5))["code"] == "bad_json"
    await flooding.send_json_to({"type": "sync"})
    assert (await flooding.receive_json_from(timeout=5))["type"] == "state"
    for _ in range(4):  # over the burst: refused unread, the game untouched
        refused = await choose(flooding, 1, "D")
        assert refused == {"type": "error", "code": "rate_limited", "message": refused["message"],
                           "expected_trial": None}
    assert await db(completed_trials)(flooder) == [0]

    neighbouring, state = await connect(neighbour.token)  # its own allowance
    assert state["trial"] == 0 and (await choose(neighbouring, 0, "D"))["type"] == "result"

    await flooding.send_json_to({"type": "sync"})  # the fifth refusal in a row
    assert await flooding.receive_output(timeout=5) == {"type": "websocket.close", "code": 4429}
    assert await db(completed_trials)(flooder) == [0]

    assert (await choose(neighbouring, 1, "C"))["type"] == "result"
    again, state = await connect(flooder.token)  # a new connection starts with a full allowance
    assert state["trial"] == 1 and (await choose(again, 1, "D"))["duplicate"] is False
    assert await db(completed_trials)(flooder) == [0, 1]
    for communicator in (flooding, neighbouring, again):
        await communicator.disconnect()


class CommunicatorSocket:
    """The two calls a bot makes on its websocket, over a WebsocketCommunicator."""

    def __init__(self, communicator):
        self.communicator, self.received = communicator, []

    async def recv(self) -> str:
        text = await self.communicator.receive_from(timeout=5)
        self.received.append(json.loads(text))
        return text

    async def send(self, text: str) -> None:
        await self.communicator.send_to(text_data=text)


@pytest.mark.django_db(transaction=True)
async def test_a_bot_slowed_down_by_the_limit_resends_and_finishes(settings, monkeypatch):
    # The server's allowance refills only while the bot pauses (on a clock of the test's), so the
    # limit bites at the same messages however fast the machine is.
    clock = FakeClock()

    async def pause(seconds):
        clock.now += seconds
        await asyncio.sleep(0)

    monkeypatch.setattr(ratelimit, "TokenBucket", functools.partial(ratelimit.TokenBucket, clock=clock))
    monkeypatch.setattr(bot_module, "asyncio", SimpleNamespace(sleep=pause, wait_for=asyncio.wait_for))
    settings.SHAPING_LAB_WS_MESSAGE_BURST = 2
    settings.SHAPING_LAB_WS_REFUSED_BEFORE_CLOSE = 2  # a bot that resends without a pause is cut off
    study = await db(make_study)("bandit")
    participant = await db(make_player)(study)
    communicator, _ = await connect(participant.token, expect_state=False)
    socket = CommunicatorSocket(communicator)
    bot = bot_module.Bot(base_url="http://testserver", study_slug=study.slug,
                         model_factory=learner_factory("q_learning"), seed=3)
    await bot._exchange(socket)
    await communicator.disconnect()

    assert bot.player.done
    assert [m.get("code") for m in socket.received if m["type"] == "error"] == ["rate_limited"] * 5
    assert await db(completed_trials)(participant) == list(range(participant.episode_length))
