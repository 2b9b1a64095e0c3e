"""experiments/bandit_optimum.py: the grid DP against an exact search on a tiny bandit, and the
whole script with small settings."""

import functools
import json
import math

import pytest

from shaping_core.games import make_game
from shaping_core.games.bandit import BanditParams

from helpers import load_experiment



@pytest.fixture(scope="module")
def optimum():
    return load_experiment("bandit_optimum")


def exact_optimum(params: BanditParams, alpha: float, beta: float, kappa: float) -> float:
    """Expected target choices under the best adversary, by searching every sequence of
    rewards and choices with the learner's exact Q values (no grid)."""

    @functools.lru_cache(maxsize=None)
    def value(t, q_target, q_other, previous, b_target, b_other):
        if t == params.trials:
            return 0.0
        trials_left = params.trials - t
        logit = beta * (q_target - q_other) + kappa * ((previous == "T") - (previous == "O"))
        p_target = 1 / (1 + math.exp(-logit))
        best = -math.inf
        for r_target in (0, 1):
            for r_other in (0, 1):
                if (r_target and b_target == 0) or (not r_target and b_target >= trials_left):
                    continue
                if (r_other and b_other == 0) or (not r_other and b_other >= trials_left):
                    continue
                left = (b_target - r_target, b_other - r_other)
                chose_target = 1 + value(t + 1, q_target + alpha * (r_target - q_target), q_other, "T", *left)
                chose_other = value(t + 1, q_target, q_other + alpha * (r_other - q_other), "O", *left)
                best = max(best, p_target * chose_target + (1 - p_target) * chose_other)
        return best

    return value(0, 0.0, 0.0, "", params.rewards_per_option, params.rewards_per_option)


def test_the_grid_solution_is_exact_where_q_values_land_on_the_grid(optimum):
    # With alpha 1/2 and rewards 0/1, every Q value reachable in 6 trials is a multiple of 1/64,
    # a point of a 65-point grid, so the DP's interpolation is exact.
    params = BanditParams(trials=6, rewards_per_option=2)
    values = optimum.solve(0.5, 3.0, 0.4, params, grid=65)
    assert values[0, 0, 0, optimum.NONE, -1, -1].item() == pytest.approx(
        exact_optimum(params, 0.5, 3.0, 0.4), abs=1e-9)


def test_the_optimum_beats_the_random_schedule_and_a_finer_grid_changes_little(optimum):
    params = BanditParams(trials=12, rewards_per_option=3)
    coarse = optimum.solve(0.3, 4.0, 0.3, params, grid=11)[0, 0, 0, optimum.NONE, -1, -1].item()
    fine = optimum.solve(0.3, 4.0, 0.3, params, grid=41)[0, 0, 0, optimum.NONE, -1, -1].item()
    assert fine == pytest.approx(exact_optimum(params, 0.3, 4.0, 0.3), abs=0.02)
    assert coarse == pytest.approx(fine, abs=0.05)


def test_the_optimal_adversary_plays_the_value_it_was_solved_for(optimum):
    import torch

    from shaping_core.adversary_training import evaluate
    from shaping_core.learners import make_learner
    from shaping_core.policies import make_policy

    game = make_game("bandit", {"trials": 12, "rewards_per_option": 3})
    learner_params = {"alpha": 0.3, "beta": 6.0, "kappa": 0.3}
    values = optimum.solve(0.3, 6.0, 0.3, game.params, grid=41)
    best = values[0, 0, 0, optimum.NONE, -1, -1].item() / 12
    learner = make_learner("q_learning", game, learner_params)
    torch.manual_seed(0)
    played = evaluate(game, optimum.OptimalAdversary(game, values, learner_params), learner, 8192)
    random = evaluate(game, make_policy("random_schedule", game), learner, 8192)
    standard_error = played["adversary_return_std"] / 12 / 8192 ** 0.5
    assert played["target_rate"] == pytest.approx(best, abs=4 * standard_error + 0.005)
    assert random["target_rate"] < best - 0.05


def test_the_script_writes_its_figures_and_checks_its_arguments(optimum, tmp_path, capsys):
    optimum.main(["--out", str(tmp_path), "--alpha", "0.3", "--beta", "2", "6", "--kappa", "0.3",
                  "--grid", "5", "--episodes", "64"])
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [row["learner_params"]["beta"] for row in rows] == [2.0, 6.0]
    assert rows[1]["optimum"] > rows[0]["optimum"] > 0.5  # a greedier learner is easier to steer
    for name in ("config.json", "metrics.json", "optimum.png"):
        assert (tmp_path / name).is_file()
    with pytest.raises(SystemExit):
        optimum.main(["--out", str(tmp_path), "--alpha", "1.5"])
    assert "alpha" in capsys.readouterr().err
