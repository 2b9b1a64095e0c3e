"""The checkpoints the repository ships (shaping_core/checkpoints/defaults/): one per game and
objective, each loadable, trained for that game and objective, and able to play its game."""

from pathlib import Path

import pytest
import torch

from shaping_core.games import GAMES, make_game
from shaping_core.learners import make_learner
from shaping_core.policies.checkpoint import load_policy, read_checkpoint
from shaping_core.simulation import play_episodes

DEFAULTS = Path(__file__).resolve().parents[2] / "shaping_core" / "checkpoints" / "defaults"
EXPECTED = [f"{game}-{objective}.pt" for game, cls in GAMES.items() for objective in cls.spec.objectives]
LEARNER = {"bandit": "q_learning", "gonogo": "q_learning", "ipd": "q_learning", "trust": "investor"}


def test_every_game_and_objective_has_exactly_one_default_checkpoint():
    assert sorted(p.name for p in DEFAULTS.glob("*.pt")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", EXPECTED)
def test_a_default_checkpoint_is_what_its_name_says_and_plays_its_game(name):
    game_name, objective = name.removesuffix(".pt").split("-")
    spec = read_checkpoint(DEFAULTS / name)
    assert (spec["kind"], spec["game"]) == ("shaping", game_name)
    assert spec["provenance"]["objective"] == objective == spec["settings"]["objective"]
    assert spec["metrics"]["against_surrogate"]["trained"]["episodes"] > 0
    policy = load_policy(DEFAULTS / name)
    game = policy.game
    assert game.params == make_game(game_name).params  # the defaults, as the demo studies use
    episodes = play_episodes(game, make_learner(LEARNER[game_name], game), policy, 4,
                             generator=torch.Generator().manual_seed(0))
    assert bool(episodes.active[:, 0].all())
    assert torch.isfinite(episodes.adversary_log_probs[episodes.active]).all()
