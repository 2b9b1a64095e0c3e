import pytest

from helpers import make_player, make_study


def pytest_report_header(config):
    """Say which backends this run uses: CI runs the suite on SQLite and on PostgreSQL + Redis."""
    from django.conf import settings

    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    return f"shaping lab backends: database {database}, channel layer {layer}"


@pytest.fixture
def study_factory(db):
    return make_study


@pytest.fixture
def player_factory(db):
    return make_player
