import os
import secrets
from urllib.parse import urlsplit, urlunsplit

import pytest
import torch

from helpers import make_player, make_study


def pytest_report_header(config):
    """Say which backends this run uses: CI runs the suite on SQLite and on PostgreSQL + Redis."""
    from django.conf import settings

    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    return f"shaping lab backends: database {database}, channel layer {layer}"


@pytest.fixture(autouse=True)
def _solved_optima_in_a_temporary_cache(tmp_path_factory, monkeypatch):
    """Solved optima (shaping_core/optimum.py) are cached under the user's home; tests write theirs
    to a folder of the test session instead."""
    monkeypatch.setenv("SHAPING_CORE_CACHE", str(tmp_path_factory.getbasetemp() / "shaping_core_cache"))


@pytest.fixture(autouse=True)
def _a_channel_layer_of_the_tests_own():
    """Every test starts with new channel layers. pytest-asyncio gives each test its own event loop,
    and channels_redis keeps asyncio locks in the layer that stay bound to the loop that first
    waited on them: a layer shared across tests fails the next test whose consumers contend for
    its receive lock ("... is bound to a different event loop")."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def one_thread():
    """One torch thread for the test: its batches are tiny, and torch's thread pool only adds
    overhead on a shared machine (scripts that set threads for the process are undone too)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def study_factory(db):
    return make_study


@pytest.fixture
def player_factory(db):
    return make_player


# --- the local PostgreSQL and Redis, for the production-server tests (tests/faults, tests/browser) ---
# The server under test runs in a subprocess (helpers.LiveServer(workers=...)); this process only
# creates, checks and drops these databases. Without the services those tests skip and say why.
POSTGRES_ADMIN_URL = os.environ.get("SHAPING_LAB_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
# A database number of its own, so the fault tests never share channel groups or cache keys with
# a test run that uses REDIS_URL.
FAULT_REDIS_URL = os.environ.get("SHAPING_LAB_TEST_REDIS", "redis://127.0.0.1:6379/13")


@pytest.fixture
def postgres_url():
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"shaping_fault_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(urlsplit(POSTGRES_ADMIN_URL)._replace(path=f"/{name}"))
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url():
    """The URL of a Redis database, emptied before and after."""
    import redis

    client = redis.Redis.from_url(FAULT_REDIS_URL, socket_connect_timeout=5)
    try:
        client.flushdb()
    except redis.RedisError as error:
        pytest.skip(f"Redis is not reachable at {FAULT_REDIS_URL}: {error}")
    yield FAULT_REDIS_URL
    client.flushdb()
    client.close()
