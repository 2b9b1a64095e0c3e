"""The human surrogate: shaping_core/surrogate (the GRU model, fitting with cross-validation, and
its checkpoint)."""

import dataclasses
import io
import math

import pytest
import torch

from shaping_core.data import TrialSequences, sequences_from_frame
from shaping_core.games import Sight, make_game
from shaping_core.games.gonogo import GO, NOGO
from shaping_core.learners import make_learner
from shaping_core.learners.datasets import episodes_frame, simulate_trials
from shaping_core.participants import ParticipantModel, ParticipantView
from shaping_core.policies import make_policy
from shaping_core.policies.checkpoint import save_policy
from shaping_core.policies.gru import GRUPolicy
from shaping_core.simulation import play_episodes
from shaping_core.surrogate.checkpoint import (SurrogateCheckpointError, load_surrogate,
                                               save_surrogate)
from shaping_core.surrogate.fit import (SurrogateSettings, _masked_nll, constant_nll,
                                        evaluate_surrogate, fit_surrogate, fold_assignment,
                                        sequence_nll)
from shaping_core.surrogate.model import SurrogateNet, SurrogateParticipant

from helpers import random_surrogate

GAME_PARAMS = {
    "ipd": {"rounds": 6},
    "bandit": {"trials": 12, "rewards_per_option": 3},
    "gonogo": {"trials": 12, "nogo_trials": 4},
    "trust": {"rounds": 4},
}
ADVERSARY = {"ipd": "random", "bandit": "random_schedule", "gonogo": "random_schedule",
             "trust": "random_repayment"}
# The Q-learner of the fitting tests: strongly perseverating, so a few epochs learn it.
STICKY = {"alpha": 0.5, "beta": 5.0, "kappa": 2.0}
FIT_BANDIT = {"trials": 30, "rewards_per_option": 8}


def tiny_settings(**changes):
    settings = {"hidden_sizes": (2, 4), "folds": 2, "max_epochs": 5, "patience": None,
                "batch_size": 4, "learning_rate": 0.05, "device": "cpu"}
    return SurrogateSettings(**{**settings, **changes})



def random_net(game, hidden_size=5, seed=0) -> SurrogateNet:
    return random_surrogate(game, hidden_size, seed)


def sticky_sequences(n=40, seed=0) -> TrialSequences:
    game = make_game("bandit", FIT_BANDIT)
    frame = simulate_trials(game, make_learner("q_learning", game, STICKY),
                            make_policy("random_schedule", game), n, seed=seed)
    return sequences_from_frame(frame, game)


def sequences(game, actions, rewards=None, adversary=None) -> TrialSequences:
    """Hand-written sequences ([N][T] lists, -1 as padding)."""
    actions = torch.tensor(actions)
    rewards = torch.zeros(actions.shape) if rewards is None else torch.tensor(rewards, dtype=torch.float)
    adversary = torch.full_like(actions, -1) if adversary is None else torch.tensor(adversary)
    return TrialSequences(game, actions, rewards, adversary, [f"p{i}" for i in range(len(actions))])


# --- folds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, folds", [(2, 2), (10, 3), (11, 5), (40, 2), (7, 7)])
def test_each_sequence_is_in_exactly_one_fold_and_fold_sizes_differ_by_at_most_one(n, folds):
    assignment = fold_assignment(n, folds, seed=3)
    assert assignment.shape == (n,) and assignment.dtype == torch.long
    assert set(assignment.tolist()) == set(range(folds))  # every fold is used, nothing else
    sizes = torch.bincount(assignment, minlength=folds)
    assert int(sizes.sum()) == n and int(sizes.max() - sizes.min()) <= 1


def test_folds_are_seeded():
    assert torch.equal(fold_assignment(30, 5, seed=1), fold_assignment(30, 5, seed=1))
    assert not torch.equal(fold_assignment(30, 5, seed=1), fold_assignment(30, 5, seed=2))
    # Not simply round-robin in input order (participants sorted by id would share a fold pattern).
    assert fold_assignment(30, 5, seed=1).tolist() != [i % 5 for i in range(30)]


def test_too_few_sequences_for_the_folds_is_refused():
    with pytest.raises(ValueError, match="5-fold cross-validation needs at least 5 sequences, got 4"):
        fold_assignment(4, 5, seed=0)


# --- the loss ignores padding ----------------------------------------------------------------------


def test_masked_nll_scores_only_real_trials():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0], [5.0, -5.0]],
                           [[0.0, 0.0], [9.0, 9.0], [9.0, 9.0]]])
    actions = torch.tensor([[0, 1, 1], [1, -1, -1]])
    nll, correct, choices = _masked_nll(logits, actions)
    log_softmax = torch.log_softmax(logits, dim=-1)
    expected = -(log_softmax[0, 0, 0] + log_softmax[0, 1, 1] + log_softmax[0, 2, 1] + log_softmax[1, 0, 1])
    assert float(nll) == pytest.approx(float(expected))
    assert int(choices) == 4
    assert int(correct) == 2  # trials (0, 0) and (0, 1); (1, 0) is a tie that argmax gives to 0

    padded_logits = logits.clone()
    padded_logits[1, 1:] = torch.tensor([-50.0, 50.0])  # whatever is predicted on padding
    assert float(_masked_nll(padded_logits, actions)[0]) == pytest.approx(float(nll))


def test_sequence_nll_does_not_score_padding():
    game = make_game("bandit", {"trials": 6, "rewards_per_option": 2})
    net = random_net(game)
    short = sequences(game, [[0, 1, 1, -1, -1, -1]], [[1.0, 0.0, 1.0, 0, 0, 0]])
    long = sequences(game, [[1, 1, 0, 0, 1, 0]], [[0.0, 1.0, 1.0, 0.0, 1.0, 0.0]])
    both = sequences(game, [[0, 1, 1, -1, -1, -1], [1, 1, 0, 0, 1, 0]],
                     [[1.0, 0.0, 1.0, 0, 0, 0], [0.0, 1.0, 1.0, 0.0, 1.0, 0.0]])
    alone = [sequence_nll(net, s) for s in (short, long)]
    together = sequence_nll(net, both)
    assert together[2] == 9 and alone[0][2] == 3
    assert together[0] == pytest.approx(alone[0][0] + alone[1][0], rel=1e-6)
    assert together[1] == alone[0][1] + alone[1][1]
    evaluated = evaluate_surrogate(net, both)
    assert evaluated == {"nll_per_choice": pytest.approx(together[0] / 9),
                         "accuracy": together[1] / 9, "choices": 9}
    assert net.training is False


def test_constant_nll_is_the_smoothed_frequency_predictor():
    game = make_game("bandit", {"trials": 4, "rewards_per_option": 1})
    train = sequences(game, [[0, 0, 1, -1], [0, -1, -1, -1]])  # counts 3 and 1, plus one each: 4/6, 2/6
    test = sequences(game, [[1, 0, -1, -1], [1, 1, 1, 0]])
    nll, choices = constant_nll(train, test)
    assert choices == 6
    assert nll == pytest.approx(-4 * math.log(2 / 6) - 2 * math.log(4 / 6))


def test_where_people_see_a_cue_the_constant_predictor_is_per_cue():
    # Go/no-go: people see the stimulus, so the reference is P(respond | stimulus), not pooled.
    game = make_game("gonogo", {"trials": 4, "nogo_trials": 1})
    train = sequences(game, [[1, 1, 0, 1], [1, 1, 1, 1]], adversary=[[GO, GO, NOGO, GO], [GO, NOGO, GO, GO]])
    # go: 6 responses of 6 (+1 each: 7/8 respond); no-go: 1 of 2 (2/4).
    test = sequences(game, [[1, 0, 1, 1]], adversary=[[GO, NOGO, GO, NOGO]])
    nll, choices = constant_nll(train, test)
    assert choices == 4
    assert nll == pytest.approx(-2 * math.log(7 / 8) - math.log(2 / 4) - math.log(2 / 4))
    with pytest.raises(ValueError, match="adversary's move on every trial"):
        constant_nll(train, sequences(game, [[1, 0, 1, 1]]))


# --- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize("changes, message", [
    ({"hidden_sizes": ()}, "hidden_sizes must be positive whole numbers"),
    ({"hidden_sizes": (4, 0)}, "hidden_sizes must be positive whole numbers"),
    ({"hidden_sizes": (4, 8, 4)}, "hidden_sizes has repeats"),
    ({"folds": 1}, "folds must be at least 2, got 1"),
    ({"max_epochs": 0}, "max_epochs must be at least 1, got 0"),
    ({"batch_size": 0}, "batch_size must be at least 1, got 0"),
    ({"patience": 0}, "patience must be at least 1 or None, got 0"),
    ({"learning_rate": 0.0}, "learning_rate must be positive, got 0.0"),
    ({"learning_rate": float("nan")}, "learning_rate must be positive"),
    ({"weight_decay": -0.1}, "weight_decay must not be negative"),
    ({"grad_clip": 0.0}, "grad_clip must be positive or None"),
    ({"device": "gpu"}, "device must be auto, cpu or cuda, got 'gpu'"),
])
def test_bad_settings_are_refused_with_a_message(changes, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SurrogateSettings(**changes)


def test_settings_round_trip_through_a_mapping():
    settings = SurrogateSettings(hidden_sizes=[3, 5], folds=3, patience=None, seed=7, device="cpu")
    mapping = settings.to_mapping()
    assert mapping["hidden_sizes"] == [3, 5] and mapping["patience"] is None
    assert SurrogateSettings.from_mapping({**mapping, "unknown": 1}) == settings


# --- fitting -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    data = sticky_sequences()
    result = fit_surrogate(data, tiny_settings(), progress=False)
    torch.set_num_threads(threads)
    return data, result


def test_fit_chooses_a_compared_size_at_its_best_cv_epoch(fitted):
    data, result = fitted
    settings = result.settings
    assert result.hidden_size in settings.hidden_sizes and result.net.hidden_size == result.hidden_size
    assert [row["hidden_size"] for row in result.cv_table] == list(settings.hidden_sizes)
    chosen = min(result.cv_table, key=lambda row: row["nll_per_choice_mean"])
    assert (chosen["hidden_size"], chosen["best_epoch"]) == (result.hidden_size, result.epochs)
    assert 1 <= result.epochs <= settings.max_epochs
    for size, curve in result.curves.items():
        assert len(curve["nll_per_choice"]) == settings.folds
        assert all(len(fold) == settings.max_epochs for fold in curve["nll_per_choice"])  # no patience
        mean_at_best = sum(f[result.epochs - 1] for f in curve["nll_per_choice"]) / settings.folds
        if size == result.hidden_size:
            assert mean_at_best == pytest.approx(result.metrics["nll_per_choice"])
    assert result.folds == fold_assignment(data.n_sequences, settings.folds, settings.seed).tolist()
    assert result.selection["table"] == result.cv_table and result.selection["folds"] == 2


def test_fit_reports_held_out_metrics(fitted):
    data, result = fitted
    metrics = result.metrics
    for key in ("nll_per_choice", "nll_per_choice_std", "nll_per_choice_pooled", "accuracy",
                "accuracy_std", "choices", "sequences", "folds", "baseline_nll_per_choice",
                "baseline_nll_per_choice_std", "train"):
        assert key in metrics, key
    assert (metrics["choices"], metrics["sequences"], metrics["folds"]) == (data.n_choices, 40, 2)
    assert all(math.isfinite(metrics[key]) for key in ("nll_per_choice", "nll_per_choice_std",
                                                        "accuracy", "baseline_nll_per_choice"))
    assert 0 <= metrics["accuracy"] <= 1
    assert metrics["train"] == evaluate_surrogate(result.net, data)
    assert set(result.seconds) == {"cv", "refit"}


def test_a_perseverating_learner_is_predicted_far_better_than_chance(fitted):
    _, result = fitted
    metrics = result.metrics
    assert metrics["nll_per_choice"] < math.log(2) - 0.15
    assert metrics["nll_per_choice"] < metrics["baseline_nll_per_choice"] - 0.15
    assert metrics["train"]["nll_per_choice"] < metrics["baseline_nll_per_choice"]
    assert metrics["accuracy"] > 0.7


def test_the_same_seed_gives_the_same_fit(fitted):
    data, result = fitted
    again = fit_surrogate(data, tiny_settings(), progress=False)
    assert (again.hidden_size, again.epochs, again.folds) == (result.hidden_size, result.epochs, result.folds)
    assert again.cv_table == result.cv_table and again.curves == result.curves
    assert again.metrics == result.metrics
    for name, tensor in result.net.state_dict().items():
        assert torch.equal(again.net.state_dict()[name], tensor), name


def test_annealing_decays_the_step_size_linearly_to_zero_over_max_epochs():
    from shaping_core.surrogate.fit import _Trainer

    data = sticky_sequences(n=8)
    trainer = _Trainer(data, 3, tiny_settings(max_epochs=4, anneal_lr=True), torch.device("cpu"), seed=0)
    rates = []
    for _ in range(4):
        trainer.epoch()
        rates.append(trainer.optimizer.param_groups[0]["lr"])
    assert rates == pytest.approx([0.05, 0.0375, 0.025, 0.0125])
    plain = _Trainer(data, 3, tiny_settings(max_epochs=4), torch.device("cpu"), seed=0)
    plain.epoch()
    plain.epoch()
    assert plain.optimizer.param_groups[0]["lr"] == 0.05


# --- mirror images (bandit options differ only in what they earn) -----------------------------------


def test_a_counterbalanced_surrogate_participant_is_the_surrogate_or_its_mirror_image():
    game = make_game("bandit", GAME_PARAMS["bandit"])
    net = random_net(game, seed=4)
    population = SurrogateParticipant(game, net)
    assert population.counterbalance  # the default where the game has a mirror image
    assert not SurrogateParticipant(make_game("ipd", GAME_PARAMS["ipd"]), random_net(make_game("ipd"))).counterbalance
    with pytest.raises(ValueError, match="no mirror image"):
        SurrogateParticipant(make_game("ipd"), random_net(make_game("ipd")), counterbalance=True)
    hidden, orientation = population.reset(400, generator=torch.Generator().manual_seed(0))
    mirrored = orientation.mirrored
    assert 150 < int(mirrored.sum()) < 250  # about half
    plain = SurrogateParticipant(game, net, counterbalance=False)
    plain_hidden = plain.reset(400)
    g = torch.Generator().manual_seed(1)
    for trial in range(4):
        action = torch.randint(0, 2, (400,), generator=g) if trial else torch.full((400,), -1)
        reward = torch.randint(0, 2, (400,), generator=g).float() * (action >= 0)
        view = ParticipantView(trial=torch.full((400,), trial), last_action=action, last_reward=reward,
                               last_seen=torch.full((400,), -1), cue=torch.full((400,), -1))
        probs, (hidden, _) = population.act(view, (hidden, orientation))
        seen_as = torch.where(mirrored & (action >= 0), 1 - action, action)
        expected, plain_hidden = plain.act(dataclasses.replace(view, last_action=seen_as), plain_hidden)
        expected = torch.where(mirrored.unsqueeze(1), expected.flip(1), expected)
        assert torch.allclose(probs, expected, atol=1e-6)


def test_counterbalancing_cancels_a_side_bias_under_a_symmetric_schedule():
    data = side_biased_sequences()
    result = fit_surrogate(data, tiny_settings(hidden_sizes=(2,), mirror_options=False), progress=False)
    game, schedule = data.game, make_policy("random_schedule", data.game)
    rates = {}
    for counterbalance in (False, True):
        episodes = play_episodes(game, SurrogateParticipant(game, result.net, counterbalance=counterbalance),
                                 schedule, 2000, generator=torch.Generator().manual_seed(3))
        rates[counterbalance] = float((episodes.participant_actions == 0).float().mean())
    assert rates[False] < 0.3  # this surrogate picks option 1, the side its people preferred
    assert abs(rates[True] - 0.5) < 0.03


def test_the_bandit_mirror_swaps_the_options_and_the_reward_bits():
    game = make_game("bandit", GAME_PARAMS["bandit"])
    participant = torch.tensor([[0, 1, -1], [1, 1, 0]])
    adversary = torch.tensor([[0, 1, -1], [2, 3, 1]])  # none, option0, -; option1, both, option0
    mirrored_participant, mirrored_adversary = game.mirror(participant, adversary)
    assert mirrored_participant.tolist() == [[1, 0, -1], [0, 0, 1]]
    assert mirrored_adversary.tolist() == [[0, 2, -1], [1, 3, 2]]
    assert [t.tolist() for t in game.mirror(mirrored_participant, mirrored_adversary)] == [
        participant.tolist(), adversary.tolist()]
    for name in ("ipd", "gonogo", "trust"):  # their actions mean different things
        other = make_game(name, GAME_PARAMS[name])
        assert other.mirror(torch.tensor([0]), torch.tensor([0])) is None


def test_sequences_with_their_mirror_images():
    game = make_game("bandit", GAME_PARAMS["bandit"])
    data = sequences(game, [[0, 0, 1], [1, -1, -1]], rewards=[[1, 0, 1], [0, 0, 0]])
    both = data.with_mirror_images()
    assert both.participant_actions.tolist() == [[0, 0, 1], [1, -1, -1], [1, 1, 0], [0, -1, -1]]
    assert torch.equal(both.participant_rewards, data.participant_rewards.repeat(2, 1))
    assert both.ids == ["p0", "p1", "p0 (mirrored)", "p1 (mirrored)"] and both.n_choices == 8
    ipd = sequences(make_game("ipd", GAME_PARAMS["ipd"]), [[0, 1]])
    assert data.can_mirror and not ipd.can_mirror
    with pytest.raises(ValueError, match="has no mirror image"):
        ipd.with_mirror_images()


def side_biased_sequences(n=40, trials=20, p_option1=0.85, seed=0) -> TrialSequences:
    """People who pick option 1 (a screen side) with probability 0.85 whatever happens."""
    game = make_game("bandit", {"trials": trials, "rewards_per_option": 5})
    g = torch.Generator().manual_seed(seed)
    actions = (torch.rand(n, trials, generator=g) < p_option1).long()
    rewards = (torch.rand(n, trials, generator=g) < 0.25).float()
    return TrialSequences(game, actions, rewards, torch.full_like(actions, -1), [f"p{i}" for i in range(n)])


@pytest.mark.parametrize("mirror", [True, False])
def test_mirror_images_keep_a_side_bias_out_of_the_bandit_surrogate(mirror, one_thread):
    data = side_biased_sequences()
    result = fit_surrogate(data, tiny_settings(hidden_sizes=(2,), max_epochs=20, mirror_options=mirror),
                           progress=False)
    with torch.no_grad():
        logits, _ = result.net(data.views())
    # Before anyone has chosen: what the surrogate expects of a new participant. (Later on, both
    # surrogates read the person's own preference from their choices so far.)
    p_option1 = torch.softmax(logits[:, 0], dim=-1)[:, 1].mean()
    if mirror:
        assert abs(float(p_option1) - 0.5) < 0.05
        # Scored on the sequences as recorded, whose side bias it no longer predicts.
        assert result.metrics["choices"] == data.n_choices
        assert result.metrics["nll_per_choice"] > result.metrics["baseline_nll_per_choice"]
    else:
        assert float(p_option1) > 0.75


def test_a_fit_of_no_choices_is_refused():
    game = make_game("bandit", {"trials": 3, "rewards_per_option": 1})
    with pytest.raises(ValueError, match="no choices"):
        fit_surrogate(sequences(game, [[-1, -1, -1], [-1, -1, -1]]), tiny_settings(), progress=False)


# --- checkpoints ---------------------------------------------------------------------------------


def test_a_saved_surrogate_loads_and_predicts_the_same(tmp_path, fitted):
    data, result = fitted
    path = save_surrogate(tmp_path / "deep" / "S.pt", result.net, data.game,
                          provenance={"rows": 1200}, selection=result.selection,
                          metrics={"nll_per_choice": result.metrics["nll_per_choice"]},
                          settings=result.settings.to_mapping())
    loaded = load_surrogate(path)
    assert loaded.game.spec.name == "bandit" and loaded.game.params == data.game.params
    assert loaded.net.hidden_size == result.hidden_size and loaded.net.training is False
    assert loaded.spec["kind"] == "surrogate" and loaded.spec["provenance"] == {"rows": 1200}
    assert loaded.spec["selection"]["hidden_size"] == result.hidden_size
    assert SurrogateSettings.from_mapping(loaded.spec["settings"]) == result.settings
    views = data.views()
    with torch.no_grad():
        assert torch.equal(loaded.net(views)[0], result.net(views)[0])
    assert evaluate_surrogate(loaded.net, data) == evaluate_surrogate(result.net, data)
    # weights_only: the file holds plain tensors and containers only
    assert torch.load(path, weights_only=True)["format"] == 1


def _policy_checkpoint(tmp_path):
    return save_policy(tmp_path / "policy.pt", GRUPolicy(make_game("bandit"), {"hidden_size": 3}))


def _random_bytes(tmp_path):
    path = tmp_path / "random.pt"
    path.write_bytes(bytes(range(256)) * 3)
    return path


def _pickled_code(tmp_path):
    buffer = io.BytesIO()
    torch.save({"format": 1, "kind": "surrogate", "callback": math.sqrt}, buffer)
    path = tmp_path / "code.pt"
    path.write_bytes(buffer.getvalue())
    return path


@pytest.mark.parametrize("make_path, message", [
    (_policy_checkpoint, "is not a surrogate checkpoint (format 1); fit one with"),
    (_random_bytes, "random.pt is not a surrogate checkpoint: "),
    (_pickled_code, "code.pt is not a surrogate checkpoint: "),
    (lambda tmp: tmp / "missing.pt", "missing.pt: no such file"),
    (lambda tmp: tmp, ": no such file"),  # a folder
])
def test_a_file_that_is_not_a_surrogate_is_refused_clearly(tmp_path, make_path, message):
    path = make_path(tmp_path)
    with pytest.raises(SurrogateCheckpointError) as error:
        load_surrogate(path)
    assert message in str(error.value) and str(path) in str(error.value)
    assert isinstance(error.value, ValueError)


# --- the model: whole sequences equal trial-by-trial play ------------------------------------------


class Recorded(ParticipantModel):
    """A participant model that records the probabilities it gave on every trial."""

    name, label, games = "recorded", "Recorded", ("ipd", "bandit", "gonogo", "trust")

    def __init__(self, inner):
        self.inner, self.game, self.params, self.probs = inner, inner.game, inner.params, []

    def reset(self, batch_size, *, generator=None, device="cpu"):
        self.probs = []
        return self.inner.reset(batch_size, generator=generator, device=device)

    def act(self, view, state):
        probs, state = self.inner.act(view, state)
        self.probs.append(probs)
        return probs, state


@pytest.mark.parametrize("game_name, params", [
    *GAME_PARAMS.items(),
    ("ipd", {"continuation_probability": 0.7, "max_rounds": 10}),  # lengths differ: padding
])
def test_whole_sequences_predict_what_the_surrogate_gave_while_playing(game_name, params):
    """Play the surrogate as a participant, export the trials as the platform would, read them
    back as sequences: one forward pass gives every trial's probabilities exactly as played."""
    game = make_game(game_name, params)
    net = random_net(game, seed=1)
    participant = Recorded(SurrogateParticipant(game, net, counterbalance=False))
    adversary = make_policy(ADVERSARY[game_name], game)
    episodes = play_episodes(game, participant, adversary, 8, generator=torch.Generator().manual_seed(2))
    frame = episodes_frame(game, episodes, adversary_name=adversary.name, adversary_params={},
                           study="s", condition="c")
    data = sequences_from_frame(frame, game)
    assert torch.equal(data.mask, episodes.active)

    played = torch.stack(participant.probs, dim=1)  # [B, T, A]
    with torch.no_grad():
        logits, _ = net(data.views())
    predicted = torch.softmax(logits, dim=-1)
    active = episodes.active
    assert torch.allclose(predicted[active], played[active], atol=1e-6)
    assert float((predicted[active] - played[active]).abs().max()) < 1e-6
    if game_name == "ipd" and "continuation_probability" in params:
        assert len(set(episodes.lengths.tolist())) > 1
    # The data carry something the surrogate reacts to: not the same prediction everywhere.
    assert float(played[active].std(dim=0).max()) > 0.01


def view(trial, last_action, last_reward, last_seen=-1, cue=-1):
    def long(x):
        return torch.tensor([x], dtype=torch.long)
    return ParticipantView(trial=long(trial), last_action=long(last_action),
                           last_reward=torch.tensor([float(last_reward)]), last_seen=long(last_seen),
                           cue=long(cue))


@pytest.mark.parametrize("game_name, actions, rewards, adversary", [
    ("gonogo", [1, 0, 1, 1, 0], [1.0, 1.0, 0.0, 1.0, 1.0], [GO, NOGO, NOGO, GO, GO]),
    ("ipd", [0, 1, 1, 0, 0], [-1.0, 0.0, -2.0, -3.0, -1.0], [0, 0, 1, 1, 0]),
    ("trust", [20, 0, 10, 5, 13], [60.0, 20.0, 10.0, 15.0, 20.0], [4, 0, 1, 2, 3]),
    ("bandit", [0, 1, 1, 0, 1], [1.0, 0.0, 1.0, 1.0, 0.0], [1, 0, 2, 3, 0]),
])
def test_forward_equals_stepping_trial_by_trial_with_what_the_participant_saw(game_name, actions,
                                                                              rewards, adversary):
    """Hand-built views: the previous outcome, the adversary's previous move where the participant
    saw it (IPD, trust), and in go/no-go this trial's stimulus, which picks the output head."""
    game = make_game(game_name, GAME_PARAMS[game_name])
    net = random_net(game, seed=4)
    sight = game.spec.participant_sees
    participant = SurrogateParticipant(game, net, counterbalance=False)
    hidden = participant.reset(1)
    stepped = []
    for t in range(len(actions)):
        previous = (actions[t - 1], rewards[t - 1], adversary[t - 1]) if t else (-1, 0.0, -1)
        seen = previous[2] if sight is not Sight.NOTHING else -1
        cue = adversary[t] if sight is Sight.CUE else -1
        probs, hidden = participant.act(view(t, previous[0], previous[1], seen, cue), hidden)
        stepped.append(probs[0])
    data = sequences(game, [actions], [rewards], [adversary])
    with torch.no_grad():
        logits, final = net(data.views())
    assert torch.allclose(torch.softmax(logits[0], dim=-1), torch.stack(stepped), atol=1e-6)
    assert torch.allclose(final, hidden, atol=1e-6)


def test_go_nogo_cue_selects_the_head_and_only_later_enters_the_gru():
    game = make_game("gonogo", GAME_PARAMS["gonogo"])
    net = random_net(game, seed=5)
    assert net.n_cues == 2 and net.head.out_features == 4
    actions, rewards = [[1, 0, 1, 1]] * 2, [[1.0, 1.0, 0.0, 1.0]] * 2
    data = sequences(game, actions, rewards, [[GO, GO, GO, GO], [GO, GO, NOGO, GO]])
    with torch.no_grad():
        logits, _ = net(data.views())
        out, _ = net.gru(net.inputs(data.views()))
        every_cue = net.all_logits(out)  # [N, T, cue, A]
    assert torch.equal(logits[:, :2], logits[[1, 0], :2])  # same history, same cues: same predictions
    assert torch.allclose(logits[0, 2], every_cue[0, 2, GO]) and torch.allclose(logits[1, 2], every_cue[1, 2, NOGO])
    assert torch.allclose(every_cue[0, 2], every_cue[1, 2])  # this trial's cue is not a GRU input
    assert not torch.allclose(logits[0, 2], logits[1, 2])
    assert not torch.allclose(every_cue[0, 3], every_cue[1, 3])  # next trial: last_seen differs


def test_the_bandit_surrogate_never_reads_the_hidden_reward_assignment():
    """In the bandit the participant sees nothing of the adversary: its moves change no prediction."""
    game = make_game("bandit", GAME_PARAMS["bandit"])
    net = random_net(game, seed=6)
    assert net.gru.input_size == 2 + 2  # one-hot(previous action or none) and the reward
    a = sequences(game, [[0, 1, 1]], [[1.0, 0.0, 1.0]], [[0, 1, 2]])
    b = sequences(game, [[0, 1, 1]], [[1.0, 0.0, 1.0]], [[3, 3, 0]])
    with torch.no_grad():
        assert torch.equal(net(a.views())[0], net(b.views())[0])


def test_a_surrogate_participant_plays_on_the_episodes_device():
    """play_episodes(device=...) resets each player on that device; the surrogate's weights must
    follow, or a CUDA rollout multiplies CUDA inputs by CPU weights. The meta device stands in for
    CUDA here: it carries shapes and devices but no data."""
    game = make_game("bandit")
    participant = SurrogateParticipant(game, SurrogateNet(game, 4))
    hidden, orientation = participant.reset(3, device="meta")  # the bandit's population is counterbalanced
    assert hidden.device.type == "meta" and orientation.mirrored.device.type == "meta"
    assert {p.device.type for p in participant.net.parameters()} == {"meta"}
