"""The bandit's learner zoo: shaping_core/learners/bandit_zoo.py and the learners it adds."""

import functools
import itertools
import math

import pytest
import torch

from shaping_core.games import make_game
from shaping_core.learners import LEARNERS, family, learners_for, make_learner, zoo_for
from shaping_core.learners.bandit_learner import MemoryState
from shaping_core.learners.bandit_zoo import BANDIT_FAMILIES, BANDIT_LEARNERS
from shaping_core.participants import ParticipantParamsError, ParticipantView
from shaping_core.policies import make_policy
from shaping_core.simulation import play_episodes

BANDIT = make_game("bandit")


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def view(trial, last_action, last_reward):
    """A batch-of-one bandit view."""
    def long(x):
        return torch.tensor([x], dtype=torch.long)
    return ParticipantView(trial=long(trial), last_action=long(last_action),
                           last_reward=torch.tensor([float(last_reward)]), last_seen=long(-1),
                           cue=long(-1))


def replay(learner, history):
    """The learner's choice probabilities [2] before each trial of `history` ((choice, reward)
    pairs) and after the last one."""
    state = learner.reset(1)
    out = []
    for trial, (action, reward) in enumerate([(-1, 0), *history]):
        probs, state = learner.act(view(trial, action, reward), state)
        out.append(probs[0].double())
    return out


def softmax2(a, b):
    return torch.softmax(torch.tensor([float(a), float(b)]), dim=0)


def drawn(state, name):
    """A drawn parameter [B] from any learner's state in the zoo."""
    if isinstance(state, MemoryState):
        return state.params[name]
    return state[name] if isinstance(state, dict) else getattr(state, name)


# --- the zoo as a whole ----------------------------------------------------------------------------


def test_the_zoo_has_eight_or_more_distinct_families_of_registered_learners():
    names = [f.name for f in zoo_for("bandit")]
    assert len(names) >= 8 and len(set(names)) == len(names)
    bandit_learners = {cls.name for cls in learners_for("bandit")}
    assert all(f.learner in bandit_learners and f.reference for f in BANDIT_FAMILIES)
    # Every learner added for the zoo is registered under its own name and used by a family.
    assert all(LEARNERS[cls.name] is cls for cls in BANDIT_LEARNERS)
    assert {cls.name for cls in BANDIT_LEARNERS} <= {f.learner for f in BANDIT_FAMILIES}
    assert family("bandit", "thompson").learner == "thompson"


@functools.cache
def played(name):
    """200 participants of one family against the random schedule (the whole 100-trial game),
    checking every probability table on the way: (win-stay rate, lose-shift rate, rate of staying
    after a loss that followed a win on the same option)."""
    checked_batches = []

    class Checked:
        def __init__(self, inner):
            self.inner = inner

        def reset(self, batch_size, **kwargs):
            return self.inner.reset(batch_size, **kwargs)

        def act(self, view, state):
            probs, state = self.inner.act(view, state)
            assert probs.shape == (200, 2) and not bool(probs.isnan().any())
            assert bool((probs >= 0).all())
            assert torch.allclose(probs.sum(dim=1), torch.ones(200), atol=1e-5)
            checked_batches.append(1)
            return probs, state

    learner = Checked(family("bandit", name).make(BANDIT))
    episodes = play_episodes(BANDIT, learner, make_policy("random_schedule", BANDIT), 200,
                             generator=generator(0))
    assert len(checked_batches) == BANDIT.max_trials
    a, r = episodes.participant_actions, episodes.participant_rewards
    stay, won = a[:, 1:] == a[:, :-1], r[:, :-1] > 0
    lost_after_win = (r[:, 1:-1] == 0) & (r[:, :-2] > 0) & stay[:, :-1]
    return torch.tensor([stay[won].float().mean(), (~stay[~won]).float().mean(),
                         stay[:, 1:][lost_after_win].float().mean()])


@pytest.mark.parametrize("name", [f.name for f in BANDIT_FAMILIES])
def test_every_family_plays_whole_games_with_valid_probabilities(name):
    statistics = played(name)
    assert bool(((statistics > 0) & (statistics < 1)).all())


def test_families_behave_differently():
    # Win-stay, lose-shift and staying after a loss that followed a win: every pair of families
    # differs by at least 0.025 (about 5 standard errors) in one of them, so the zoo is broad.
    names = [f.name for f in BANDIT_FAMILIES]
    for one, other in itertools.combinations(names, 2):
        gap = float((played(one) - played(other)).abs().max())
        assert gap > 0.025, (one, other, gap)


@pytest.mark.parametrize("name", [f.name for f in BANDIT_FAMILIES])
def test_parameters_are_drawn_per_participant_within_the_family_ranges(name):
    f = family("bandit", name)
    state = f.make(BANDIT).reset(64, generator=generator(3))
    ranges = {k: v for k, v in f.params.items() if isinstance(v, list)}
    assert ranges, "every family is a population"
    for key, (low, high) in ranges.items():
        values = drawn(state, key)
        assert bool(((values >= low) & (values <= high)).all()), key
        assert len(set(values.tolist())) == 64, key


# --- each learner's equations, by hand -------------------------------------------------------------


def test_asymmetric_rates_move_q_by_alpha_pos_or_alpha_neg_times_the_error():
    learner = make_learner("q_asymmetric", BANDIT, {"alpha_pos": 0.5, "alpha_neg": 0.2, "beta": 3,
                                                     "kappa": 0.4})
    probs = replay(learner, [(1, 1), (1, 0), (1, 0)])
    assert torch.allclose(probs[0], softmax2(0, 0).double())
    # Q1: 0 + 0.5 * (1 - 0) = 0.5, then 0.5 + 0.2 * (0 - 0.5) = 0.4, then 0.4 - 0.2 * 0.4 = 0.32.
    for after, q1 in zip(probs[1:], (0.5, 0.4, 0.32)):
        assert torch.allclose(after, softmax2(0, 3 * q1 + 0.4).double(), atol=1e-6)


def test_forgetting_decays_the_unchosen_value():
    learner = make_learner("q_decay", BANDIT, {"alpha": 0.5, "forget": 0.25, "beta": 2, "kappa": 0.3})
    probs = replay(learner, [(0, 1), (1, 1), (1, 0)])
    assert torch.allclose(probs[1], softmax2(2 * 0.5 + 0.3, 0).double(), atol=1e-6)
    assert torch.allclose(probs[2], softmax2(2 * 0.375, 2 * 0.5 + 0.3).double(), atol=1e-6)
    assert torch.allclose(probs[3], softmax2(2 * 0.28125, 2 * 0.25 + 0.3).double(), atol=1e-6)


def test_choice_kernel_builds_a_habit_whatever_the_reward():
    learner = make_learner("choice_kernel", BANDIT, {"alpha": 0.5, "beta": 2, "alpha_c": 0.25,
                                                      "beta_c": 2})
    probs = replay(learner, [(0, 0), (1, 1)])
    # CK = (0.25, 0) after choosing 0; then CK = (0.1875, 0.25) and Q1 = 0.5 after choosing 1.
    assert torch.allclose(probs[1], softmax2(2 * 0.25, 0).double(), atol=1e-6)
    assert torch.allclose(probs[2], softmax2(2 * 0.1875, 2 * 0.5 + 2 * 0.25).double(), atol=1e-6)


def test_mixture_weighs_win_stay_lose_shift_against_the_softmax():
    w, stay_win, shift_loss, beta = 0.4, 0.9, 0.7, 2.0
    params = {"w": w, "alpha": 0.5, "beta": beta, "p_stay_win": stay_win, "p_shift_loss": shift_loss}
    learner = make_learner("rl_wsls_mixture", BANDIT, params)
    probs = replay(learner, [(0, 1), (0, 0)])
    assert torch.allclose(probs[0], torch.tensor([0.5, 0.5], dtype=torch.float64))
    after_win = w * torch.tensor([stay_win, 1 - stay_win]) + (1 - w) * softmax2(beta * 0.5, 0)
    assert torch.allclose(probs[1], after_win.double(), atol=1e-6)
    after_loss = w * torch.tensor([1 - shift_loss, shift_loss]) + (1 - w) * softmax2(beta * 0.25, 0)
    assert torch.allclose(probs[2], after_loss.double(), atol=1e-6)


def test_beta_bernoulli_softmax_on_leaky_posterior_means():
    learner = make_learner("beta_bernoulli_softmax", BANDIT, {"prior": 1, "retention": 0.5,
                                                               "beta": 4, "kappa": 0.2})
    probs = replay(learner, [(0, 1), (1, 0)])
    # Beta(2, 1) vs Beta(1, 1): means 2/3, 1/2. Then the evidence halves and option 1 fails:
    # Beta(1.5, 1) vs Beta(1, 2): means 0.6, 1/3.
    assert torch.allclose(probs[1], softmax2(4 * 2 / 3 + 0.2, 4 * 0.5).double(), atol=1e-6)
    assert torch.allclose(probs[2], softmax2(4 * 0.6, 4 / 3 + 0.2).double(), atol=1e-6)


def _p_first_beats_second(a0, b0, a1, b1):
    """P(theta_0 > theta_1), theta_k ~ Beta(a_k, b_k), a1 whole (Cook 2005's closed form)."""
    def log_beta(x, y):
        return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)
    return 1 - sum(math.exp(log_beta(a0 + i, b0 + b1) - math.log(b1 + i) - log_beta(1 + i, b1)
                            - log_beta(a0, b0)) for i in range(a1))


def test_thompson_returns_the_probability_that_an_option_draws_higher():
    learner = make_learner("thompson", BANDIT, {"prior": 1, "retention": 1})
    probs = replay(learner, [(0, 1)])  # Beta(2, 1) against the untried Beta(1, 1)
    assert math.isclose(float(probs[1][0]), 2 / 3, abs_tol=1e-4)
    params = {"prior": torch.ones(3), "retention": torch.ones(3)}
    counts = torch.tensor([[2, 0, 0, 2], [59, 1, 74, 2], [6, 29, 11, 44]], dtype=torch.float32)
    memory = {"successes": counts[:, [0, 2]], "failures": counts[:, [1, 3]],
              "last_action": torch.zeros(3, dtype=torch.long)}
    p0 = learner.choose(memory, params)[:, 0]
    for row, (s0, f0, s1, f1) in enumerate(counts.long().tolist()):
        exact = _p_first_beats_second(s0 + 1, f0 + 1, s1 + 1, f1 + 1)
        assert math.isclose(float(p0[row]), exact, abs_tol=1e-3), (row, float(p0[row]), exact)
    assert math.isclose(float(p0[0]), 0.95, abs_tol=1e-3)  # Beta(3, 1) vs Beta(1, 3)


def test_recent_mean_forgets_outcomes_older_than_its_memory():
    learner = make_learner("recent_mean", BANDIT, {"memory": 2, "beta": 3, "kappa": 0.0})
    probs = replay(learner, [(0, 1), (0, 0), (0, 0), (1, 1)])
    assert torch.allclose(probs[1], softmax2(3 * 1, 0).double(), atol=1e-6)
    assert torch.allclose(probs[2], softmax2(3 * 0.5, 0).double(), atol=1e-6)
    assert torch.allclose(probs[3], softmax2(0, 0).double(), atol=1e-6)  # the reward is forgotten
    assert torch.allclose(probs[4], softmax2(0, 3 * 1).double(), atol=1e-6)


@pytest.mark.parametrize("name, params, message", [
    ("q_asymmetric", {"alpha_pos": 1.5}, "alpha_pos must lie in [0, 1]"),
    ("q_decay", {"forget": [-0.1, 0.2]}, "forget must lie in [0, 1]"),
    ("choice_kernel", {"habit": 1}, "unknown parameter(s) habit"),
    ("rl_wsls_mixture", {"w": [0.8, 0.2]}, "w: low (0.8) must not exceed high (0.2)"),
    ("beta_bernoulli_softmax", {"retention": "high"}, "retention must be a number or a [low, high]"),
    ("thompson", {"prior": 0}, "prior must lie in [0.5, 20]"),
    ("recent_mean", {"memory": 0}, "memory must be a whole number in 1..5"),
    ("recent_mean", {"memory": 2.5}, "memory must be a whole number"),
])
def test_bad_parameters_are_named(name, params, message):
    with pytest.raises(ParticipantParamsError) as error:
        make_learner(name, BANDIT, params)
    assert message in str(error.value)


def test_the_zoo_learners_play_the_bandit_only():
    with pytest.raises(ParticipantParamsError, match="cannot play"):
        make_learner("thompson", make_game("ipd"))


# --- tabular forms ---------------------------------------------------------------------------------


def chain(table, history):
    """The tabular chain's choice probabilities [2] before each trial of `history` and after the
    last one: the mixture over grid nodes, followed through each (choice, reward)."""
    n_states = table.probs.shape[0]
    where = torch.zeros(n_states, dtype=torch.float64).index_add_(0, table.initial_index,
                                                                  table.initial_weight)
    out = [where @ table.probs]
    for action, reward in history:
        index, weight = table.next_index[:, action, reward], table.next_weight[:, action, reward]
        moved = (where[:, None] * weight).flatten()
        where = torch.zeros_like(where).index_add_(0, index.flatten(), moved)
        out.append(where @ table.probs)
    return out


def random_histories(n, length, seed):
    g = generator(seed)
    return [list(zip(torch.randint(2, (length,), generator=g).tolist(),
                     torch.randint(2, (length,), generator=g).tolist())) for _ in range(n)]


def assert_well_formed(table):
    n_states = table.probs.shape[0]
    ones = torch.ones((), dtype=torch.float64)
    assert torch.allclose(table.probs.sum(dim=1), ones)
    assert torch.allclose(table.next_weight.sum(dim=-1), ones)
    assert bool((table.next_weight >= 0).all())
    assert int(table.next_index.min()) >= 0 and int(table.next_index.max()) < n_states
    assert math.isclose(float(table.initial_weight.sum()), 1.0)


# Parameters whose values stay on the grid: rates of 1/2 (or 1) keep every value a multiple of
# 2^-length, so a grid of 2^length + 1 nodes over [0, 1] (2^(length+1) + 1 over [-1, 1] for the
# habit) holds them all and the chain must match the learner exactly.
ON_THE_GRID = [
    ("q_asymmetric", {}, {"alpha_pos": 1.0, "alpha_neg": 0.5, "beta": 3.0, "kappa": 0.4}, 6, 65),
    ("q_decay", {}, {"alpha": 0.5, "forget": 0.5, "beta": 3.0, "kappa": -0.6}, 6, 65),
    ("choice_kernel", {}, {"alpha": 0.5, "beta": 3.0, "alpha_c": 0.5, "beta_c": 1.5}, 4, 33),
    ("rl_wsls_mixture", {}, {"w": 0.3, "alpha": 0.5, "beta": 3.0, "p_stay_win": 0.9,
                             "p_shift_loss": 0.6}, 6, 65),
    ("recent_mean", {"memory": 2}, {"beta": 3.0, "kappa": 0.4}, 12, 2),
    ("recent_mean", {"memory": 3}, {"beta": 6.0, "kappa": -0.5}, 12, 2),
]


@pytest.mark.parametrize("name, fixed, values, length, grid", ON_THE_GRID)
def test_tabular_chain_gives_the_learners_probabilities_exactly(name, fixed, values, length, grid):
    learner = make_learner(name, BANDIT, {**fixed, **values})
    table = learner.tabular(values, grid)
    assert_well_formed(table)
    for history in random_histories(4, length, seed=len(name)):
        for expected, tabulated in zip(replay(learner, history), chain(table, history)):
            assert torch.allclose(tabulated, expected, atol=1e-6), history


def test_tabular_chain_interpolates_values_off_the_grid():
    values = {"alpha_pos": 0.3, "alpha_neg": 0.15, "beta": 6.0, "kappa": 0.3}
    learner = make_learner("q_asymmetric", BANDIT, values)
    table = learner.tabular(values, 101)
    assert_well_formed(table)
    assert table.next_index.shape[-1] == 2  # only the chosen value moves: two neighbouring nodes
    worst = max(float((tabulated - expected).abs().max())
                for history in random_histories(4, 10, seed=1)
                for expected, tabulated in zip(replay(learner, history), chain(table, history)))
    assert worst < 1e-3


def test_tabular_forms_check_their_values():
    learner = make_learner("q_decay", BANDIT)
    with pytest.raises(ParticipantParamsError, match="needs a value for forget"):
        learner.tabular({"alpha": 0.3, "beta": 4.0, "kappa": 0.0}, 11)
    with pytest.raises(ParticipantParamsError, match="forget must lie in"):
        learner.tabular({"alpha": 0.3, "forget": 2.0, "beta": 4.0, "kappa": 0.0}, 11)
    with pytest.raises(ParticipantParamsError, match="at least 2 nodes"):
        learner.tabular({"alpha": 0.3, "forget": 0.2, "beta": 4.0, "kappa": 0.0}, 1)


@pytest.mark.parametrize("name", ["beta_bernoulli_softmax", "thompson"])
def test_learners_with_large_states_have_no_tabular_form(name):
    assert not hasattr(LEARNERS[name], "tabular")
