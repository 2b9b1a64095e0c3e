import uuid

import pytest


@pytest.fixture(autouse=True)
def fresh_rate_limit_counts(settings):
    """Each test counts rate-limited hits (webapp/ratelimit.py) from zero: with REDIS_URL the cache
    outlives tests and whole runs, and a count left by one test would turn another's 404 into 429."""
    settings.CACHES = {name: {**config, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
                       for name, config in settings.CACHES.items()}
