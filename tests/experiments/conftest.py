"""Fixtures shared by the experiments' tests."""

import contextlib
import io
import json

import pytest
import torch

from shaping_core.__main__ import main as shaping_core

TINY_BANDIT = json.dumps({"trials": 8, "rewards_per_option": 2})


def run_cli(argv):
    with contextlib.redirect_stdout(io.StringIO()):
        assert shaping_core([str(a) for a in argv]) == 0


@pytest.fixture(scope="session")
def tiny_bandit_surrogate(tmp_path_factory):
    """A surrogate of 12 simulated Q-learners in an 8-trial bandit with 2 rewards per option."""
    threads = torch.get_num_threads()
    folder = tmp_path_factory.mktemp("tiny_bandit")
    run_cli(["simulate", "--game", "bandit", "--game-params", TINY_BANDIT, "--learner", "q_learning",
             "--adversary", "random_schedule", "--participants", "12", "--seed", "0", "--out", folder / "data.csv"])
    run_cli(["fit-surrogate", "--game", "bandit", "--game-params", TINY_BANDIT, "--data", folder / "data.csv",
             "--out", folder / "S.pt", "--hidden-sizes", "2", "--folds", "2", "--max-epochs", "2", "--threads", "1"])
    yield folder / "S.pt"
    torch.set_num_threads(threads)
