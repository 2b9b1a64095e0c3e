"""Synthetic learners: shaping_core/learners (participant models with known parameters)."""

import math

import pytest
import torch

from shaping_core.games import make_game
from shaping_core.games.gonogo import GO, NOGO, RESPOND, WITHHOLD
from shaping_core.learners import LEARNERS, learners_for, make_learner
from shaping_core.learners.q_learning import QLearningParams, QState
from shaping_core.participants import ParticipantModel, ParticipantParamsError, ParticipantView
from shaping_core.policies import make_policy
from shaping_core.simulation import play_episodes

C, D = 0, 1

# Small games keep the suite fast.
GAME_PARAMS = {
    "ipd": {"rounds": 8},
    "bandit": {"trials": 30, "rewards_per_option": 8},
    "gonogo": {"trials": 40, "nogo_trials": 8},
    "trust": {"rounds": 5},
}
ADVERSARY = {"ipd": "random", "bandit": "random_schedule", "gonogo": "random_schedule",
             "trust": "random_repayment"}



def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def view(trial, last_action, last_reward, last_seen=None, cue=None):
    """A batch-of-one view."""
    def long(x):
        return torch.tensor([x], dtype=torch.long)
    return ParticipantView(trial=long(trial), last_action=long(last_action),
                           last_reward=torch.tensor([float(last_reward)]),
                           last_seen=long(-1 if last_seen is None else last_seen),
                           cue=long(-1 if cue is None else cue))


class Checked(ParticipantModel):
    """Wraps a learner in a game and checks every probability table it returns."""

    name, label, games = "checked", "Checked", ("ipd", "bandit", "gonogo", "trust")

    def __init__(self, inner):
        self.inner, self.game, self.params, self.calls = inner, inner.game, inner.params, 0

    def reset(self, batch_size, *, generator=None, device="cpu"):
        self.batch_size = batch_size
        return self.inner.reset(batch_size, generator=generator, device=device)

    def act(self, view, state):
        probs, state = self.inner.act(view, state)
        assert probs.shape == (self.batch_size, self.inner.n_actions)
        assert bool((probs >= 0).all()) and not bool(probs.isnan().any())
        assert torch.allclose(probs.sum(dim=1), torch.ones(self.batch_size), atol=1e-5)
        self.calls += 1
        return probs, state


def play(game_name, learner_name, learner_params=None, adversary=None, adversary_params=None,
         batch_size=6, seed=0, game_params=None):
    game = make_game(game_name, game_params or GAME_PARAMS[game_name])
    learner = make_learner(learner_name, game, learner_params)
    policy = make_policy(adversary or ADVERSARY[game_name], game, adversary_params)
    return play_episodes(game, learner, policy, batch_size, generator=generator(seed)), game


# --- every learner in every game it plays ----------------------------------------------------------

COMBINATIONS = [(name, game) for name, cls in LEARNERS.items() for game in cls.games]


@pytest.mark.parametrize("learner_name, game_name", COMBINATIONS)
def test_probabilities_are_valid_in_a_full_game(learner_name, game_name):
    game = make_game(game_name, GAME_PARAMS[game_name])
    checked = Checked(make_learner(learner_name, game))
    episodes = play_episodes(game, checked, make_policy(ADVERSARY[game_name], game), 5,
                             generator=generator())
    assert checked.calls == game.max_trials
    assert episodes.participant_actions.shape == (5, game.max_trials)


def test_random_lengths_of_the_ipd_are_played():
    episodes, _ = play("ipd", "q_learning", game_params={"continuation_probability": 0.7,
                                                          "max_rounds": 12}, batch_size=16)
    assert len(set(episodes.lengths.tolist())) > 1


def test_registry_lists_learners_per_game():
    names = {game: [cls.name for cls in learners_for(game)] for game in GAME_PARAMS}
    assert names["bandit"] == ["q_learning", "win_stay_lose_shift", "random", "q_asymmetric", "q_decay",
                               "choice_kernel", "rl_wsls_mixture", "beta_bernoulli_softmax", "thompson",
                               "recent_mean"]
    assert names["gonogo"] == ["q_learning", "random", "pavlovian_go_bias", "vigilance_decrement", "base_rate",
                               "response_habit"]
    assert names["ipd"] == ["q_learning", "win_stay_lose_shift", "tit_for_tat_like", "random"]
    assert names["trust"] == ["investor", "random"]


# --- exact behaviour -------------------------------------------------------------------------------


@pytest.mark.parametrize("game_name", ["bandit", "ipd"])
def test_win_stay_lose_shift_without_lapses(game_name):
    episodes, game = play(game_name, "win_stay_lose_shift", {"epsilon": 0}, batch_size=8)
    actions, rewards = episodes.participant_actions, episodes.participant_rewards
    win = rewards[:, :-1] >= (game.params.reward if game_name == "ipd" else 1)
    expected = torch.where(win, actions[:, :-1], 1 - actions[:, :-1])
    assert torch.equal(actions[:, 1:], expected)
    assert bool(win.any()) and bool((~win).any())


def test_win_stay_lose_shift_first_trial_is_uniform_and_lapses_are_uniform():
    game = make_game("bandit")
    learner = make_learner("win_stay_lose_shift", game, {"epsilon": 0.2})
    state = learner.reset(1)
    probs, state = learner.act(view(0, -1, 0), state)
    assert torch.allclose(probs, torch.tensor([[0.5, 0.5]]))
    probs, _ = learner.act(view(1, 0, 0), state)  # a loss on option 0: shift to option 1
    assert torch.allclose(probs, torch.tensor([[0.1, 0.9]]))


def test_tit_for_tat_like_copies_without_noise():
    episodes, _ = play("ipd", "tit_for_tat_like", {"noise": 0, "forgiveness": 0}, batch_size=8)
    actions, adversary = episodes.participant_actions, episodes.adversary_actions
    assert bool((actions[:, 0] == C).all())
    assert torch.equal(actions[:, 1:], adversary[:, :-1])


def test_tit_for_tat_like_noise_and_forgiveness():
    game = make_game("ipd")
    learner = make_learner("tit_for_tat_like", game, {"noise": 0.1, "forgiveness": 0.3})
    state = learner.reset(1)
    first, _ = learner.act(view(0, -1, 0), state)
    after_c, _ = learner.act(view(1, D, 5, last_seen=C), state)
    after_d, _ = learner.act(view(1, C, 0, last_seen=D), state)
    assert torch.allclose(first, torch.tensor([[0.9, 0.1]]))
    assert torch.allclose(after_c, torch.tensor([[0.9, 0.1]]))
    assert math.isclose(float(after_d[0, C]), 0.3 + 0.7 * 0.1, rel_tol=1e-6)


def softmax2(a, b):
    return torch.softmax(torch.tensor([[float(a), float(b)]]), dim=1)


def test_q_learning_bandit_update_by_hand():
    alpha, beta, kappa = 0.3, 4.0, 0.5
    learner = make_learner("q_learning", make_game("bandit"),
                           {"alpha": alpha, "beta": beta, "kappa": kappa})
    state = learner.reset(1)
    probs, state = learner.act(view(0, -1, 0), state)
    assert torch.allclose(probs, softmax2(0, 0))
    probs, state = learner.act(view(1, 1, 1), state)  # option 1 paid 1
    q1 = alpha * 1
    assert torch.allclose(state.q, torch.tensor([[[0.0, q1]]]))
    assert torch.allclose(probs, softmax2(0, beta * q1 + kappa))
    probs, state = learner.act(view(2, 1, 0), state)  # option 1 paid nothing
    q1 = q1 + alpha * (0 - q1)
    assert math.isclose(float(state.q[0, 0, 1]), 0.21, rel_tol=1e-6)
    assert torch.allclose(probs, softmax2(0, beta * q1 + kappa))
    probs, state = learner.act(view(3, 0, 1), state)  # option 0 paid 1
    q0 = alpha * 1
    assert torch.allclose(state.q, torch.tensor([[[q0, q1]]]))
    assert torch.allclose(probs, softmax2(beta * q0 + kappa, beta * q1))


def test_q_learning_gonogo_learns_about_the_previous_stimulus():
    alpha, beta, kappa, prior = 0.5, 3.0, 0.2, 0.8
    learner = make_learner("q_learning", make_game("gonogo"),
                           {"alpha": alpha, "beta": beta, "kappa": kappa, "respond_prior": prior})
    state = learner.reset(1)
    assert torch.allclose(state.q, torch.tensor([[[0.0, prior], [0.0, prior]]]))
    probs, state = learner.act(view(0, -1, 0, cue=GO), state)
    assert torch.allclose(probs, softmax2(0, beta * prior))
    # Responded to go and was right; now a no-go cue: the go row learns, the no-go row decides.
    probs, state = learner.act(view(1, RESPOND, 1, cue=NOGO), state)
    q_go_respond = prior + alpha * (1 - prior)
    assert math.isclose(float(state.q[0, GO, RESPOND]), q_go_respond, rel_tol=1e-6)
    assert torch.allclose(probs, softmax2(0, beta * prior + kappa))
    # Responded to no-go (a commission error, reward 0); now go again.
    probs, state = learner.act(view(2, RESPOND, 0, cue=GO), state)
    assert math.isclose(float(state.q[0, NOGO, RESPOND]), prior * (1 - alpha), rel_tol=1e-6)
    assert torch.allclose(probs, softmax2(0, beta * q_go_respond + kappa))
    # Withheld on go (an omission, reward 0): Q[go, withhold] stays 0.
    _, state = learner.act(view(3, WITHHOLD, 0, cue=GO), state)
    assert float(state.q[0, GO, WITHHOLD]) == 0.0


def test_q_learning_ipd_states_scaled_rewards_and_discount():
    alpha, gamma = 0.4, 0.5
    game = make_game("ipd")  # reward_scale 5 (the temptation payoff)
    learner = make_learner("q_learning", game, {"alpha": alpha, "beta": 2, "kappa": 0,
                                                "gamma": gamma})
    state = learner.reset(1)
    _, state = learner.act(view(0, -1, 0), state)
    assert int(state.previous_state) == 2  # the start state
    # Round 0: we cooperated, they cooperated (R = 3); the next state is "they cooperated".
    probs, state = learner.act(view(1, C, 3, last_seen=C), state)
    assert math.isclose(float(state.q[0, 2, C]), alpha * 3 / 5, rel_tol=1e-6)
    assert torch.allclose(probs, softmax2(0, 0))
    # With values already in the next state, the target adds gamma * their max.
    q = state.q.clone()
    q[0, D] = torch.tensor([0.2, 0.4])
    state = QState(q=q, previous_state=state.previous_state, alpha=state.alpha, beta=state.beta,
                   kappa=state.kappa, gamma=state.gamma)
    probs, state = learner.act(view(2, D, 5, last_seen=D), state)  # we defected on their C: T
    assert math.isclose(float(state.q[0, C, D]), alpha * (5 / 5 + gamma * 0.4), rel_tol=1e-6)
    assert torch.allclose(probs, softmax2(2 * 0.2, 2 * 0.4))


# --- populations -----------------------------------------------------------------------------------


def test_ranges_are_drawn_per_episode_and_reproducibly():
    learner = make_learner("q_learning", make_game("bandit"), {"alpha": [0.1, 0.5], "beta": [2, 6]})
    first = learner.reset(16, generator=generator(7))
    again = learner.reset(16, generator=generator(7))
    other = learner.reset(16, generator=generator(8))
    assert len(set(first.alpha.tolist())) == 16
    assert bool(((first.alpha >= 0.1) & (first.alpha <= 0.5)).all())
    assert bool(((first.beta >= 2) & (first.beta <= 6)).all())
    assert torch.equal(first.alpha, again.alpha) and torch.equal(first.beta, again.beta)
    assert not torch.equal(first.alpha, other.alpha)
    assert bool((first.kappa == 0.3).all())  # a fixed value is the same everywhere


def test_fixed_parameters_draw_nothing():
    g = generator(3)
    before = g.get_state()
    make_learner("investor", make_game("trust")).reset(4, generator=g)
    assert torch.equal(g.get_state(), before)


def test_populations_play_reproducibly():
    params = {"initial_trust": [0.1, 0.9], "noise": [0, 0.3]}
    first, _ = play("trust", "investor", params, batch_size=8, seed=5)
    again, _ = play("trust", "investor", params, batch_size=8, seed=5)
    assert torch.equal(first.participant_actions, again.participant_actions)


def test_params_accept_numbers_and_pairs_and_write_numbers_back():
    params = QLearningParams.from_mapping({"alpha": 0.2, "beta": [1, 5]})
    assert params.alpha == (0.2, 0.2) and params.beta == (1.0, 5.0)
    assert QLearningParams(alpha=0.2, beta=(1, 5)) == params
    mapping = params.to_mapping()
    assert mapping["alpha"] == 0.2 and mapping["beta"] == [1.0, 5.0]
    assert mapping["respond_prior"] is None
    assert QLearningParams.from_mapping(mapping) == params


# --- learning works ----------------------------------------------------------------------------------


def test_bandit_q_learner_learns_the_option_that_always_pays():
    learner = make_learner("q_learning", make_game("bandit"))
    batch, g = 64, generator(1)
    state = learner.reset(batch, generator=g)
    last_action, last_reward, chosen = torch.full((batch,), -1), torch.zeros(batch), []
    for t in range(60):
        v = ParticipantView(trial=torch.full((batch,), t), last_action=last_action,
                            last_reward=last_reward, last_seen=torch.full((batch,), -1),
                            cue=torch.full((batch,), -1))
        probs, state = learner.act(v, state)
        last_action = torch.multinomial(probs, 1, generator=g).squeeze(1)
        last_reward = (last_action == 1).float()  # the schedule always rewards option 1
        chosen.append(last_action)
    late = torch.stack(chosen[-20:], dim=1)
    assert float((late == 1).float().mean()) > 0.8


def test_gonogo_learner_makes_some_commission_errors_and_few_omissions():
    episodes, _ = play("gonogo", "q_learning", batch_size=32,
                       game_params={"trials": 100, "nogo_trials": 20})
    nogo = episodes.adversary_actions == NOGO
    commission = float(((episodes.participant_actions == RESPOND) & nogo).sum() / nogo.sum())
    omission = float(((episodes.participant_actions == WITHHOLD) & ~nogo).sum() / (~nogo).sum())
    assert 0.05 < commission < 0.6
    assert omission < 0.1


def test_investor_invests_more_with_a_generous_trustee():
    def mean_investment(fraction):
        episodes, _ = play("trust", "investor", adversary="fixed_fraction",
                           adversary_params={"fraction": fraction}, batch_size=32)
        return float(episodes.participant_actions[:, 1:].float().mean())

    generous, exploitative = mean_investment(1.0), mean_investment(0.0)
    assert generous > 14 > 6 > exploitative


def test_investor_without_noise_invests_its_trust_exactly():
    game = make_game("trust")
    learner = make_learner("investor", game, {"initial_trust": 0.5, "learning_rate": 0.2, "noise": 0})
    state = learner.reset(1)
    probs, state = learner.act(view(0, -1, 0), state)
    assert int(probs.argmax()) == 10 and float(probs.max()) == 1.0
    # Invested 10, got back 100% of 30: gain 2 of a possible 2, trust 0.5 + 0.2 = 0.7.
    probs, state = learner.act(view(1, 10, 30, last_seen=4), state)
    assert int(probs.argmax()) == 14
    # Invested 14, got nothing back: a loss of the whole stake, trust 0.7 - 0.2 = 0.5.
    probs, state = learner.act(view(2, 14, 6, last_seen=0), state)
    assert int(probs.argmax()) == 10
    # Invested nothing: nothing learnt, whatever the trustee "returned".
    probs, _ = learner.act(view(3, 0, 20, last_seen=0), state)
    assert int(probs.argmax()) == 10


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, game, params, message", [
    ("q_learner", "bandit", None, "unknown learner 'q_learner'; expected one of q_learning"),
    ("investor", "ipd", None, "Trust-learning investor cannot play Iterated prisoner's dilemma"),
    ("tit_for_tat_like", "bandit", None, "it plays ipd"),
    ("q_learning", "bandit", {"alpha": 1.5}, "Q-learner: alpha must lie in [0, 1], got 1.5"),
    ("q_learning", "bandit", {"alpha": [0.5, 0.1]}, "alpha: low (0.5) must not exceed high (0.1)"),
    ("q_learning", "bandit", {"beta": [1, 2, 3]}, "beta must be a number or a [low, high] pair"),
    ("q_learning", "bandit", {"beta": "4"}, "beta must be a number or a [low, high] pair"),
    ("q_learning", "bandit", {"beta": True}, "beta must be a number or a [low, high] pair"),
    ("q_learning", "bandit", {"kappa": [0, math.inf]}, "kappa must be finite"),
    ("q_learning", "bandit", {"lr": 0.1}, "unknown parameter(s) lr; expected some of alpha"),
    ("q_learning", "bandit", {"respond_prior": 1}, "respond_prior applies to games with a response window (go/no-go) only"),
    ("q_learning", "gonogo", {"gamma": 0.9}, "gamma applies to games whose next state is the adversary's reply"),
    ("q_learning", "ipd", {"gamma": 1}, "gamma must lie in [0, 0.99], got 1"),
    ("win_stay_lose_shift", "ipd", {"epsilon": [0, 2]}, "epsilon must lie in [0, 1], got [0, 2]"),
    ("investor", "trust", {"initial_trust": -0.1}, "initial_trust must lie in [0, 1]"),
    ("random", "trust", {"x": 1}, "Random: unknown parameter(s) x"),
])
def test_bad_input_gives_a_readable_message(name, game, params, message):
    with pytest.raises(ParticipantParamsError) as error:
        make_learner(name, make_game(game), params)
    assert message in str(error.value)
