"""Learning side of shaping_core: GAE, the advantage-alignment term, exact IPD values, PPO,
checkpoints, and the CLI, all with tiny settings."""

import json

import pytest
import torch

from shaping_core.adversary_training import AdversarySettings
from shaping_core.algorithms.actor_critic import ActorCriticSettings, Learner, actor_critic_update
from shaping_core.algorithms.adalign import (AdAlignLearner, AdAlignSettings, adalign_update,
                                             alignment_advantages, discounted_past_sum)
from shaping_core.algorithms.gae import gae
from shaping_core.algorithms.lola_exact import ExactLOLASettings, ipd_values, lola_gradients
from shaping_core.algorithms.ppo import ppo_update
from shaping_core.algorithms.rollout import play
from shaping_core.games import make_game
from shaping_core.policies.checkpoint import load_policy, read_checkpoint, save_policy
from shaping_core.policies.classic import AlwaysDefect, TitForTat
from shaping_core.policies.gru import GRUNet, GRUPolicy
from shaping_core.policies.tabular import (OneStepMemoryNet, StateValueTable, TabularIPDPolicy,
                                           state_index_from_features)

PAPER = {"reward": -1.0, "sucker": -3.0, "temptation": 0.0, "punishment": -2.0}
TFT = [1.0, 1.0, 0.0, 1.0, 0.0]
ALL_D = [0.0] * 5
ALL_C = [1.0] * 5


def tensor(*values):
    return torch.tensor([values], dtype=torch.float64)


# --- GAE ------------------------------------------------------------------------------------------


def test_gae_matches_hand_computation():
    rewards, values = tensor(1.0, 2.0), tensor(0.5, 1.0, 3.0)
    gamma, lam = 0.9, 0.5
    delta1 = 2.0 + 0.9 * 3.0 - 1.0  # 3.7
    delta0 = 1.0 + 0.9 * 1.0 - 0.5  # 1.4
    advantages, returns = gae(rewards, values, gamma, lam)
    expected = tensor(delta0 + 0.9 * 0.5 * delta1, delta1)
    assert torch.allclose(advantages, expected)
    assert torch.allclose(returns, expected + values[:, :2])


def test_gae_lambda_one_is_monte_carlo_and_done_stops_bootstrap():
    rewards, values = tensor(1.0, 1.0, 1.0), tensor(0.0, 0.0, 0.0, 10.0)
    _, returns = gae(rewards, values, 0.5, 1.0)
    assert torch.allclose(returns, tensor(1 + 0.5 + 0.25 + 0.125 * 10, 1 + 0.5 + 0.25 * 10, 1 + 0.5 * 10))
    _, returns = gae(rewards, values, 0.5, 1.0, dones=torch.tensor([[False, False, True]]))
    assert torch.allclose(returns, tensor(1.75, 1.5, 1.0))


def test_gae_rejects_wrong_value_shape():
    with pytest.raises(ValueError, match="values must have shape"):
        gae(tensor(1.0, 2.0), tensor(1.0, 2.0), 0.9, 0.9)


# --- the advantage-alignment term ---------------------------------------------------------------


def test_alignment_advantages_hand_computed():
    a1, a2 = tensor(1.0, 2.0, 3.0), tensor(1.0, 1.0, 2.0)
    gamma, beta = 0.5, 1.0
    # P_0 = 0; P_1 = 0.5 * 1 = 0.5; P_2 = 0.5 * 2 + 0.25 * 1 = 1.25
    assert torch.allclose(discounted_past_sum(a1, gamma), tensor(0.0, 0.5, 1.25))
    # A*_t = A1_t + beta * gamma * P_t * A2_t
    expected = tensor(1.0, 2.0 + 0.5 * 0.5 * 1.0, 3.0 + 0.5 * 1.25 * 2.0)
    assert torch.allclose(alignment_advantages(a1, a2, gamma, beta), expected)
    # running-mean normalisation divides P_t by the number of past terms t
    expected_mean = tensor(1.0, 2.0 + 0.5 * 0.5 * 1.0, 3.0 + 0.5 * (1.25 / 2) * 2.0)
    assert torch.allclose(alignment_advantages(a1, a2, gamma, beta, normalize_past=True), expected_mean)
    # beta = 0 is the naive advantage
    assert torch.equal(alignment_advantages(a1, a2, gamma, 0.0), a1)


def test_alignment_sign_rewards_reciprocity():
    # things went well for me (positive past), opponent's advantage positive -> A* grows
    up = alignment_advantages(tensor(1.0, 0.0), tensor(0.0, 1.0), 0.9, 1.0)
    down = alignment_advantages(tensor(-1.0, 0.0), tensor(0.0, 1.0), 0.9, 1.0)
    assert up[0, 1] > 0 > down[0, 1]


# --- exact IPD values ----------------------------------------------------------------------------


@pytest.mark.parametrize("p1, p2, v1, v2", [
    (TFT, TFT, -1.0, -1.0),
    (ALL_D, ALL_D, -2.0, -2.0),
    (ALL_C, ALL_C, -1.0, -1.0),
    (ALL_D, ALL_C, 0.0, -3.0),
    (ALL_C, ALL_D, -3.0, 0.0),
    (TFT, ALL_D, 0.04 * (-3 - 48), 0.04 * (0 - 48)),  # sucker once, then mutual defection
])
def test_closed_form_values_per_round(p1, p2, v1, v2):
    s = ExactLOLASettings()
    value1, value2 = ipd_values(torch.tensor(p1, dtype=torch.float64),
                                torch.tensor(p2, dtype=torch.float64), s)
    assert (1 - s.gamma) * float(value1) == pytest.approx(v1)
    assert (1 - s.gamma) * float(value2) == pytest.approx(v2)
    assert float(value1) == pytest.approx(v1 / (1 - s.gamma))


def test_closed_form_uses_own_opponent_state_letters():
    # "defect only after CD" (I cooperated, they defected) is TFT-like against always-defect:
    # sucker in round 1 only. Swapping the letters would make it cooperate for ever.
    s = ExactLOLASettings()
    p1 = torch.tensor([1.0, 1.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    v1, _ = ipd_values(p1, torch.tensor(ALL_D, dtype=torch.float64), s)
    # C,D (-3) then D,D... but P(C|DD) = 1 -> C,D again: alternates -3, -2
    expected = (-3 + 0.96 * -2) / (1 - 0.96**2) * (1 - 0.96)
    assert (1 - s.gamma) * float(v1) == pytest.approx(expected)


def test_lola_gradient_of_naive_step_is_the_plain_gradient():
    s = ExactLOLASettings(lookahead_lr=0.0)
    t1 = torch.zeros(5, dtype=torch.float64)
    t2 = torch.ones(5, dtype=torch.float64)
    g1, _ = lola_gradients(t1, t2, s)
    x = t1.clone().requires_grad_(True)
    v1, _ = ipd_values(torch.sigmoid(x), torch.sigmoid(t2), s)
    (plain,) = torch.autograd.grad(v1, x)
    assert torch.allclose(g1, plain)


# --- rollout, learners ------------------------------------------------------------------------------


def tiny_game(rounds=6):
    return make_game("ipd", {**PAPER, "rounds": rounds})


def test_tabular_state_index_matches_observation_convention():
    game = tiny_game(3)
    a = TabularIPDPolicy(game, {"p_cooperate": TFT})
    b = AlwaysDefect(game)
    ta, tb = play(game, a, b, 4, generator=torch.Generator().manual_seed(0))
    # A (TFT) vs always-defect: start, then (own C, opp D) = CD, then (own D, opp D) = DD
    assert state_index_from_features(ta.features[0]).tolist() == [0, 2, 4, 4]
    assert ta.actions[0].tolist() == [0, 1, 1]
    assert state_index_from_features(tb.features[0]).tolist() == [0, 3, 4, 4]
    assert ta.rewards[0].tolist() == [-3.0, -2.0, -2.0]
    assert torch.equal(ta.opponent_rewards, tb.rewards)


def test_tabular_policy_acts_like_the_classic_tit_for_tat():
    game = tiny_game(8)
    trained_tft = TabularIPDPolicy(game, {"p_cooperate": TFT})
    g = torch.Generator().manual_seed(3)
    opponent = TabularIPDPolicy(game, {"p_cooperate": [0.5] * 5})
    _, tb = play(game, opponent, trained_tft, 16, generator=g)
    ta2, _ = play(game, opponent, TitForTat(game), 16, generator=torch.Generator().manual_seed(3))
    # same opponent randomness -> same moves
    assert torch.equal(tb.opponent_rewards, ta2.rewards)


@pytest.mark.parametrize("proximal", [False, True])
def test_adalign_update_runs_and_changes_the_policy(proximal):
    torch.manual_seed(0)
    game = tiny_game()
    s = AdAlignSettings(beta=1.0, proximal=proximal, epochs=1, minibatches=2, critic_steps=2)
    learners = [AdAlignLearner(TabularIPDPolicy(game), StateValueTable(), StateValueTable(), s)
                for _ in range(2)]
    g = torch.Generator().manual_seed(0)
    ta, tb = play(game, learners[0].policy, learners[1].policy, 32, generator=g)
    before = learners[0].policy.net.logits.detach().clone()
    info = adalign_update(learners[0], ta, g)
    assert set(info) == {"critic_loss", "opponent_critic_loss", "policy_loss"}
    assert not torch.equal(before, learners[0].policy.net.logits)


def test_naive_learner_and_ppo_learn_to_defect_against_always_defect():
    torch.manual_seed(0)
    game = tiny_game(4)
    for update, settings in ((actor_critic_update, ActorCriticSettings(policy_lr=0.2, critic_lr=1.0)),
                             # PPO as adversary_training trains it, with the actor-critic's defaults above.
                             (ppo_update, AdversarySettings(policy_lr=0.1, critic_lr=1.0, epochs=2, minibatches=2,
                                                            gamma=0.96, critic_steps=10, critic_refits=2,
                                                            entropy_coef=0.0))):
        learner = Learner(TabularIPDPolicy(game), StateValueTable(), settings)
        g = torch.Generator().manual_seed(1)
        for _ in range(15):
            traj, _ = play(game, learner.policy, AlwaysDefect(game), 64, generator=g)
            if update is ppo_update:
                update(learner, traj, g)
            else:
                update(learner, traj)
        p = learner.policy.net.p_cooperate()
        assert float(p[0]) < 0.3 and float(p[2]) < 0.3  # start and CD: defect


def test_gru_learner_updates_on_sequences():
    torch.manual_seed(0)
    game = tiny_game(5)
    n_features = game.observe(game.init(1)).features.shape[1]
    s = AdAlignSettings(critic_steps=1, critic_refits=1)
    learner = AdAlignLearner(GRUPolicy(game, net=GRUNet(n_features, 2, 8)), GRUNet(n_features, 1, 8),
                             GRUNet(n_features, 1, 8), s)
    g = torch.Generator().manual_seed(0)
    ta, _ = play(game, learner.policy, TitForTat(game), 8, generator=g)
    assert ta.features.shape == (8, 6, n_features)
    adalign_update(learner, ta, g)


# --- checkpoints -----------------------------------------------------------------------------------


def observations(game, moves):
    """Observations of a fixed history, seen from the adversary seat."""
    state, out = game.init(1), []
    for own, other in moves:
        out.append(game.observe(state))
        state, _ = game.step(state, torch.tensor([other]), torch.tensor([own]))
    return out


def test_tabular_checkpoint_round_trip(tmp_path):
    game = tiny_game()
    net = OneStepMemoryNet([0.9, 0.95, 0.1, 0.85, 0.05])
    policy = TabularIPDPolicy(game, net=net)
    path = save_policy(tmp_path / "p.pt", policy, settings={"beta": 1.0},
                       provenance={"seed": 3}, metrics={"mean_reward": -1.0})
    spec = read_checkpoint(path)
    assert spec["kind"] == "ipd_one_step_memory" and spec["game"] == "ipd"
    assert spec["game_params"]["rounds"] == 6 and spec["provenance"] == {"seed": 3}
    assert spec["policy_params"]["p_cooperate"] == pytest.approx([0.9, 0.95, 0.1, 0.85, 0.05], abs=1e-6)
    loaded = load_policy(path)
    assert isinstance(loaded, TabularIPDPolicy)
    for obs in observations(game, [(0, 0), (0, 1), (1, 0), (1, 1), (0, 0)]):
        p1, _ = policy.act(obs, policy.reset(1))
        p2, _ = loaded.act(obs, loaded.reset(1))
        assert torch.allclose(p1, p2)


def test_gru_checkpoint_round_trip_keeps_recurrent_behaviour(tmp_path):
    torch.manual_seed(0)
    game = tiny_game()
    policy = GRUPolicy(game, {"hidden_size": 8})
    path = save_policy(tmp_path / "gru.pt", policy)
    loaded = load_policy(path)
    m1, m2 = policy.reset(1), loaded.reset(1)
    for obs in observations(game, [(0, 0), (1, 0), (1, 1), (0, 1)]):
        p1, m1 = policy.act(obs, m1)
        p2, m2 = loaded.act(obs, m2)
        assert torch.allclose(p1, p2) and torch.allclose(p1.sum(1), torch.ones(1))


def test_classic_policies_cannot_be_saved(tmp_path):
    from shaping_core.policies.base import PolicyParamsError
    with pytest.raises(PolicyParamsError):
        save_policy(tmp_path / "x.pt", TitForTat(tiny_game()))


def test_not_a_checkpoint_is_rejected(tmp_path):
    from shaping_core.policies.base import PolicyParamsError
    torch.save({"hello": 1}, tmp_path / "x.pt")
    with pytest.raises(PolicyParamsError, match="not a policy checkpoint"):
        load_policy(tmp_path / "x.pt")


# --- experiments and CLI ---------------------------------------------------------------------------


def test_cli_selfplay_tiny_run_writes_outputs(tmp_path, capsys):
    from shaping_core.__main__ import main
    assert main(["ipd-selfplay", "--algo", "adalign", "--seeds", "2", "--iterations", "2",
                 "--batch-size", "8", "--rounds", "5", "--device", "cpu", "--out", str(tmp_path)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    summary = json.loads(last)
    assert set(summary["p_cooperate"]) == {"start", "CC", "CD", "DC", "DD"}
    assert all(len(v) == 2 for v in summary["p_cooperate"].values())
    assert len(summary["mean_reward"]) == 2 and summary["seeds"] == [0, 1]
    for name in ("config.json", "metrics.json", "p_cooperate.png", "checkpoints/adalign_seed1.pt"):
        assert (tmp_path / name).exists()
    assert isinstance(load_policy(tmp_path / "checkpoints/adalign_seed0.pt"), TabularIPDPolicy)


def test_cli_lola_exact_finds_cooperation(tmp_path, capsys):
    from shaping_core.__main__ import main
    main(["ipd-selfplay", "--algo", "lola-exact", "--seeds", "1", "--device", "cpu", "--out", str(tmp_path)])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["mean_reward"][0] > -1.2


def test_cli_league_tiny(tmp_path, capsys):
    from shaping_core.__main__ import main
    main(["ipd-league", "--iterations", "2", "--rounds", "5", "--episodes", "8", "--device", "cpu",
          "--out", str(tmp_path)])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    names = summary["players"]
    assert {"adalign", "naive", "lola-exact", "tit_for_tat", "always_defect"} <= set(names)
    matrix = summary["matrix"]
    d, c = names.index("always_defect"), names.index("always_cooperate")
    assert matrix[d][c] == 0.0 and matrix[c][d] == -3.0
    assert (tmp_path / "league.csv").exists() and (tmp_path / "league.png").exists()


@pytest.mark.parametrize("argv, message", [
    (["ipd-selfplay", "--algo", "nope", "--out", "x"], "invalid choice"),
    (["ipd-selfplay", "--algo", "naive", "--seeds", "0", "--out", "x"], "must be at least 1"),
    (["ipd-selfplay", "--algo", "naive", "--beta", "1", "--out", "x"], "--beta only applies"),
    (["ipd-selfplay", "--algo", "naive"], "--out"),
])
def test_cli_bad_arguments_exit_with_a_message(argv, message, capsys):
    from shaping_core.__main__ import main
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
