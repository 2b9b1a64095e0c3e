import pytest

from helpers import make_player, make_study


@pytest.fixture
def study_factory(db):
    return make_study


@pytest.fixture
def player_factory(db):
    return make_player
