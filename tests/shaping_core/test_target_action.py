"""`Game.target_participant_action`: the action the adversary is paid for, named for the exports."""

import pytest
import torch

from shaping_core.games import GAMES, make_game


@pytest.mark.parametrize("target", [0, 1])
def test_the_bandits_target_is_the_option_whose_choice_pays_the_adversary(target):
    game = make_game("bandit", {"trials": 4, "rewards_per_option": 2, "target_option": target})
    assert game.target_participant_action == target
    state = game.init(2)
    choices = torch.tensor([0, 1])
    _, result = game.step(state, choices, torch.tensor([0, 0]))
    assert result.adversary_reward.tolist() == [float(c == target) for c in choices.tolist()]


@pytest.mark.parametrize("name", [name for name in GAMES if name != "bandit"])
def test_games_without_a_target_say_none(name):
    assert make_game(name).target_participant_action is None
