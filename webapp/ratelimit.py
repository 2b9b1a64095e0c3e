"""Rate limits: hits counted per fixed window in the cache, and a token bucket per connection.

Counts live in Django's cache (settings.CACHES): Redis when REDIS_URL is set, so every worker adds
to the same count; the per-process memory cache otherwise, which is right for one process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


def exceeded(scope: str, key: str, *, limit: int, window_s: int) -> bool:
    """Count one hit of `key` (e.g. a client address) in `scope` and say whether the current window
    of `window_s` seconds has now had more than `limit` hits. False when the cache is unavailable:
    a limit is no reason to fail a request."""
    cache_key = _window_key(scope, key, window_s)
    try:
        cache.add(cache_key, 0, timeout=window_s)
        try:
            count = cache.incr(cache_key)
        except ValueError:  # evicted between add and incr: count afresh
            cache.set(cache_key, 1, timeout=window_s)
            count = 1
    except Exception:
        logger.warning("rate limit %s not counted: the cache is unavailable", scope, exc_info=True)
        return False
    return count > limit


async def aexceeded(scope: str, key: str, *, limit: int, window_s: int) -> bool:
    """`exceeded` for async code (the websocket consumer); the same counts."""
    cache_key = _window_key(scope, key, window_s)
    try:
        await cache.aadd(cache_key, 0, timeout=window_s)
        try:
            count = await cache.aincr(cache_key)
        except ValueError:
            await cache.aset(cache_key, 1, timeout=window_s)
            count = 1
    except Exception:
        logger.warning("rate limit %s not counted: the cache is unavailable", scope, exc_info=True)
        return False
    return count > limit


def seconds_left_in_window(window_s: int) -> int:
    """Seconds until the current window ends and its counts start afresh (for Retry-After)."""
    return int(window_s - time.time() % window_s) + 1


def _window_key(scope: str, key: str, window_s: int) -> str:
    # The window's number is part of the key, so a count can never outlive its window, even if the
    # cache lost its expiry time.
    return f"ratelimit:{scope}:{key}:{int(time.time() // window_s)}"


# Unknown participant tokens, on the participant page and the play websocket together, counted per
# client address: past the limit an unknown token is answered 429 (close 4429) instead of 404 (4404).
# A real token always gets in, even from that address: participants may share one with a scanner
# (a lab's or a campus's NAT). Tokens have 256 random bits; the limit tells scanners off, it is not
# what keeps tokens secret.

def unknown_token_exceeded(client: str) -> bool:
    return exceeded("unknown-token", client, limit=settings.SHAPING_LAB_UNKNOWN_TOKEN_LIMIT,
                    window_s=settings.SHAPING_LAB_UNKNOWN_TOKEN_WINDOW_S)


async def aunknown_token_exceeded(client: str) -> bool:
    return await aexceeded("unknown-token", client, limit=settings.SHAPING_LAB_UNKNOWN_TOKEN_LIMIT,
                           window_s=settings.SHAPING_LAB_UNKNOWN_TOKEN_WINDOW_S)


class TokenBucket:
    """At most `rate` events per second on average, with bursts of up to `burst`.

    The bucket holds up to `burst` tokens and refills at `rate` per second; each event takes one.
    In process memory: it limits one connection, which lives in one process.
    """

    def __init__(self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens = float(burst)
        self.refilled_at = clock()
        self.refused_in_a_row = 0

    def take(self) -> bool:
        """Take a token for one event: False (the event is refused) when the bucket is empty."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.refilled_at) * self.rate)
        self.refilled_at = now
        if self.tokens < 1:
            self.refused_in_a_row += 1
            return False
        self.tokens -= 1
        self.refused_in_a_row = 0
        return True
