"""The go/no-go optimum (algorithms/gonogo_dp.py): the dynamic programme against a search over
every history played with the learners' own `act`, its oracle against the learners, and the
tabular forms of the zoo's families."""

from __future__ import annotations

import math

import pytest
import torch

from shaping_core.algorithms.bandit_dp import TabularError
from shaping_core.algorithms.gonogo_dp import GoNoGoOracle, GoNoGoTable
from shaping_core.games import make_game
from shaping_core.learners import make_learner
from shaping_core.learners.zoo import family
from shaping_core.optimum import family_optimum, has_tabular_form, solvable
from shaping_core.participants import ParticipantParamsError, participant_view
from shaping_core.simulation import play_episodes

FATIGUE = {"lapse_start": 0.1, "lapse_growth": 1.0, "respond_when_lapsing": 0.9}
# A prepotent responder whose habit after 4 updates (rate 1/2) sits on a 17-node grid exactly.
HABIT = {"rate": 0.5, "impulse": -0.5, "weight": 4.0, "omission": 0.05}
BASE_RATE = {"prior_mean": 0.2, "prior_strength": 3.0, "retention": 1.0, "impulse": 1.0,
             "control": 8.0, "omission": 0.03}


def gonogo(trials: int, nogo: int):
    return make_game("gonogo", {"trials": trials, "nogo_trials": nogo})


def brute_force(game, learner) -> float:
    """The most expected errors of any schedule the budget rule allows, searched over every
    history with the learner's own `act`."""

    def value(state, learner_state) -> float:
        if bool(state.done):
            return 0.0
        best = -math.inf
        for cue in game.adversary_action_mask(state)[0].nonzero().flatten().tolist():
            # The learner sees the cue before it acts: play the trial with this one.
            after_by_action = {}
            for action in (0, 1):
                after_by_action[action] = game.step(state, torch.tensor([action]), torch.tensor([cue]))
            view = participant_view(game, state, adversary_action=torch.tensor([cue]))
            probs, next_learner = learner.act(view, learner_state)
            total = sum(float(probs[0, a]) * (float(result.adversary_reward) + value(after, next_learner))
                        for a, (after, result) in after_by_action.items())
            best = max(best, total)
        return best

    return value(game.init(1), learner.reset(1))


@pytest.mark.parametrize("learner_name, values, grid", [
    ("vigilance_decrement", FATIGUE, 2),
    ("response_habit", HABIT, 17),
    ("base_rate", BASE_RATE, 2),
])
def test_the_optimum_equals_a_search_over_every_history(learner_name, values, grid):
    game = gonogo(5, 2)
    learner = make_learner(learner_name, game, values)
    table = learner.tabular(values, grid)
    solution = table.solve(game.params)
    assert table.optimal_rate(solution, game.params) * 5 == pytest.approx(brute_force(game, learner), abs=1e-6)


@pytest.mark.parametrize("learner_name, values, grid", [
    ("vigilance_decrement", FATIGUE, 2),
    ("response_habit", {**HABIT, "rate": 0.3}, 41),
    ("base_rate", {**BASE_RATE, "retention": 0.9}, 2),
])
def test_the_oracle_plays_the_value_it_was_solved_for_within_the_budget(learner_name, values, grid):
    game, episodes = gonogo(40, 6), 4096
    learner = make_learner(learner_name, game, values)
    table = learner.tabular(values, grid)
    solution = table.solve(game.params)
    played = play_episodes(game, learner, GoNoGoOracle(game, table, solution), episodes,
                           generator=torch.Generator().manual_seed(0))
    rates = played.adversary_return() / 40
    best = table.optimal_rate(solution, game.params)
    grid_error = 0.002 if learner_name != "vigilance_decrement" else 0
    assert float(rates.mean()) == pytest.approx(best, abs=4 * float(rates.std()) / episodes**0.5 + grid_error)
    assert bool((played.adversary_log_probs == 0).all())
    assert bool(((played.adversary_actions == 1).sum(dim=1) == 6).all())  # exactly the no-go budget


def test_a_fatigued_responder_is_best_given_every_nogo_at_the_end():
    # A lapse responds with probability 0.9 > 1/2: a no-go gains most errors where lapses are
    # likeliest, the last trials. The optimum there is exactly the end-loaded schedule.
    game = gonogo(30, 5)
    table = make_learner("vigilance_decrement", game, FATIGUE).tabular(FATIGUE, 2)
    lapse = (0.1 + 1.0 * torch.arange(30, dtype=torch.float64) / 100).clamp_max(1)
    nogo = torch.zeros(30, dtype=torch.bool)
    nogo[-5:] = True
    errors = torch.where(nogo, lapse * 0.9, lapse * 0.1).sum()
    assert table.optimal_rate(table.solve(game.params), game.params) * 30 == pytest.approx(float(errors))


def test_an_invalid_table_is_refused_with_a_clear_error():
    good = make_learner("response_habit", gonogo(5, 2), HABIT).tabular(HABIT, 3)
    fields = {name: getattr(good, name) for name in
              ("respond", "next_index", "next_weight", "initial_index", "initial_weight")}
    with pytest.raises(TabularError, match="probabilities in \\[0, 1\\]"):
        GoNoGoTable(**{**fields, "respond": fields["respond"] * 3})
    with pytest.raises(TabularError, match="next_weight must sum to 1"):
        GoNoGoTable(**{**fields, "next_weight": fields["next_weight"] * 0.5})
    with pytest.raises(TabularError, match="next_index must name states"):
        GoNoGoTable(**{**fields, "next_index": fields["next_index"] + 100})
    with pytest.raises(TabularError, match="covers 5 trials"):
        good.solve(gonogo(6, 2).params)
    with pytest.raises(ParticipantParamsError, match="needs a value for rate"):
        make_learner("response_habit", gonogo(5, 2), HABIT).tabular({"weight": 1.0}, 3)


def test_the_go_nogo_zoo_is_solved_for_the_families_with_a_small_state():
    game = gonogo(60, 6)
    assert solvable(game)
    solved = {name: has_tabular_form(family("gonogo", name).make(game))
              for name in ("q_learning", "pavlovian_go_bias", "fatigue", "base_rate", "prepotency")}
    assert solved == {"q_learning": False, "pavlovian_go_bias": False, "fatigue": True,
                      "base_rate": True, "prepotency": True}
    result = family_optimum(game, family("gonogo", "prepotency"), participants=3,
                            episodes_per_participant=64)
    for person in result.participants:
        assert person.optimum >= person.random - 4 * person.random_std / 8
    assert family_optimum(game, family("gonogo", "q_learning"), participants=2) is None
