"""Fitted Q iteration against the surrogate (shaping_core/algorithms/fitted_q.py) and the adversary
it produces (policies/shaping_q.py): exact backups, the optimum of tiny games, checkpoints, replay."""

import dataclasses
import math

import pytest
import torch

from shaping_core.adversary_training import run_training
from shaping_core.evaluation import evaluate
from shaping_core.algorithms.fitted_q import (FittedQSettings, TrialStates, backup, check_game,
                                              choice_probabilities, fit_q_adversary, sample_states,
                                              surrogate_features)
from shaping_core.games import make_game
from shaping_core.learners import make_learner
from shaping_core.learners.population import Population
from shaping_core.policies import make_policy
from shaping_core.policies.checkpoint import load_policy, save_policy
from shaping_core.policies.shaping_q import PlanMean, QShapingAdversary, TrialQNet
from shaping_core.simulation import play_episodes
from shaping_core.surrogate.model import SurrogateParticipant

from helpers import random_surrogate

# Small enough to solve by enumerating every adversary action and participant choice.
TINY = {"bandit": {"trials": 4, "rewards_per_option": 1}, "gonogo": {"trials": 4, "nogo_trials": 2}}


def start(adversary, batch_size=1):
    game = adversary.game
    state = game.init(batch_size)
    hidden, features, mask = surrogate_features(adversary, state, adversary.surrogate.initial_hidden(batch_size))
    return state, hidden, features, mask


def expectimax(adversary, state, hidden, trial, policy=None) -> float:
    """The best expected adversary return from `trial` on, for one episode in `state` whose
    surrogate has read the trials before (`hidden`), by enumerating every action and choice; with
    `policy` (features, mask, trial -> action) the expected return of that policy instead."""
    game = adversary.game
    if trial == game.max_trials:
        return 0.0
    observation = game.observe(state)
    features, mask = adversary.features(observation, hidden), observation.action_mask
    allowed = [policy(features, mask, trial)] if policy else [a for a in range(adversary.n_actions) if mask[0, a]]
    best = -math.inf
    for a in allowed:
        action = torch.tensor([a])
        probs = choice_probabilities(adversary, state, hidden, action)[0]
        value = 0.0
        for c in range(len(game.spec.participant_actions)):
            next_state, result = game.step(state, torch.tensor([c]), action)
            next_hidden = surrogate_features(adversary, next_state, hidden)[0]
            value += float(probs[c]) * (float(result.adversary_reward[0])
                                        + expectimax(adversary, next_state, next_hidden, trial + 1, policy))
        best = max(best, value)
    return best


# Seeds whose surrogate is steerable in the tiny game: the best and the worst of two fixed
# adversaries differ by more than half a point (bandit: 3.25 against 2.66; go/no-go: 3.86 against
# 3.10), so finding the optimum is a real test.
STEERABLE = {"bandit": 1, "gonogo": 0}


def solved(game_name, seed=None):
    """The tiny game and a random surrogate whose inputs weigh three times as much again, so that
    what the participant saw moves its choices strongly."""
    game = make_game(game_name, TINY[game_name])
    surrogate = random_surrogate(game, hidden_size=3, seed=STEERABLE[game_name] if seed is None else seed)
    with torch.no_grad():
        surrogate.gru.weight_ih_l0.mul_(3)
    return game, surrogate


@pytest.mark.parametrize("game_name", ["bandit", "gonogo"])
def test_the_last_trials_backup_is_the_expected_reward(game_name):
    game, surrogate = solved(game_name)
    adversary = QShapingAdversary(game, surrogate=surrogate, width=8)
    states = sample_states(adversary, 16, "random", FittedQSettings(), torch.Generator().manual_seed(0), "cpu")
    last = game.max_trials - 1
    targets = backup(adversary, states[last], last)
    for a in range(adversary.n_actions):
        action = torch.full((16,), a)
        probs = choice_probabilities(adversary, states[last].game_state, states[last].hidden, action)
        _, result0 = game.step(states[last].game_state, torch.zeros(16, dtype=torch.long), action)
        _, result1 = game.step(states[last].game_state, torch.ones(16, dtype=torch.long), action)
        expected = probs[:, 0] * result0.adversary_reward + probs[:, 1] * result1.adversary_reward
        allowed = states[last].mask[:, a]
        assert torch.allclose(targets[allowed, a], expected[allowed], atol=1e-6)


def test_go_nogo_choice_probabilities_depend_on_the_cue_and_the_bandits_do_not():
    for game_name, differs in (("gonogo", True), ("bandit", False)):
        game, surrogate = solved(game_name)
        adversary = QShapingAdversary(game, surrogate=surrogate, width=8)
        state, hidden, _, _ = start(adversary, 4)
        first = choice_probabilities(adversary, state, hidden, torch.zeros(4, dtype=torch.long))
        second = choice_probabilities(adversary, state, hidden, torch.ones(4, dtype=torch.long))
        assert torch.allclose(first.sum(dim=1), torch.ones(4))
        assert (not torch.allclose(first, second, atol=1e-4)) == differs


@pytest.mark.parametrize("game_name", ["bandit", "gonogo"])
def test_fitted_q_finds_the_optimum_of_a_tiny_game(game_name, one_thread):
    game, surrogate = solved(game_name)
    settings = FittedQSettings(passes=2, episodes=512, fit_steps=300, minibatch=256, width=32, learning_rate=3e-3,
                               eval_episodes_per_pass=64)
    adversary, curve = fit_q_adversary(game, surrogate, settings, progress=False)
    state, hidden, features, mask = start(adversary)
    optimum = expectimax(adversary, state, hidden, 0)

    def greedy(features, mask, trial):
        return int(adversary.net.at(trial, features).masked_fill(~mask, -math.inf).argmax())

    achieved = expectimax(adversary, state, hidden, 0, policy=greedy)
    predicted = float(adversary.net.at(0, features).masked_fill(~mask, -math.inf).max())
    # Optimal up to near-ties: actions whose values differ by less than the fit error.
    assert achieved == pytest.approx(optimum, abs=0.01)
    assert predicted == pytest.approx(optimum, abs=0.05)
    assert len(curve) == 2 and {"target_rate" if game_name == "bandit" else "error_rate",
                                "predicted_adversary_return", "fit_rmse_mean"} <= set(curve[-1])


@pytest.mark.parametrize("game_name", ["bandit", "gonogo"])
def test_in_the_tiny_games_the_adversarys_choices_matter(game_name):
    """So that the test above means something: fixed adversaries do much worse than the optimum."""
    game, surrogate = solved(game_name)
    adversary = QShapingAdversary(game, surrogate=surrogate, width=8)
    state, hidden, _, _ = start(adversary)
    optimum = expectimax(adversary, state, hidden, 0)
    fixed = [expectimax(adversary, state, hidden, 0, policy=lambda f, mask, t, end=end: int(mask[0].nonzero()[end]))
             for end in (0, -1)]  # always the lowest / the highest allowed action
    assert optimum > min(fixed) + 0.5


def test_sampled_states_follow_the_rules_and_mix_on_later_passes():
    game, surrogate = solved("bandit")
    adversary = QShapingAdversary(game, surrogate=surrogate, width=8)
    generator = torch.Generator().manual_seed(0)
    states = sample_states(adversary, 32, "random", FittedQSettings(), generator, "cpu")
    assert len(states) == game.max_trials
    assert [int(s.game_state.trial.unique()) for s in states] == list(range(game.max_trials))
    budget = torch.stack([s.game_state.budget_left for s in states])  # [T, N, 2]
    assert bool((budget[1:] <= budget[:-1]).all()) and bool((budget >= 0).all())
    greedy = sample_states(adversary, 8, "greedy", FittedQSettings(explore=0.0), generator, "cpu")
    mixed = TrialStates.cat([states[1].take(torch.arange(4), None), greedy[1]], None)
    assert mixed.features.shape[0] == 12 and mixed.hidden.shape[1] == 12


@pytest.mark.parametrize("game_name", ["bandit", "gonogo"])
def test_a_population_of_the_surrogate_alone_backs_up_as_the_surrogate_does(game_name):
    """Planning against a population takes each sampled person's probabilities from their own
    state; with the adversary's own surrogate as the only member, that is the surrogate path."""
    game, surrogate = solved(game_name)
    adversary = QShapingAdversary(game, surrogate=surrogate, width=8)
    population = Population(game, [SurrogateParticipant(game, surrogate, counterbalance=False)])
    states = sample_states(adversary, 16, "random", FittedQSettings(), torch.Generator().manual_seed(0), "cpu",
                           population)
    for trial in range(game.max_trials):
        assert torch.allclose(backup(adversary, states[trial], trial, population),
                              backup(adversary, states[trial], trial), atol=1e-6)
    kept = TrialStates.cat([states[2].take(torch.tensor([3, 1]), population), states[2]], population)
    assert torch.allclose(backup(adversary, kept, 2, population)[:2], backup(adversary, states[2], 2)[[3, 1]],
                          atol=1e-6)


def test_fitted_q_against_a_population_shapes_that_population(one_thread):
    """Planned against win-stay/lose-shift players, the adversary moves them far more than one planned
    against the surrogate alone, and more than the random schedule does."""
    game = make_game("bandit", {"trials": 12, "rewards_per_option": 3})
    surrogate = random_surrogate(game, hidden_size=8, seed=0)
    wsls = make_learner("win_stay_lose_shift", game, {"epsilon": 0.05})
    settings = FittedQSettings(passes=2, episodes=1024, fit_steps=100, minibatch=256, width=32,
                               learning_rate=3e-3, eval_episodes_per_pass=64)
    planned, _ = fit_q_adversary(game, surrogate, settings, progress=False, population=Population(game, [wsls]))
    alone, _ = fit_q_adversary(game, surrogate, settings, progress=False)

    def rate(adversary):
        return evaluate(game, adversary, wsls, 2048, seed=7)["target_rate"]

    random = rate(make_policy("random_schedule", game))
    assert rate(planned) > max(rate(alone), random) + 0.05


@pytest.mark.parametrize("game_name", ["ipd", "trust"])
def test_games_where_the_adversary_does_not_move_first_are_refused(game_name):
    with pytest.raises(ValueError, match="adversary moves first"):
        check_game(make_game(game_name))


@pytest.mark.parametrize("changes, message", [
    ({"objective": "adalign"}, "max objective only"),
    ({"passes": 0}, "passes must be at least 1"),
    ({"explore": 1.5}, "explore must lie in"),
    ({"learning_rate": 0}, "learning_rate must be positive"),
    ({"pace_lag": -1}, "pace_lag must be at least 0"),
    ({"min_gap": -2}, "min_gap must be at least 0"),
])
def test_bad_fitted_q_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        FittedQSettings(**changes)


def test_a_q_network_for_another_game_shape_is_refused():
    game, surrogate = solved("bandit")
    adversary = QShapingAdversary(game, surrogate=surrogate, width=8)
    with pytest.raises(ValueError, match="Q-network is for 4 trials"):
        QShapingAdversary(make_game("bandit", {"trials": 6, "rewards_per_option": 1}),
                          surrogate=surrogate, net=adversary.net)


def fixed_preference_adversary(game, params, surrogate, q):
    """A Q adversary whose every trial's Q is the constant `q` [A]: it always prefers the same
    actions, so only its rules move its schedule."""
    adversary = QShapingAdversary(game, params, surrogate=surrogate, width=4)
    with torch.no_grad():
        for mlp in adversary.net.trials:
            mlp[-1].weight.zero_()
            mlp[-1].bias.copy_(torch.tensor(q))
    return adversary


@pytest.mark.parametrize("rule, q, budget, behind", [
    ("pace_lag", [5.0, 4.0, -5.0, -5.0], 1, True),  # prefers "none" and "option0": holds option 1 back
    ("pace_lead", [-5.0, 5.0, -5.0, -5.0], 0, False),  # prefers "option0": spends the target early
])
def test_an_adversary_under_a_pace_rule_keeps_its_budget_near_its_even_pace(tmp_path, rule, q, budget, behind):
    """A Q-network that always prefers to withhold would hold the other option's rewards to the
    end, one that always rewards the target would spend the target's rewards on the first trials.
    Under the pace rule (behind) or the lead rule (ahead) the budget never strays from its even
    pace by more than the rule's 2 and one trial's pace, and the whole budget is still placed."""
    game = make_game("bandit", {"trials": 40, "rewards_per_option": 10})
    surrogate = random_surrogate(game, hidden_size=3, seed=0)
    adversary = fixed_preference_adversary(game, {rule: 2}, surrogate, q)
    loaded = load_policy(save_policy(tmp_path / "Q.pt", adversary, settings={}))
    assert getattr(loaded.params, rule) == 2
    without_rule = QShapingAdversary(game, surrogate=surrogate, net=adversary.net)
    for policy, off_pace in ((adversary, False), (loaded, False), (without_rule, True)):
        episodes = play_episodes(game, make_learner("random", game), policy, 8,
                                 generator=torch.Generator().manual_seed(0))
        placed = (episodes.adversary_actions >> budget) & 1  # [B, T] a reward on this option placed
        assert placed.sum(dim=1).tolist() == [10] * 8
        left = 10 - placed.cumsum(dim=1)  # after each trial
        pace = 10 * (40 - torch.arange(1, 41)) / 40
        strayed = float((left - pace if behind else pace - left).max())
        assert (strayed > 4) if off_pace else (strayed <= 2 + 10 / 40)


def test_the_pace_rule_is_refused_where_it_means_nothing():
    game, surrogate = solved("gonogo")
    with pytest.raises(ValueError, match="pace_lag needs a game with a paced budget"):
        QShapingAdversary(game, {"pace_lag": 3}, surrogate=surrogate)
    with pytest.raises(ValueError, match="pace_lead needs a game with a lead budget"):
        QShapingAdversary(game, {"pace_lead": 3}, surrogate=surrogate)
    game, surrogate = solved("bandit")
    with pytest.raises(ValueError, match="pace_lag must be at least 0"):
        QShapingAdversary(game, {"pace_lag": -1}, surrogate=surrogate)
    with pytest.raises(ValueError, match="pace_lead must be at least 0"):
        QShapingAdversary(game, {"pace_lead": -1}, surrogate=surrogate)


@pytest.mark.parametrize("prefers", ["go", "nogo"])
def test_an_adversary_under_the_spacing_rule_keeps_its_no_go_trials_apart(tmp_path, prefers):
    """A Q-network that always prefers go would put every no-go at the end (the budget forces them
    there); one that always prefers no-go would put them at the start. Under the spacing rule
    every two no-go trials have at least `min_gap` go trials between them, and the budget is
    still placed exactly."""
    game = make_game("gonogo", {"trials": 50, "nogo_trials": 6})
    surrogate = random_surrogate(game, hidden_size=3, seed=0)
    adversary = fixed_preference_adversary(game, {"min_gap": 5}, surrogate,
                                           [5.0, -5.0] if prefers == "go" else [-5.0, 5.0])
    loaded = load_policy(save_policy(tmp_path / "Q.pt", adversary, settings={}))
    assert loaded.params.min_gap == 5
    without_rule = QShapingAdversary(game, surrogate=surrogate, net=adversary.net)
    for policy, spaced in ((adversary, True), (loaded, True), (without_rule, False)):
        episodes = play_episodes(game, make_learner("random", game), policy, 8,
                                 generator=torch.Generator().manual_seed(0))
        assert episodes.adversary_actions.sum(dim=1).tolist() == [6] * 8
        for row in episodes.adversary_actions:
            trials = row.nonzero().squeeze(1)
            gaps = (trials[1:] - trials[:-1] - 1).tolist()
            assert (min(gaps) >= 5) if spaced else (min(gaps) == 0), gaps


def test_the_spacing_rule_is_refused_where_it_means_nothing_or_cannot_fit():
    game, surrogate = solved("bandit")
    with pytest.raises(ValueError, match="min_gap needs a game with a spaced budget"):
        QShapingAdversary(game, {"min_gap": 1}, surrogate=surrogate)
    game, surrogate = solved("gonogo")  # 2 no-go trials in 4
    QShapingAdversary(game, {"min_gap": 2}, surrogate=surrogate)
    with pytest.raises(ValueError, match="min_gap 3 does not fit: 2 events 3 trials apart need 5 trials"):
        QShapingAdversary(game, {"min_gap": 3}, surrogate=surrogate)


def test_trial_q_net_evaluates_rows_at_different_trials():
    net = TrialQNet(n_trials=3, n_features=5, n_actions=2, width=4)
    x = torch.randn(6, 5)
    trial = torch.tensor([0, 2, 1, 0, 3, 2])
    out = net(x, trial)
    for row in range(6):
        t = int(trial[row])
        expected = torch.zeros(2) if t == 3 else net.at(t, x[row:row + 1])[0]
        assert torch.allclose(out[row], expected)
    assert net.scale(0) == 3 and net.scale(2) == 1


def test_a_mean_of_plans_is_the_mean_of_their_q_and_refuses_plans_that_do_not_match():
    plans = [TrialQNet(n_trials=3, n_features=5, n_actions=2, width=4) for _ in range(3)]
    mean = PlanMean(plans)
    x = torch.randn(7, 5)
    for t in range(3):
        expected = sum(plan.at(t, x) for plan in plans) / 3
        assert torch.allclose(mean.at(t, x), expected)
    assert mean.shape() == {**plans[0].shape(), "plans": 3}
    with pytest.raises(ValueError, match="at least two plans of one shape, got 1 plans"):
        PlanMean(plans[:1])
    with pytest.raises(ValueError, match="got 2 plans of 2 shapes"):
        PlanMean([plans[0], TrialQNet(n_trials=3, n_features=5, n_actions=2, width=8)])


@pytest.mark.parametrize("threads", [1, 2])
def test_several_plans_are_the_plans_of_their_own_seeds_side_by_side_or_not(threads, one_thread):
    """Plan k is the plan `seed * plans + k` fitted alone, bit for bit, whether the plans run one
    after another (one thread) or in worker processes side by side (two), against a population too."""
    game = make_game("bandit", {"trials": 6, "rewards_per_option": 2})
    surrogate = random_surrogate(game, hidden_size=4, seed=0)
    population = Population(game, [SurrogateParticipant(game, surrogate),
                                   make_learner("win_stay_lose_shift", game, {"epsilon": 0.1})])
    settings = FittedQSettings(passes=2, episodes=64, fit_steps=10, minibatch=32, width=8,
                               eval_episodes_per_pass=16, seed=1, plans=2)
    torch.set_num_threads(threads)
    averaged, curve = fit_q_adversary(game, surrogate, settings, progress=False, population=population)
    torch.set_num_threads(1)
    assert isinstance(averaged.net, PlanMean) and len(averaged.net.plans) == 2
    assert [(row["plan"], row["seed"], row["iteration"]) for row in curve] == [(0, 2, 0), (0, 2, 1),
                                                                                (1, 3, 0), (1, 3, 1)]
    for plan, seed in zip(averaged.net.plans, (2, 3)):
        alone, _ = fit_q_adversary(game, surrogate, dataclasses.replace(settings, plans=1, seed=seed),
                                   progress=False, population=population)
        for (name, mine), theirs in zip(plan.state_dict().items(), alone.net.state_dict().values()):
            assert torch.equal(mine, theirs), name


def test_a_saved_mean_of_plans_loads_and_plays_the_same(tmp_path, one_thread):
    game, surrogate = solved("bandit", seed=2)
    settings = FittedQSettings(passes=1, episodes=64, fit_steps=10, minibatch=64, width=8,
                               eval_episodes_per_pass=16, plans=2)
    adversary, _ = fit_q_adversary(game, surrogate, settings, progress=False)
    loaded = load_policy(save_policy(tmp_path / "Q.pt", adversary))
    assert isinstance(loaded.net, PlanMean) and loaded.net.shape()["plans"] == 2
    participant = make_learner("q_learning", game)
    played = [play_episodes(game, participant, policy, 32, generator=torch.Generator().manual_seed(5))
              for policy in (adversary, loaded)]
    assert torch.equal(played[0].adversary_actions, played[1].adversary_actions)


def test_a_saved_q_adversary_loads_with_its_surrogate_and_plays_the_same(tmp_path, one_thread):
    game, surrogate = solved("gonogo", seed=4)
    settings = FittedQSettings(passes=1, episodes=64, fit_steps=20, minibatch=64, width=8,
                               eval_episodes_per_pass=16)
    adversary, _ = fit_q_adversary(game, surrogate, settings, progress=False)
    loaded = load_policy(save_policy(tmp_path / "Q.pt", adversary, settings={"passes": 1}))
    assert isinstance(loaded, QShapingAdversary) and loaded.net.shape() == adversary.net.shape()
    participant = make_learner("q_learning", game)
    played = [play_episodes(game, participant, policy, 16, generator=torch.Generator().manual_seed(5))
              for policy in (adversary, loaded)]
    assert torch.equal(played[0].adversary_actions, played[1].adversary_actions)
    assert torch.equal(played[0].participant_actions, played[1].participant_actions)
    assert bool((played[0].adversary_log_probs == 0).all())  # greedy: one-hot probabilities


def test_replaying_stored_trials_rebuilds_the_adversarys_choices(one_thread):
    game, surrogate = solved("bandit", seed=5)
    adversary = QShapingAdversary(game, surrogate=surrogate, width=8)
    with torch.no_grad():
        for parameter in adversary.net.parameters():
            parameter.mul_(3)
    episodes = play_episodes(game, make_learner("random", game), adversary, 6,
                             generator=torch.Generator().manual_seed(1))
    for b in range(6):
        state, memory = game.init(1), adversary.reset(1)
        for t in range(game.max_trials):
            probs, memory = adversary.act(game.observe(state), memory)
            assert int(probs.argmax()) == int(episodes.adversary_actions[b, t])
            state, _ = game.step(state, episodes.participant_actions[b:b + 1, t],
                                 episodes.adversary_actions[b:b + 1, t])


def test_run_training_with_fitted_q_settings_writes_a_servable_checkpoint(tmp_path, one_thread):
    game, surrogate = solved("bandit", seed=1)
    settings = FittedQSettings(passes=2, episodes=64, fit_steps=10, minibatch=64, width=8,
                               eval_episodes=64, eval_episodes_per_pass=16)
    summary = run_training(game=game, surrogate=surrogate, surrogate_spec={}, surrogate_path="S.pt",
                           settings=settings, out=tmp_path / "A.pt", device="cpu", log=lambda line: None)
    assert summary["method"] == "fitted-q" and 0 <= summary["target_rate"] <= 1
    assert {p.name for p in (tmp_path / "A").iterdir()} == {"config.json", "metrics.json", "learning_curve.png"}
    loaded = load_policy(tmp_path / "A.pt")
    assert isinstance(loaded, QShapingAdversary)
    again = evaluate(game, loaded, SurrogateParticipant(game, surrogate), 64, seed=settings.seed + 1)
    assert again["target_rate"] == pytest.approx(summary["target_rate"])
