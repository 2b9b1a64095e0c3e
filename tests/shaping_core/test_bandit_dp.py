"""The bandit's optimum against a learner with a tabular form: shaping_core/algorithms/bandit_dp.py
(the solver and the oracle adversary), the learners' `tabular` methods and shaping_core/optimum.py."""

import functools
import math

import pytest
import torch

from shaping_core.algorithms.bandit_dp import (OracleAdversary, TabularError, TabularLearner,
                                               allowed_actions, optimal_target_rate, solve)
from shaping_core.games import make_game
from shaping_core.games.budget import action_mask, action_to_bits
from shaping_core.learners import Family, make_learner
from shaping_core.learners.base import sample_values
from shaping_core.optimum import family_optimum
from shaping_core.participants import ParticipantModel, ParticipantParamsError, participant_view
from shaping_core.simulation import play_episodes

# The solver written for the Q-learner alone (experiments/bandit_optimum.py before the generic
# one), on 10 trials, 3 rewards per option and an 11-point grid: the values at the start state
# (Q 0, 0, no previous choice) per budget (target, other) left, and the sum over every state at
# every budget the rule can reach.
PREVIOUS_SOLVER = {
    (0.3, 8.0, 0.3): ([[5.0, 5.0, 4.818707936434328, 4.506463191114364],
                       [5.979654323368903, 5.979654323368903, 5.841185748328051, 5.623213490634664],
                       [6.884012441212759, 6.884012441212759, 6.791663266362071, 6.62787687746443],
                       [7.576150277493279, 7.576150277493279, 7.518235175761731, 7.423958190798976]],
                      179706.71466490845),
    (0.45, 3.0, -0.6): ([[5.0, 5.0, 4.850384957587686, 4.627159975244071],
                         [5.469276485989398, 5.469276485989398, 5.344626114055059, 5.16410355716059],
                         [5.891235361589771, 5.891235361589771, 5.790935929582504, 5.642930342585489],
                         [6.268456001788107, 6.268456001788107, 6.191401612347248, 6.080358408222291]],
                        171712.34299030845),
}


def bandit(trials, rewards, target=0):
    return make_game("bandit", {"trials": trials, "rewards_per_option": rewards, "target_option": target})


def solved(game, learner_name, values, grid=2):
    table = make(learner_name, game, values).tabular(values, grid)
    return table, solve(table, game.params)


@pytest.mark.parametrize("target", [0, 1])
@pytest.mark.parametrize("q_values", list(PREVIOUS_SOLVER))
def test_the_q_learner_reproduces_the_previous_solver(q_values, target):
    start, total = PREVIOUS_SOLVER[q_values]
    game = bandit(10, 3, target)
    _, values = solved(game, "q_learning", dict(zip(("alpha", "beta", "kappa"), q_values)), grid=11)
    # The Q-learner treats both options alike, so the target's side changes nothing.
    assert torch.allclose(values[0, 0], torch.tensor(start, dtype=torch.float64), rtol=0, atol=1e-9)
    reachable = sum(float(values[t, :, :min(3, 10 - t) + 1, :min(3, 10 - t) + 1].sum()) for t in range(11))
    assert reachable == pytest.approx(total, rel=1e-12)


def exact_q_optimum(trials, rewards, alpha, beta, kappa) -> float:
    """Expected target choices under the best adversary, by searching every sequence of rewards
    and choices with the Q-learner's exact values (no grid)."""

    @functools.lru_cache(maxsize=None)
    def value(t, q_target, q_other, previous, b_target, b_other):
        if t == trials:
            return 0.0
        logit = beta * (q_target - q_other) + kappa * ((previous == "T") - (previous == "O"))
        p_target = 1 / (1 + math.exp(-logit))
        best = -math.inf
        for r_target in (0, 1):
            for r_other in (0, 1):
                if any((r and b == 0) or (not r and b >= trials - t)
                       for r, b in ((r_target, b_target), (r_other, b_other))):
                    continue
                left = (b_target - r_target, b_other - r_other)
                chose_target = 1 + value(t + 1, q_target + alpha * (r_target - q_target), q_other, "T", *left)
                chose_other = value(t + 1, q_target, q_other + alpha * (r_other - q_other), "O", *left)
                best = max(best, p_target * chose_target + (1 - p_target) * chose_other)
        return best

    return value(0, 0.0, 0.0, "", rewards, rewards)


def test_the_q_grid_is_exact_where_q_values_land_on_it_and_close_elsewhere():
    # With alpha 1/2 and rewards 0/1, every Q value reachable in 6 trials is a multiple of 1/64,
    # a point of a 65-point grid, so the interpolation is exact.
    game = bandit(6, 2, target=1)
    table, values = solved(game, "q_learning", {"alpha": 0.5, "beta": 3.0, "kappa": 0.4}, grid=65)
    assert optimal_target_rate(table, values, game.params) * 6 == pytest.approx(
        exact_q_optimum(6, 2, 0.5, 3.0, 0.4), abs=1e-9)
    game = bandit(12, 3)
    exact = exact_q_optimum(12, 3, 0.3, 4.0, 0.3) / 12
    for grid, tolerance in ((41, 0.0002), (11, 0.003)):
        table, values = solved(game, "q_learning", {"alpha": 0.3, "beta": 4.0, "kappa": 0.3}, grid)
        assert optimal_target_rate(table, values, game.params) == pytest.approx(exact, abs=tolerance)


def brute_force(game, learner) -> float:
    """Expected target choices under the best adversary, by searching every allowed action (the
    game's own mask) after every history, against every choice of the learner's own `act`."""

    def value(state, learner_state) -> float:
        if bool(state.done):
            return 0.0
        probs, learner_state = learner.act(participant_view(game, state), learner_state)
        allowed = game.adversary_action_mask(state)[0].nonzero().flatten().tolist()
        best = -math.inf
        for action in allowed:
            total = 0.0
            for choice in (0, 1):
                after, result = game.step(state, torch.tensor([choice]), torch.tensor([action]))
                total += float(probs[0, choice]) * (float(result.adversary_reward) + value(after, learner_state))
            best = max(best, total)
        return best

    return value(game.init(1), learner.reset(1))


# A learner with a side bias, exact states (as win-stay-lose-shift's: 0 at the start, then
# 1 + 2 * choice + reward): the target's side matters to it.
BIASED = TabularLearner(
    probs=torch.tensor([[0.7, 0.3], [0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.35, 0.65]], dtype=torch.float64),
    next_index=torch.tensor([[1, 2], [3, 4]]).expand(5, 2, 2).unsqueeze(-1).clone(),
    next_weight=torch.ones(5, 2, 2, 1, dtype=torch.float64),
    initial_index=torch.tensor([0]), initial_weight=torch.ones(1, dtype=torch.float64))


class BiasedLearner(ParticipantModel):
    """Plays BIASED's chain, for the search and the oracle to face."""

    name, label, games = "biased", "Biased", ("bandit",)

    def reset(self, batch_size, *, generator=None, device="cpu"):
        return torch.zeros(batch_size, dtype=torch.long)

    def act(self, view, state):
        moved = BIASED.next_index[state, view.last_action.clamp_min(0), view.last_reward.long(), 0]
        state = torch.where(view.last_action >= 0, moved, state)
        return BIASED.probs[state].float(), state

    def tabular(self, values, grid):
        return BIASED


def make(learner_name, game, values):
    return BiasedLearner(game) if learner_name == "biased" else make_learner(learner_name, game, values)


@pytest.mark.parametrize("learner_name, values, rewards, target, grid", [
    ("biased", {}, 2, 0, 2),
    ("biased", {}, 2, 1, 2),
    ("win_stay_lose_shift", {"epsilon": 0.2}, 1, 0, 2),
    ("win_stay_lose_shift", {"epsilon": 0.2}, 2, 1, 2),
    # Q values after 4 updates with alpha 1/2 are multiples of 1/16: exact on a 17-point grid.
    ("q_learning", {"alpha": 0.5, "beta": 3.0, "kappa": 0.4}, 2, 1, 17),
])
def test_the_optimum_equals_a_search_over_every_history(learner_name, values, rewards, target, grid):
    game = bandit(4, rewards, target)
    table, solution = solved(game, learner_name, values, grid)
    best = brute_force(game, make(learner_name, game, values))
    assert optimal_target_rate(table, solution, game.params) * 4 == pytest.approx(best, abs=1e-5)


@pytest.mark.parametrize("learner_name, values, grid, episodes", [
    ("win_stay_lose_shift", {"epsilon": 0.2}, 2, 4096),
    ("biased", {}, 2, 4096),
    ("q_learning", {"alpha": 0.3, "beta": 6.0, "kappa": 0.3}, 41, 2048),
])
def test_the_oracle_plays_the_value_it_was_solved_for_within_the_budget(learner_name, values, grid,
                                                                      episodes):
    game = bandit(12, 3, target=1)
    table, solution = solved(game, learner_name, values, grid)
    learner = make(learner_name, game, values)
    played = play_episodes(game, learner, OracleAdversary(game, table, solution), episodes,
                           generator=torch.Generator().manual_seed(0))
    rates = played.adversary_return() / 12
    best = optimal_target_rate(table, solution, game.params)
    grid_error = 0.005 if learner_name == "q_learning" else 0
    assert float(rates.mean()) == pytest.approx(best, abs=4 * float(rates.std()) / episodes**0.5 + grid_error)
    # It only ever chose allowed actions (probability 1), so every option got exactly its budget.
    assert bool((played.adversary_log_probs == 0).all())
    placed = action_to_bits(played.adversary_actions, 2).sum(dim=1)
    assert bool((placed == 3).all())


def test_the_solver_keeps_to_the_budget_rule():
    # The rule's actions at every budget (target, other) and trials left, as the game masks them.
    for trials_left in range(1, 5):
        for target in (0, 1):
            mask = allowed_actions(3, trials_left, target)
            for b_target in range(4):
                for b_other in range(4):
                    budget_left = [0, 0]
                    budget_left[target], budget_left[1 - target] = b_target, b_other
                    expected = action_mask(torch.tensor([budget_left]), torch.tensor([trials_left]))[0]
                    assert torch.equal(mask[:, b_target, b_other], expected)
    # A strict win-stay-lose-shift learner repeats a rewarded choice and leaves an unrewarded one.
    # With no rewards to place it alternates, and with a reward on every trial it stays: either
    # way it picks the target on half the trials, whatever an adversary free of the rule could do.
    for rewards in (0, 4):
        game = bandit(4, rewards)
        table, values = solved(game, "win_stay_lose_shift", {"epsilon": 0.0})
        assert optimal_target_rate(table, values, game.params) == pytest.approx(0.5, abs=1e-12)


def wsls_table(**changes) -> dict:
    game = bandit(4, 1)
    table = make_learner("win_stay_lose_shift", game, {}).tabular({"epsilon": 0.1}, 2)
    fields = {name: getattr(table, name) for name in
              ("probs", "next_index", "next_weight", "initial_index", "initial_weight")}
    return fields | changes


def test_an_invalid_tabular_form_is_refused_with_a_clear_error():
    probs = wsls_table()["probs"].clone()
    probs[3] *= 0.9
    with pytest.raises(TabularError, match=r"probs must sum to 1 .* at \[3\] it sums to 0\.9"):
        TabularLearner(**wsls_table(probs=probs))
    weight = wsls_table()["next_weight"].clone()
    weight[1, 0, 1, 0] = 0.5
    with pytest.raises(TabularError, match=r"next_weight must sum to 1 .* at \[1, 0, 1\]"):
        TabularLearner(**wsls_table(next_weight=weight))
    with pytest.raises(TabularError, match="next_index must name states 0..4"):
        TabularLearner(**wsls_table(next_index=wsls_table()["next_index"] + 1))
    with pytest.raises(TabularError, match="probs must be float64"):
        TabularLearner(**wsls_table(probs=probs.float()))
    with pytest.raises(ParticipantParamsError, match="bandit only"):
        make_learner("q_learning", make_game("gonogo", {})).tabular({"alpha": 0.3, "beta": 4, "kappa": 0}, 5)
    with pytest.raises(ParticipantParamsError, match="bandit only"):
        make_learner("win_stay_lose_shift", make_game("ipd", {})).tabular({"epsilon": 0.1}, 2)


def test_sample_values_draws_the_people_reset_draws():
    game = bandit(4, 1)
    learner = make_learner("q_learning", game, {"alpha": [0.1, 0.5], "beta": 4, "kappa": [-1, 1]})
    state = learner.reset(5, generator=torch.Generator().manual_seed(3))
    drawn = sample_values(learner.params, 5, torch.Generator().manual_seed(3))
    assert [person["alpha"] for person in drawn] == state.alpha.tolist()
    assert [person["kappa"] for person in drawn] == state.kappa.tolist()
    assert {person["beta"] for person in drawn} == {4.0} and "respond_prior" not in drawn[0]


def test_a_family_optimum_is_the_mean_over_its_people_and_none_without_a_tabular_form():
    game = bandit(8, 2)
    wsls = Family("wsls", "win_stay_lose_shift", {"epsilon": [0.05, 0.4]})
    result = family_optimum(game, wsls, participants=3, episodes_per_participant=64, seed=1)
    people = sample_values(wsls.make(game).params, 3, torch.Generator().manual_seed(1))
    assert [p.values for p in result.participants] == people
    for person in result.participants:
        table, values = solved(game, "win_stay_lose_shift", person.values)
        assert person.optimum == pytest.approx(optimal_target_rate(table, values, game.params), abs=1e-12)
        assert person.random < person.optimum
    assert result.optimum == pytest.approx(sum(p.optimum for p in result.participants) / 3)
    assert result.optimum_sem > 0 and result.random < result.simulated
    assert family_optimum(game, Family("coin", "random")) is None


def test_a_solved_family_optimum_is_read_back_from_the_cache(monkeypatch, tmp_path):
    from shaping_core import optimum as optimum_module
    from shaping_core.learners import family

    monkeypatch.setenv("SHAPING_CORE_CACHE", str(tmp_path))
    game = make_game("bandit", {"trials": 6, "rewards_per_option": 2})
    wsls = family("bandit", "wsls")
    first = optimum_module.cached_family_optimum(game, wsls, participants=2, grid=5, seed=3)
    assert len(list((tmp_path / "optima").glob("bandit-wsls-*.json"))) == 1

    def unsolvable(*args, **kwargs):
        raise AssertionError("solved again instead of read from the cache")

    monkeypatch.setattr(optimum_module, "family_optimum", unsolvable)
    assert optimum_module.cached_family_optimum(game, wsls, participants=2, grid=5, seed=3) == first
    with pytest.raises(AssertionError, match="solved again"):  # another seed is another key
        optimum_module.cached_family_optimum(game, wsls, participants=2, grid=5, seed=4)


@pytest.mark.parametrize("game_name", ["bandit", "gonogo"])
def test_the_optima_of_the_zoo_on_the_default_game_ship_with_the_package(monkeypatch, game_name):
    """`evaluate-adversary --against zoo` on the default game reads them instead of solving for
    minutes; a family whose definition changed no longer matches its file (its key) and fails here."""
    from shaping_core import optimum as optimum_module
    from shaping_core.learners import zoo_for
    from shaping_core.transfer import EVAL_SEED

    def unsolvable(*args, **kwargs):
        raise AssertionError("not shipped: solved again")

    monkeypatch.setattr(optimum_module, "family_optimum", unsolvable)
    game = make_game(game_name)
    for zoo_family in zoo_for(game_name):
        if not optimum_module.has_tabular_form(zoo_family.make(game)):
            continue
        solved = optimum_module.cached_family_optimum(game, zoo_family, participants=16, grid=21, seed=EVAL_SEED)
        assert solved.family == zoo_family.name and len(solved.participants) == 16
        assert solved.random < solved.optimum <= 1
