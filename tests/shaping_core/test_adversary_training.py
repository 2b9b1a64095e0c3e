"""Shaping adversaries against the human surrogate: shaping_core/adversary_training.py and
policies/shaping.py (rewards per objective, training, checkpoints, and exact replay)."""

import json
import math

import pytest
import torch

from shaping_core.data import TrialSequences
from shaping_core.adversary_training import (AdversarySettings, fairness_rewards,
                                             objective_rewards, pacing_rewards, run_training,
                                             train_adversary, trajectory_of)
from shaping_core.evaluation import evaluate, summarize
from shaping_core.games import Objective, Sight, TurnOrder, make_game
from shaping_core.learners import make_learner
from shaping_core.policies import make_policy
from shaping_core.policies.checkpoint import load_policy, save_policy
from shaping_core.policies.gru import GRUNet
from shaping_core.policies.shaping import ShapingAdversary
from shaping_core.simulation import play_episodes
from shaping_core.surrogate.generative import ReplayedSchedule
from shaping_core.surrogate.model import SurrogateNet, SurrogateParticipant

from helpers import SMALL_PARAMS, random_surrogate

GAME_PARAMS = SMALL_PARAMS
GAMES = list(GAME_PARAMS)
COMBINATIONS = [(name, str(objective)) for name in GAMES
                for objective in make_game(name).spec.objectives]



def shaping_adversary(game, surrogate, hidden_size=6, seed=1) -> ShapingAdversary:
    torch.manual_seed(seed)
    return ShapingAdversary(game, {"hidden_size": hidden_size}, surrogate=surrogate)


def tiny(objective="max", **changes) -> AdversarySettings:
    settings = {"iterations": 2, "batch_size": 32, "hidden_size": 8, "eval_episodes": 32}
    return AdversarySettings(objective=objective, **{**settings, **changes})


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def play(game, participant, adversary, batch_size=6, seed=0):
    return play_episodes(game, participant, adversary, batch_size, generator=generator(seed))


# --- rewards per objective -------------------------------------------------------------------------


def test_fairness_rewards_pay_the_change_of_the_absolute_gap():
    participant = torch.tensor([[3.0, 0.0, 5.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    adversary = torch.tensor([[0.0, 3.0, 0.0, 1.0], [0.0, 2.0, 0.0, 2.0]])
    # gaps G_t: 3, 0, 5, 4 and 1, 0, 1, 0; |G_t| - |G_t-1|: 3, -3, 5, -1 and 1, -1, 1, -1
    expected = torch.tensor([[-3.0, 3.0, -5.0, 1.0], [-1.0, 1.0, -1.0, 1.0]])
    rewards = fairness_rewards(participant, adversary)
    assert torch.equal(rewards, expected)
    assert rewards.sum(dim=1).tolist() == [-4.0, 0.0]


def test_fairness_rewards_sum_to_minus_the_final_gap():
    g = generator(3)
    participant = torch.randint(0, 60, (16, 9), generator=g).float()
    adversary = torch.randint(0, 60, (16, 9), generator=g).float()
    participant[:, 7:] = 0
    adversary[:, 7:] = 0  # an episode that ended: nothing more is paid
    rewards = fairness_rewards(participant, adversary)
    final_gap = (participant.sum(dim=1) - adversary.sum(dim=1)).abs()
    assert torch.allclose(rewards.sum(dim=1), -final_gap)
    assert torch.equal(rewards[:, 7:], torch.zeros(16, 2))


@pytest.mark.parametrize("game_name", ["ipd", "trust"])
def test_objective_rewards_per_objective(game_name):
    game = make_game(game_name, GAME_PARAMS[game_name])
    episodes = play(game, make_learner("random", game), make_policy(
        "random" if game_name == "ipd" else "random_repayment", game), batch_size=8)
    assert torch.equal(objective_rewards(Objective.MAX, episodes), episodes.adversary_rewards)
    assert torch.equal(objective_rewards("adalign", episodes), episodes.adversary_rewards)
    fair = objective_rewards("fair", episodes)
    assert torch.equal(fair, fairness_rewards(episodes.participant_rewards, episodes.adversary_rewards))
    gap = (episodes.participant_return() - episodes.adversary_return()).abs()
    assert torch.allclose(fair.sum(dim=1), -gap)
    assert bool((gap > 0).any())


@pytest.mark.parametrize("target_option", [0, 1])
def test_the_pacing_term_pays_for_other_option_rewards_and_sums_to_a_constant(target_option):
    game = make_game("bandit", {"trials": 12, "rewards_per_option": 4, "target_option": target_option})
    settings = AdversarySettings(pacing_weight=0.5)  # gamma 1
    episodes = play(game, make_learner("q_learning", game), make_policy("random_schedule", game), 32)
    pacing = pacing_rewards(game, settings, episodes)
    other = 1 - target_option
    placed_other = ((episodes.adversary_actions >> other) & 1).float()
    assert torch.equal(pacing, 0.5 * placed_other)
    # All 4 of the other option's rewards are placed in every episode: the same total, whatever
    # the schedule, so the best policy is unchanged.
    assert torch.equal(pacing.sum(dim=1), torch.full((32,), 2.0))
    assert bool((pacing[:, :6].sum(dim=1) != pacing[0, :6].sum()).any())  # but not when it is paid
    discounted = pacing_rewards(game, AdversarySettings(pacing_weight=0.5, gamma=0.9), episodes)
    left = 4 - (placed_other.cumsum(dim=1) - placed_other)
    assert torch.allclose(discounted, 0.9 * -0.5 * (left - placed_other) + 0.5 * left)


def test_the_pacing_term_is_zero_elsewhere_and_when_switched_off():
    bandit = make_game("bandit", GAME_PARAMS["bandit"])
    episodes = play(bandit, make_learner("random", bandit), make_policy("random_schedule", bandit))
    assert not pacing_rewards(bandit, AdversarySettings(pacing_weight=0), episodes).any()
    gonogo = make_game("gonogo", GAME_PARAMS["gonogo"])
    episodes = play(gonogo, make_learner("random", gonogo), make_policy("random_schedule", gonogo))
    assert not pacing_rewards(gonogo, AdversarySettings(), episodes).any()


def test_the_training_batch_ends_each_episode_after_its_last_trial():
    game = make_game("ipd", {**GAME_PARAMS["ipd"], "continuation_probability": 0.8, "max_rounds": 12})
    episodes = play(game, make_learner("random", game), make_policy("random", game), batch_size=16)
    trajectory = trajectory_of(game, AdversarySettings(), episodes)
    lengths = episodes.lengths
    assert bool((lengths < lengths.max()).any())  # episodes of different lengths
    expected = torch.zeros_like(episodes.active)
    expected[torch.arange(16), lengths - 1] = True
    assert torch.equal(trajectory.dones, expected)


def test_summarize_gives_the_bandits_target_rate():
    game = make_game("bandit", {**GAME_PARAMS["bandit"], "target_option": 1})
    episodes = play(game, make_learner("q_learning", game, {"kappa": 1.0}),
                    make_policy("random_schedule", game), batch_size=20)
    summary = summarize(game, episodes)
    target_choices = (episodes.participant_actions == 1).float()
    assert summary["target_rate"] == pytest.approx(float(target_choices.mean()))
    assert summary["adversary_return"] == pytest.approx(float(target_choices.sum(dim=1).mean()))
    assert summary["participant_return"] == pytest.approx(float(episodes.participant_return().mean()))
    assert summary["episodes"] == 20
    assert "error_rate" not in summary and "earnings_gap" not in summary


def test_summarize_gives_go_nogo_errors_and_the_ipd_gap():
    gonogo = make_game("gonogo", GAME_PARAMS["gonogo"])
    played = play(gonogo, make_learner("q_learning", gonogo), make_policy("random_schedule", gonogo), 10)
    assert summarize(gonogo, played)["error_rate"] == pytest.approx(
        float(played.adversary_rewards.sum() / played.active.sum()))
    ipd = make_game("ipd", GAME_PARAMS["ipd"])
    played = play(ipd, make_learner("random", ipd), make_policy("random", ipd), 10)
    assert summarize(ipd, played)["earnings_gap"] == pytest.approx(
        float((played.participant_return() - played.adversary_return()).abs().mean()))


# --- settings and refusals -------------------------------------------------------------------------


def test_train_adversary_refuses_an_objective_the_game_lacks():
    game = make_game("bandit", GAME_PARAMS["bandit"])
    with pytest.raises(ValueError, match="Choice-engineering bandit has no fair objective; it has max, adalign"):
        train_adversary(game, random_surrogate(game), tiny("fair"), progress=False)


@pytest.mark.parametrize("changes, message", [
    ({"objective": "best"}, "unknown objective 'best'; expected one of max, fair, adalign"),
    ({"iterations": 0}, "iterations must be at least 1, got 0"),
    ({"batch_size": 0}, "batch_size must be at least 1"),
    ({"eval_episodes": 0}, "eval_episodes must be at least 1"),
    ({"pacing_weight": -1}, "pacing_weight must be at least 0, got -1"),
    ({"min_gap": -1}, "min_gap must be at least 0, got -1"),
])
def test_bad_adversary_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        AdversarySettings(**changes)


def test_a_surrogate_of_another_game_is_refused():
    from shaping_core.policies import PolicyParamsError

    with pytest.raises(PolicyParamsError, match="fitted for a different game"):
        ShapingAdversary(make_game("trust", GAME_PARAMS["trust"]),
                         surrogate=SurrogateNet(make_game("ipd", GAME_PARAMS["ipd"]), 3))


# --- training --------------------------------------------------------------------------------------


@pytest.mark.parametrize("game_name, objective", COMBINATIONS)
def test_a_tiny_training_run_for_every_objective_a_game_allows(game_name, objective):
    game = make_game(game_name, GAME_PARAMS[game_name])
    surrogate = random_surrogate(game)
    before = {k: v.clone() for k, v in surrogate.state_dict().items()}
    settings = tiny(objective, iterations=3)
    adversary, curve = train_adversary(game, surrogate, settings, progress=False)
    assert isinstance(adversary, ShapingAdversary) and adversary.game is game
    assert adversary.net.head.out_features == len(game.spec.adversary_actions)
    assert [row["iteration"] for row in curve] == [0, 1, 2]
    for row in curve:
        assert row["episodes"] == 32
        assert all(math.isfinite(value) for value in row.values()), row
        assert "objective_return" in row and "policy_loss" in row
    if objective == "adalign":
        assert "opponent_critic_loss" in curve[0]
    # The surrogate is frozen: training moves only the adversary's own network.
    for name, tensor in adversary.surrogate.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    probs, _ = adversary.act(game.observe(game.init(1), torch.zeros(1, dtype=torch.long)
                                          if game.spec.turn_order is TurnOrder.PARTICIPANT_FIRST else None),
                             adversary.reset(1))
    assert torch.isfinite(probs).all() and torch.allclose(probs.sum(), torch.tensor(1.0))


def test_a_ppo_adversary_under_the_spacing_rule_trains_and_plays_within_it(tmp_path):
    """The rule is the policy's: it acts only within it, the episodes record its mask (which PPO's
    update recomputes the probabilities under), and the checkpoint keeps it."""
    game = make_game("gonogo", {"trials": 30, "nogo_trials": 4})
    adversary, _ = train_adversary(game, random_surrogate(game), tiny("adalign", iterations=2, min_gap=5),
                                   progress=False)
    assert adversary.params.min_gap == 5
    loaded = load_policy(save_policy(tmp_path / "A.pt", adversary, settings={}))
    for policy in (adversary, loaded):
        episodes = play_episodes(game, make_learner("random", game), policy, 16,
                                 generator=torch.Generator().manual_seed(0))
        assert episodes.adversary_actions.sum(dim=1).tolist() == [4] * 16
        for row in episodes.adversary_actions:
            nogo = row.nonzero().squeeze(1)
            assert int((nogo[1:] - nogo[:-1] - 1).min()) >= 5
        # Right after a no-go the rule refuses another, though the game would allow it.
        after_nogo = torch.nn.functional.pad(episodes.adversary_actions[:, :-1] == 1, (1, 0))
        assert not episodes.adversary_masks[..., 1][after_nogo].any()
    with pytest.raises(ValueError, match="min_gap needs a game with a spaced budget"):
        bandit = make_game("bandit", GAME_PARAMS["bandit"])
        ShapingAdversary(bandit, {"min_gap": 2}, surrogate=random_surrogate(bandit))


def test_training_changes_the_policy_and_is_reproducible():
    game = make_game("bandit", GAME_PARAMS["bandit"])
    first, curve = train_adversary(game, random_surrogate(game), tiny(), progress=False)
    again, curve_again = train_adversary(game, random_surrogate(game), tiny(), progress=False)
    assert curve == curve_again
    for name, tensor in first.net.state_dict().items():
        assert torch.equal(again.net.state_dict()[name], tensor), name
    # The initial weights: train_adversary seeds torch with settings.seed, then builds the policy.
    surrogate = random_surrogate(game)
    torch.manual_seed(0)
    untrained = ShapingAdversary(game, {"hidden_size": 8}, surrogate=surrogate)
    frozen, _ = train_adversary(game, surrogate, tiny(policy_lr=0.0), progress=False)
    for name, tensor in untrained.net.state_dict().items():  # (the reconstruction is right)
        assert torch.equal(frozen.net.state_dict()[name], tensor), name
    assert any(not torch.equal(untrained.net.state_dict()[k], v) for k, v in first.net.state_dict().items())


def test_run_training_writes_a_checkpoint_that_plays_like_the_trained_policy(tmp_path, monkeypatch):
    game = make_game("ipd", GAME_PARAMS["ipd"])
    surrogate = random_surrogate(game)
    trained = {}
    original = train_adversary

    def keep(*args, **kwargs):  # the policy run_training trains, to compare with its checkpoint
        trained["policy"], curve = original(*args, **kwargs)
        return trained["policy"], curve

    monkeypatch.setattr("shaping_core.adversary_training.train_adversary", keep)
    lines = []
    summary = run_training(game=game, surrogate=surrogate, surrogate_spec={"provenance": {"rows": 7}},
                           surrogate_path="S.pt", settings=tiny(Objective.FAIR), out=tmp_path / "A.pt",
                           device=torch.device("cpu"), log=lines.append)
    assert summary["out"] == str(tmp_path / "A.pt") and summary["objective"] == "fair"
    assert "adversary_return" in summary and "random" in summary["baseline"]
    assert lines and lines[-1].startswith("trained in")
    folder = tmp_path / "A"
    assert {p.name for p in folder.iterdir()} == {"config.json", "metrics.json", "learning_curve.png"}
    metrics = json.loads((folder / "metrics.json").read_text())
    assert len(metrics["learning_curve"]) == 2 and set(metrics["against_surrogate"]) == {"trained", "random"}
    assert json.loads((folder / "config.json").read_text())["surrogate_provenance"] == {"rows": 7}

    loaded = load_policy(tmp_path / "A.pt")
    assert isinstance(loaded, ShapingAdversary) and loaded.game.params == game.params
    policy = trained["policy"]
    episodes = play(game, SurrogateParticipant(game, surrogate), policy, batch_size=8, seed=5)
    state, loaded_state, memory = game.init(8), loaded.reset(8), policy.reset(8)
    for t in range(episodes.participant_actions.shape[1]):
        observation = game.observe(state)
        expected, memory = policy.act(observation, memory)
        probs, loaded_state = loaded.act(observation, loaded_state)
        assert torch.equal(probs, expected)
        state, _ = game.step(state, episodes.participant_actions[:, t], episodes.adversary_actions[:, t])
    spec = torch.load(tmp_path / "A.pt", weights_only=True)  # plain data, even given an enum objective
    assert spec["kind"] == "shaping" and spec["provenance"]["objective"] == "fair"
    assert type(spec["settings"]["objective"]) is str
    assert spec["provenance"]["surrogate"] == "S.pt"


# --- the shaping adversary: its model of the participant, and exact replay (DESIGN principle 4) -----


@pytest.mark.parametrize("game_name", GAMES)
def test_the_adversarys_surrogate_tracks_the_surrogate_participant_exactly(game_name):
    """Against the surrogate itself, the adversary's copy sees the same history as the participant:
    the choice probabilities in its features are the participant's, under the cue it then sets."""
    game = make_game(game_name, GAME_PARAMS[game_name])
    surrogate = random_surrogate(game, seed=2)
    adversary = shaping_adversary(game, surrogate)
    given = []

    class Recorded(SurrogateParticipant):
        def act(self, view, hidden):
            probs, hidden = super().act(view, hidden)
            given.append(probs)
            return probs, hidden

    # Not counterbalanced: every participant is the surrogate itself, never its mirror image.
    episodes = play(game, Recorded(game, surrogate, counterbalance=False), adversary, batch_size=6, seed=1)
    n = len(game.spec.participant_actions)
    n_cues = len(game.spec.adversary_actions) if game.spec.participant_sees is Sight.CUE else 1
    predicted = episodes.adversary_features[:, :-1, -n_cues * n:].unflatten(-1, (n_cues, n))
    cue = episodes.adversary_actions if n_cues > 1 else torch.zeros_like(episodes.adversary_actions)
    under_cue = predicted.gather(2, cue[..., None, None].expand(-1, -1, 1, n)).squeeze(2)
    assert torch.allclose(under_cue, torch.stack(given, dim=1), atol=1e-6)


def replay(game, adversary, episodes, b):
    """Episode b's stored trials through a fresh reset() and act(): probabilities, features and the
    final state."""
    length = int(episodes.lengths[b])
    state = game.init(1, length=torch.tensor([length]))
    memory = adversary.reset(1)
    participant_first = game.spec.turn_order is TurnOrder.PARTICIPANT_FIRST
    probs, features = [], []
    for t in range(length):
        p_action = episodes.participant_actions[b:b + 1, t]
        observation = game.observe(state, p_action if participant_first else None)
        p, memory, f = adversary.act_with_features(observation, memory)
        probs.append(p[0])
        features.append(f[0])
        state, result = game.step(state, p_action, episodes.adversary_actions[b:b + 1, t])
        assert int(result.adversary_action) == int(episodes.adversary_actions[b, t])
    return torch.stack(probs), torch.stack(features), memory


@pytest.mark.parametrize("game_name, params", [
    *GAME_PARAMS.items(),
    ("ipd", {"continuation_probability": 0.7, "max_rounds": 9}),
])
def test_replaying_stored_trials_gives_the_probabilities_played(game_name, params):
    game = make_game(game_name, params)
    surrogate = random_surrogate(game, seed=3)
    adversary = shaping_adversary(game, surrogate)
    participant = make_learner("random", game)  # the participant is not the surrogate
    episodes = play(game, participant, adversary, batch_size=5, seed=4)
    for b in range(5):
        probs, features, (surrogate_hidden, _) = replay(game, adversary, episodes, b)
        length = probs.shape[0]
        chosen = probs.gather(1, episodes.adversary_actions[b, :length, None]).squeeze(1)
        assert torch.allclose(chosen.log(), episodes.adversary_log_probs[b, :length], atol=1e-5)
        assert torch.allclose(features, episodes.adversary_features[b, :length], atol=1e-6)
        # The recurrent state includes the surrogate's hidden state: the surrogate's own reading
        # of the participant's stored trials (a whole-sequence pass gives the same, step by step).
        data = TrialSequences(game, episodes.participant_actions[b:b + 1, :length],
                              episodes.participant_rewards[b:b + 1, :length],
                              episodes.adversary_actions[b:b + 1, :length], ["x"])
        with torch.no_grad():
            read, _ = surrogate.gru(surrogate.inputs(data.views()))
        start = features.shape[1] - surrogate.summary_size()
        assert torch.allclose(features[:, start:start + surrogate.hidden_size], read[0], atol=1e-6)
        assert torch.allclose(surrogate_hidden[0, 0], read[0, -1], atol=1e-6)


def test_the_surrogate_changes_what_the_adversary_does():
    """So the replay above is a real check of the surrogate's state, not only of the policy GRU's."""
    game = make_game("bandit", GAME_PARAMS["bandit"])
    one = shaping_adversary(game, random_surrogate(game, seed=0))
    other = ShapingAdversary(game, {"hidden_size": 6}, surrogate=random_surrogate(game, seed=9), net=one.net)
    episodes = play(game, make_learner("random", game), one, batch_size=4)
    probs_one, _, _ = replay(game, one, episodes, 0)
    probs_other, _, _ = replay(game, other, episodes, 0)
    assert not torch.allclose(probs_one, probs_other, atol=1e-3)


def test_a_saved_shaping_adversary_loads_with_its_surrogate(tmp_path):
    game = make_game("gonogo", GAME_PARAMS["gonogo"])
    adversary = shaping_adversary(game, random_surrogate(game, seed=7))
    path = save_policy(tmp_path / "A.pt", adversary, provenance={"objective": "max"})
    loaded = load_policy(path)
    assert isinstance(loaded, ShapingAdversary)
    assert loaded.surrogate.hidden_size == adversary.surrogate.hidden_size
    for name, tensor in adversary.surrogate.state_dict().items():
        assert torch.equal(loaded.surrogate.state_dict()[name], tensor), name
    episodes = play(game, make_learner("q_learning", game), adversary, batch_size=3, seed=6)
    for b in range(3):
        assert torch.equal(replay(game, loaded, episodes, b)[0], replay(game, adversary, episodes, b)[0])
    assert isinstance(loaded.net, GRUNet)


def test_an_evaluation_of_a_budgeted_game_says_when_the_budget_was_spent():
    game = make_game("gonogo", {"trials": 8, "nogo_trials": 2})
    learner = make_learner("response_habit", game, {})
    # The replayed schedule puts one no-go in the first quarter and one in the last.
    schedule = torch.tensor([[1, 0, 0, 0, 0, 0, 0, 1]]).repeat(16, 1)
    summary = evaluate(game, ReplayedSchedule(game, schedule), learner, 16)
    assert summary["placement_by_quarter"] == [[0.5, 0.0, 0.0, 0.5]]
    ipd = make_game("ipd", SMALL_PARAMS["ipd"])
    assert "placement_by_quarter" not in evaluate(ipd, make_policy("tit_for_tat", ipd),
                                                  make_learner("q_learning", ipd), 4)


def test_every_training_setting_is_documented_and_has_a_flag_that_reaches_the_settings():
    import dataclasses

    from shaping_core.__main__ import build_parser
    from shaping_core.adversary_training import METHOD_OPTIONS, METHOD_SETTINGS, SHARED_OPTIONS, method_settings
    from shaping_core.arguments import field_docs

    for method, settings_class in METHOD_SETTINGS.items():
        names = {field.name for field in dataclasses.fields(settings_class)}
        assert set(field_docs(settings_class)) == names, f"{settings_class.__name__}: a field without a docstring"
        assert set(SHARED_OPTIONS) <= names
        assert set(METHOD_OPTIONS[method]) == names - {"objective", "seed", "eval_episodes", *SHARED_OPTIONS}

    parser = build_parser()
    common = ["train-adversary", "--game", "bandit", "--surrogate", "S.pt", "--out", "A.pt"]
    given = parser.parse_args([*common, "--objective", "adalign", "--policy-lr", "0.01", "--no-anneal-lr",
                               "--alignment-lambda", "0.5", "--epochs", "2", "--eval-episodes", "64"])
    settings = method_settings("ppo", "adalign", 3, vars(given))
    assert (settings.policy_lr, settings.anneal_lr, settings.alignment_lambda, settings.epochs,
            settings.eval_episodes, settings.seed, settings.objective) == (0.01, False, 0.5, 2, 64, 3, "adalign")
    defaults = AdversarySettings()
    assert (settings.gamma, settings.clip, settings.proximal) == (defaults.gamma, defaults.clip, defaults.proximal)

    given = parser.parse_args([*common, "--objective", "max", "--method", "fitted-q", "--learning-rate", "0.002",
                               "--explore", "0.25", "--width", "16"])
    fitted = method_settings("fitted-q", "max", 0, vars(given))
    assert (fitted.learning_rate, fitted.explore, fitted.width, fitted.passes) == (0.002, 0.25, 16, 3)

    # A field both methods take has one flag, which reaches either.
    given = parser.parse_args([*common, "--objective", "max", "--min-gap", "4"])
    for method in METHOD_SETTINGS:
        assert method_settings(method, "max", 0, vars(given)).min_gap == 4


@pytest.mark.parametrize("name", sorted(GAMES))
def test_each_game_s_measured_defaults_name_options_train_adversary_takes(name):
    """Game.default_training: objectives the game has, a method that can train them, and only
    options of that method or of the population (a misspelt name would be dropped silently)."""
    from shaping_core.adversary_training import METHOD_OPTIONS, SHARED_OPTIONS, method_settings, with_game_defaults
    from shaping_core.algorithms.fitted_q import check_game
    from shaping_core.learners.zoo import has_zoo

    game = make_game(name)
    for objective, options in game.default_training.items():
        assert objective in game.spec.objectives
        method = options.get("method", "ppo")
        assert set(options) <= {"method", "population", "surrogate_share", *METHOD_OPTIONS[method], *SHARED_OPTIONS}
        assert options.get("population", "surrogate") in ("surrogate", "zoo")
        if options.get("population") == "zoo":
            assert has_zoo(name)
        if method == "fitted-q":
            check_game(game)
        method_settings(method, objective, 0, dict(options))  # the settings accept the values
        # A method given on the command line trains with its own defaults, the game's are not used.
        resolved, used = with_game_defaults(game, objective, {**dict.fromkeys(options), "method": "ppo"})
        assert used == {} and resolved["method"] == "ppo"
