"""Adversary policies: shaping_core/policies (one interface; probabilities, never sampling)."""

import pytest
import torch

from shaping_core.games import make_game
from shaping_core.policies import (POLICIES, PolicyParamsError, make_policy, policies_for,
                                   sample_actions)
from shaping_core.policies.classic import RandomIPD

C, D = 0, 1


def long(*values):
    return torch.tensor(values, dtype=torch.long)


def play_ipd(policy_name, participant_moves, params=None):
    """Play one IPD episode (batch 1) against a deterministic policy; return its moves."""
    game = make_game("ipd", {"rounds": len(participant_moves)})
    policy = make_policy(policy_name, game, params)
    state, memory = game.init(1), policy.reset(1)
    moves = []
    for move in participant_moves:
        probs, memory = policy.act(game.observe(state), memory)
        assert probs.shape == (1, 2)
        assert torch.allclose(probs.sum(dim=1), torch.ones(1))
        assert float(probs.max()) == 1.0  # deterministic
        action = int(probs.argmax(dim=1))
        moves.append(action)
        state, _ = game.step(state, long(move), long(action))
    return moves


# --- IPD strategies -------------------------------------------------------------------------------


@pytest.mark.parametrize("participant", [
    [C, C, C, C], [D, D, D, D], [D, C, D, C, C, D], [C, D, D, C, D, C],
])
def test_tit_for_tat_cooperates_first_then_copies(participant):
    assert play_ipd("tit_for_tat", participant) == [C] + participant[:-1]


@pytest.mark.parametrize("participant, expected", [
    ([C, C, C, C, C], [C, C, C, C, C]),
    ([C, C, D, C, C, C], [C, C, C, D, D, D]),
    ([D, C, C, C], [C, D, D, D]),
    ([C, C, C, C, D], [C, C, C, C, C]),  # the last move cannot be answered any more
])
def test_grim_trigger_defects_forever_after_one_defection(participant, expected):
    assert play_ipd("grim_trigger", participant) == expected


def test_grim_trigger_state_is_per_episode_and_carried():
    game = make_game("ipd", {"rounds": 4})
    policy = make_policy("grim_trigger", game)
    memory = policy.reset(3)
    assert memory.shape == (3,) and not bool(memory.any())
    state = game.init(3)
    participant = torch.tensor([[C, D, C, C], [C, C, C, C], [D, C, C, C]])
    actions = []
    for t in range(4):
        probs, memory = policy.act(game.observe(state), memory)
        action = probs.argmax(dim=1)
        actions.append(action.tolist())
        state, _ = game.step(state, participant[:, t], action)
    assert actions == [[C, C, C], [C, C, D], [D, C, D], [D, C, D]]
    # The trigger lives in the carried state: a fresh state forgets it.
    probs, _ = policy.act(game.observe(state), policy.reset(3))
    assert probs.argmax(dim=1).tolist() == [C, C, C]


@pytest.mark.parametrize("previous, expected", [
    ((C, C), C),  # adversary earned R: stay with C
    ((D, C), D),  # participant defected, adversary cooperated: S, shift to D
    ((C, D), D),  # adversary defected on a cooperator: T, stay with D
    ((D, D), C),  # mutual defection: P, shift to C
])
def test_win_stay_lose_shift(previous, expected):
    game = make_game("ipd", {"rounds": 3})
    policy = make_policy("win_stay_lose_shift", game)
    state = game.init(1)
    probs, memory = policy.act(game.observe(state), policy.reset(1))
    assert probs.tolist() == [[1.0, 0.0]]  # cooperates first
    participant, adversary = previous
    state, result = game.step(state, long(participant), long(adversary))
    probs, _ = policy.act(game.observe(state), memory)
    assert int(probs.argmax(dim=1)) == expected
    # Check the stated rule against the payoffs: stay after R or T, shift after S or P.
    won = result.adversary_reward.item() in (game.params.reward, game.params.temptation)
    assert expected == (adversary if won else 1 - adversary)


def test_win_stay_lose_shift_batched_over_all_outcomes():
    game = make_game("ipd")
    policy = make_policy("win_stay_lose_shift", game)
    state = game.init(4)
    state, _ = game.step(state, long(C, D, C, D), long(C, C, D, D))
    probs, _ = policy.act(game.observe(state), policy.reset(4))
    assert probs.argmax(dim=1).tolist() == [C, D, D, C]


@pytest.mark.parametrize("name, move", [("always_cooperate", C), ("always_defect", D)])
def test_always_policies(name, move):
    assert play_ipd(name, [C, D, D, C, D]) == [move] * 5


@pytest.mark.parametrize("p", [0.0, 0.2, 0.75, 1.0])
def test_random_ipd_rate(p):
    game = make_game("ipd")
    policy = make_policy("random", game, {"p_cooperate": p})
    batch = 20000
    probs, _ = policy.act(game.observe(game.init(batch)), policy.reset(batch))
    assert probs.shape == (batch, 2)
    assert torch.allclose(probs[0], torch.tensor([p, 1 - p]))
    actions = sample_actions(probs, torch.ones(batch, 2, dtype=torch.bool),
                             torch.Generator().manual_seed(0))
    rate = (actions == C).double().mean().item()
    assert abs(rate - p) < 0.015


def test_random_ipd_default_is_half():
    assert make_policy("random", make_game("ipd")).params.p_cooperate == 0.5


@pytest.mark.parametrize("p", [-0.01, 1.01, 2])
def test_random_ipd_rejects_p_outside_unit_interval(p):
    with pytest.raises(PolicyParamsError, match=r"p_cooperate must lie in \[0, 1\]"):
        make_policy("random", make_game("ipd"), {"p_cooperate": p})


@pytest.mark.parametrize("params, match", [
    ({"p_cooperate": True}, "p_cooperate must be a number"),
    ({"p_cooperate": "0.5"}, "p_cooperate must be a number"),
    ({"p": 0.5}, "unknown parameter"),
])
def test_random_ipd_param_types(params, match):
    with pytest.raises(PolicyParamsError, match=match) as error:
        make_policy("random", make_game("ipd"), params)
    assert str(error.value).startswith("Random: ")


def test_policy_without_params_rejects_any():
    with pytest.raises(PolicyParamsError, match="Tit-for-tat: unknown parameter"):
        make_policy("tit_for_tat", make_game("ipd"), {"forgiveness": 0.1})


# --- random schedule ------------------------------------------------------------------------------


def _schedule(name, params, batch, seed):
    """Play whole games against random_schedule; return applied and sampled actions [B, T]."""
    game = make_game(name, params)
    policy = make_policy("random_schedule", game)
    gen = torch.Generator().manual_seed(seed)
    state, memory = game.init(batch), policy.reset(batch)
    applied, sampled = [], []
    while not bool(state.done.all()):
        obs = game.observe(state)
        probs, memory = policy.act(obs, memory)
        assert probs.shape == obs.action_mask.shape
        assert torch.allclose(probs.sum(dim=1), torch.ones(batch))
        assert bool((probs[~obs.action_mask] == 0).all())  # no weight on forbidden actions
        action = sample_actions(probs, obs.action_mask, gen)
        participant = torch.randint(0, 2, (batch,), generator=gen)
        state, result = game.step(state, participant, action)
        sampled.append(action)
        applied.append(result.adversary_action)
    return game, torch.stack(applied, dim=1), torch.stack(sampled, dim=1)


def test_random_schedule_gonogo_places_exactly_the_budget():
    params = {"trials": 20, "nogo_trials": 6}
    game, applied, sampled = _schedule("gonogo", params, batch=32, seed=1)
    assert torch.equal(applied, sampled)  # nothing had to be forced or withheld
    assert applied.sum(dim=1).tolist() == [6] * 32
    # Different episodes and different seeds give different schedules.
    assert len({tuple(row) for row in applied.tolist()}) > 20
    _, other, _ = _schedule("gonogo", params, batch=32, seed=2)
    assert other.sum(dim=1).tolist() == [6] * 32
    assert not torch.equal(applied, other)
    # Roughly uniform over positions: each trial is no-go for ~30% of a large batch.
    _, many, _ = _schedule("gonogo", params, batch=4000, seed=3)
    rate = many.double().mean(dim=0)
    assert bool(((rate - 0.3).abs() < 0.05).all())


def test_random_schedule_bandit_places_exactly_the_budget():
    params = {"trials": 16, "rewards_per_option": 5}
    game, applied, sampled = _schedule("bandit", params, batch=32, seed=1)
    assert torch.equal(applied, sampled)
    bits = ((applied.unsqueeze(2) >> torch.arange(2)) & 1)  # [B, T, 2]
    assert bits.sum(dim=1).tolist() == [[5, 5]] * 32
    assert len({tuple(row) for row in applied.tolist()}) > 20
    _, other, _ = _schedule("bandit", params, batch=32, seed=2)
    assert not torch.equal(applied, other)
    # The two options are scheduled independently: all four actions occur.
    assert set(applied.flatten().tolist()) == {0, 1, 2, 3}


@pytest.mark.parametrize("name, params", [
    ("bandit", {"trials": 6, "rewards_per_option": 0}),
    ("bandit", {"trials": 6, "rewards_per_option": 6}),
    ("gonogo", {"trials": 6, "nogo_trials": 0}),
    ("gonogo", {"trials": 6, "nogo_trials": 6}),
])
def test_random_schedule_extreme_budgets(name, params):
    _, applied, sampled = _schedule(name, params, batch=4, seed=0)
    assert torch.equal(applied, sampled)
    full = 0 if 0 in params.values() else (3 if name == "bandit" else 1)
    assert applied.tolist() == [[full] * 6] * 4


# --- trust repayment ------------------------------------------------------------------------------


def test_random_repayment_is_uniform_over_fractions():
    game = make_game("trust", {"return_fractions": [0.0, 0.5, 1.0]})
    policy = make_policy("random_repayment", game)
    obs = game.observe(game.init(3), long(0, 5, 20))
    probs, _ = policy.act(obs, policy.reset(3))
    assert torch.allclose(probs, torch.full((3, 3), 1 / 3))


def test_fixed_fraction_plays_its_fraction():
    game = make_game("trust", {"return_fractions": [0.0, 0.3, 0.6]})
    policy = make_policy("fixed_fraction", game, {"fraction": 0.3})
    probs, _ = policy.act(game.observe(game.init(2), long(4, 7)), policy.reset(2))
    assert probs.tolist() == [[0.0, 1.0, 0.0]] * 2
    default = make_policy("fixed_fraction", make_game("trust"))  # 0.5 of the default list
    probs, _ = default.act(make_game("trust").observe(make_game("trust").init(1), long(1)), None)
    assert probs.argmax(dim=1).tolist() == [2]
    # An int from JSON is a valid fraction.
    ones = make_policy("fixed_fraction", make_game("trust"), {"fraction": 1})
    assert ones.params.fraction == 1.0


@pytest.mark.parametrize("fraction", [0.3, 0.26, 2.0, -0.5])
def test_fixed_fraction_must_be_one_of_the_games(fraction):
    with pytest.raises(PolicyParamsError) as error:
        make_policy("fixed_fraction", make_game("trust"), {"fraction": fraction})
    message = str(error.value)
    assert "fraction must be one of the game's return fractions" in message
    assert "[0.0, 0.25, 0.5, 0.75, 1.0]" in message


# --- registry -------------------------------------------------------------------------------------


def test_make_policy_unknown_name():
    with pytest.raises(PolicyParamsError) as error:
        make_policy("minimax", make_game("ipd"))
    message = str(error.value)
    assert "unknown adversary 'minimax'" in message
    assert "tit_for_tat" in message and "random_schedule" in message


@pytest.mark.parametrize("name, game", [
    ("tit_for_tat", "bandit"), ("grim_trigger", "trust"), ("random", "gonogo"),
    ("random_schedule", "ipd"), ("random_schedule", "trust"), ("fixed_fraction", "ipd"),
    ("random_repayment", "bandit"),
])
def test_make_policy_with_a_game_it_cannot_play(name, game):
    with pytest.raises(PolicyParamsError) as error:
        make_policy(name, make_game(game))
    message = str(error.value)
    cls = POLICIES[name]
    assert f"{cls.label} cannot play {make_game(game).spec.label}" in message
    assert ", ".join(cls.games) in message


def test_policies_for():
    names = {game: [cls.name for cls in policies_for(game)] for game in
             ("ipd", "bandit", "gonogo", "trust")}
    assert set(names["ipd"]) == {"tit_for_tat", "grim_trigger", "win_stay_lose_shift",
                                 "always_cooperate", "always_defect", "random", "ipd_one_step_memory"}
    assert names["bandit"] == ["random_schedule"]
    assert names["gonogo"] == ["random_schedule"]
    assert set(names["trust"]) == {"random_repayment", "fixed_fraction"}
    assert policies_for("chess") == []
    # Every policy plays some game and every listed policy can be built for it.
    for game, listed in names.items():
        for name in listed:
            assert make_policy(name, make_game(game)).game.spec.name == game
    assert set().union(*map(set, names.values())) == set(POLICIES)


def test_registry_names_match_classes():
    assert POLICIES["random"] is RandomIPD
    for name, cls in POLICIES.items():
        assert cls.name == name


# --- sample_actions -------------------------------------------------------------------------------


def test_sample_actions_never_returns_a_masked_action():
    gen = torch.Generator().manual_seed(0)
    batch, n = 2000, 4
    probs = torch.rand(batch, n, generator=gen)
    probs = probs / probs.sum(dim=1, keepdim=True)
    mask = torch.rand(batch, n, generator=gen) < 0.5
    mask[torch.arange(batch), torch.randint(0, n, (batch,), generator=gen)] = True  # one allowed
    actions = sample_actions(probs, mask, gen)
    assert actions.shape == (batch,) and actions.dtype == torch.long
    assert bool(mask[torch.arange(batch), actions].all())


def test_sample_actions_renormalises_over_allowed():
    # Allowed: actions 1 and 2 with weight 0.1 and 0.3 -> P(2) = 0.75.
    batch = 20000
    probs = torch.tensor([0.5, 0.1, 0.3, 0.1]).expand(batch, 4)
    mask = torch.tensor([False, True, True, False]).expand(batch, 4)
    actions = sample_actions(probs, mask, torch.Generator().manual_seed(1))
    assert set(actions.tolist()) == {1, 2}
    assert abs((actions == 2).double().mean().item() - 0.75) < 0.015


def test_sample_actions_falls_back_to_uniform_over_allowed():
    batch = 12000
    probs = torch.tensor([1.0, 0.0, 0.0, 0.0]).expand(batch, 4)  # all weight on a masked action
    mask = torch.tensor([False, True, False, True]).expand(batch, 4)
    actions = sample_actions(probs, mask, torch.Generator().manual_seed(2))
    assert set(actions.tolist()) == {1, 3}
    assert abs((actions == 1).double().mean().item() - 0.5) < 0.02
    # All-zero probabilities too, row by row: other rows are unaffected.
    probs = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    mask = torch.tensor([[False, False, True], [True, True, True]])
    assert sample_actions(probs, mask).tolist() == [2, 1]


def test_sample_actions_is_reproducible_with_a_generator():
    probs = torch.full((50, 3), 1 / 3)
    mask = torch.ones(50, 3, dtype=torch.bool)
    a = sample_actions(probs, mask, torch.Generator().manual_seed(7))
    b = sample_actions(probs, mask, torch.Generator().manual_seed(7))
    c = sample_actions(probs, mask, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_policies_return_probabilities_without_sampling():
    """act is deterministic given the observation: the same call twice gives the same output."""
    game = make_game("bandit", {"trials": 6, "rewards_per_option": 2})
    policy = make_policy("random_schedule", game)
    obs = game.observe(game.init(3))
    first, _ = policy.act(obs, policy.reset(3))
    second, _ = policy.act(obs, policy.reset(3))
    assert torch.equal(first, second)
    # At the start each reward is placed with probability 2/6, independently per option.
    p = 2 / 6
    expected = torch.tensor([(1 - p) ** 2, p * (1 - p), (1 - p) * p, p * p])
    assert torch.allclose(first[0], expected)
