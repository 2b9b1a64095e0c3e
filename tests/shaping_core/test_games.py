"""Game rules: IPD, go/no-go, trust, the common stepping contract and observations.

The budget rule of the bandit and go/no-go is in test_budget.py.
"""

import dataclasses

import pytest
import torch

from shaping_core.games import (ChoiceEngineeringBandit, GoNoGo, IteratedPrisonersDilemma, TrustGame,
                                TurnOrder, make_game)
from shaping_core.games.gonogo import GO, NOGO, RESPOND, WITHHOLD
from shaping_core.policies import sample_actions


def long(*values):
    return torch.tensor(values, dtype=torch.long)


def full(batch, value):
    return torch.full((batch,), value, dtype=torch.long)


# --- IPD payoffs ----------------------------------------------------------------------------------

#  (participant, adversary) -> (participant reward, adversary reward) in terms of T, R, P, S
CELLS = {(0, 0): ("R", "R"), (0, 1): ("S", "T"), (1, 0): ("T", "S"), (1, 1): ("P", "P")}


@pytest.mark.parametrize("payoffs", [
    {},
    {"temptation": 6.0, "reward": 4.0, "punishment": 0.5, "sucker": -1.0},
    {"temptation": 10.0, "reward": 7.0, "punishment": 2.0, "sucker": 1.0},
])
def test_ipd_payoff_cells(payoffs):
    game = make_game("ipd", payoffs)
    p = game.params
    value = {"T": p.temptation, "R": p.reward, "P": p.punishment, "S": p.sucker}
    cells = list(CELLS)
    state = game.init(len(cells))
    participant = long(*(c[0] for c in cells))
    adversary = long(*(c[1] for c in cells))
    _, result = game.step(state, participant, adversary)
    for i, cell in enumerate(cells):
        mine, theirs = CELLS[cell]
        assert result.participant_reward[i].item() == pytest.approx(value[mine])
        assert result.adversary_reward[i].item() == pytest.approx(value[theirs])
    assert torch.equal(result.adversary_action, adversary)


def test_ipd_default_payoffs_are_the_classic_ones():
    game = make_game("ipd")
    state = game.init(4)
    _, result = game.step(state, long(0, 0, 1, 1), long(0, 1, 0, 1))
    assert result.participant_reward.tolist() == [3.0, 0.0, 5.0, 1.0]
    assert result.adversary_reward.tolist() == [3.0, 5.0, 0.0, 1.0]


def test_ipd_payoff_matrix_layout():
    game = make_game("ipd")
    m = game.payoff_matrix()
    assert m.shape == (2, 2, 2)
    assert m[0, 1].tolist() == [0.0, 5.0]  # I cooperate, you defect: (S, T)
    assert m[1, 0].tolist() == [5.0, 0.0]


# --- IPD length ---------------------------------------------------------------------------------


def test_ipd_fixed_length_is_rounds():
    game = make_game("ipd", {"rounds": 4})
    assert game.max_trials == 4 and game.announced_length == 4
    state = game.init(3)
    assert state.length.tolist() == [4, 4, 4]
    assert state.trial.tolist() == [0, 0, 0]
    dones = []
    for _ in range(4):
        state, result = game.step(state, full(3, 0), full(3, 1))
        dones.append(result.done.tolist())
    assert dones == [[False] * 3] * 3 + [[True] * 3]
    assert bool(state.done.all())
    assert state.trial.tolist() == [4, 4, 4]


def test_ipd_random_lengths_in_range_and_reproducible():
    game = make_game("ipd", {"continuation_probability": 0.7, "max_rounds": 8})
    assert game.announced_length is None
    assert game.max_trials == 8
    lengths = game.init(2000, generator=torch.Generator().manual_seed(1)).length
    assert lengths.dtype == torch.long
    assert int(lengths.min()) >= 1
    assert int(lengths.max()) <= 8
    assert int((lengths == 1).sum()) > 0  # length 1 happens (prob 0.3)
    assert int((lengths == 8).sum()) > 0  # the cap is reached (prob 0.7**7 ~ 8%)
    again = game.init(2000, generator=torch.Generator().manual_seed(1)).length
    assert torch.equal(lengths, again)
    other = game.init(2000, generator=torch.Generator().manual_seed(2)).length
    assert not torch.equal(lengths, other)


def test_ipd_random_length_mean_is_geometric():
    d = 0.9
    game = make_game("ipd", {"continuation_probability": d, "max_rounds": 1000})
    lengths = game.init(20000, generator=torch.Generator().manual_seed(0)).length.double()
    expected = 1 / (1 - d)
    assert abs(lengths.mean().item() - expected) / expected < 0.03
    # The distribution is geometric: P(length = 1) = 1 - d.
    assert abs((lengths == 1).double().mean().item() - (1 - d)) < 0.01


def test_ipd_random_length_distribution_shape():
    d = 0.5
    game = make_game("ipd", {"continuation_probability": d, "max_rounds": 50})
    lengths = game.init(20000, generator=torch.Generator().manual_seed(3)).length
    for k in (1, 2, 3):
        assert abs((lengths == k).double().mean().item() - d ** (k - 1) * (1 - d)) < 0.015


def test_ipd_init_replays_given_lengths():
    game = make_game("ipd", {"continuation_probability": 0.5, "max_rounds": 10})
    given = long(1, 4, 10, 7)
    state = game.init(4, length=given, generator=torch.Generator().manual_seed(0))
    assert torch.equal(state.length, given)
    done_after = [None] * 4
    for t in range(10):
        state, result = game.step(state, full(4, 0), full(4, 0))
        for i in range(4):
            if done_after[i] is None and bool(result.done[i]):
                done_after[i] = t + 1
    assert done_after == [1, 4, 10, 7]


@pytest.mark.parametrize("bad", [long(0, 3), long(3, 11), long(3)])
def test_ipd_init_rejects_bad_lengths(bad):
    game = make_game("ipd", {"continuation_probability": 0.5, "max_rounds": 10})
    with pytest.raises(ValueError):
        game.init(2, length=bad)


@pytest.mark.parametrize("name, params, bad", [
    ("bandit", {"trials": 5, "rewards_per_option": 2}, long(4, 5)),
    ("gonogo", {"trials": 5, "nogo_trials": 2}, long(5, 6)),
    ("trust", {"rounds": 5}, long(5, 1)),
])
def test_fixed_length_games_reject_other_lengths(name, params, bad):
    game = make_game(name, params)
    with pytest.raises(ValueError, match="always have 5 trials"):
        game.init(2, length=bad)
    assert game.init(2, length=long(5, 5)).length.tolist() == [5, 5]


# --- stepping past done ---------------------------------------------------------------------------


def test_stepping_past_done_changes_nothing_and_pays_nothing():
    game = make_game("ipd", {"continuation_probability": 0.5, "max_rounds": 6})
    state = game.init(3, length=long(1, 3, 6))
    gen = torch.Generator().manual_seed(5)
    frozen = {}
    for t in range(8):
        participant = torch.randint(0, 2, (3,), generator=gen)
        adversary = torch.randint(0, 2, (3,), generator=gen)
        before = state
        state, result = game.step(state, participant, adversary)
        for i, length in enumerate((1, 3, 6)):
            if t < length:
                assert int(state.trial[i]) == t + 1
                assert int(state.last_participant_action[i]) == int(participant[i])
                assert int(state.last_adversary_action[i]) == int(adversary[i])
                assert result.participant_reward[i].item() == game.payoff_matrix()[
                    participant[i], adversary[i], 0].item()
                assert bool(result.done[i]) == (t + 1 == length)
                if t + 1 == length:
                    frozen[i] = {f.name: getattr(state, f.name)[i].clone()
                                 for f in dataclasses.fields(state)}
            else:
                assert result.participant_reward[i].item() == 0.0
                assert result.adversary_reward[i].item() == 0.0
                assert bool(result.done[i])
                for f in dataclasses.fields(state):
                    assert torch.equal(getattr(state, f.name)[i], frozen[i][f.name]), f.name
                    assert torch.equal(getattr(state, f.name)[i], getattr(before, f.name)[i])


def test_step_does_not_mutate_the_given_state():
    game = make_game("ipd", {"rounds": 3})
    state = game.init(2)
    snapshot = {f.name: getattr(state, f.name).clone() for f in dataclasses.fields(state)}
    new, _ = game.step(state, long(0, 1), long(1, 1))
    for name, value in snapshot.items():
        assert torch.equal(getattr(state, name), value)
    assert new is not state


@pytest.mark.parametrize("participant, adversary", [
    (long(0, 2), long(0, 0)),  # participant out of range
    (long(0, 0), long(-1, 0)),  # adversary out of range
    (long(0), long(0, 0)),  # wrong shape
    (long(0, 0), long(0, 0, 0)),
])
def test_step_checks_actions(participant, adversary):
    game = make_game("ipd")
    with pytest.raises(ValueError):
        game.step(game.init(2), participant, adversary)


# --- go/no-go -------------------------------------------------------------------------------------


def test_gonogo_rewards_correct_commission_omission():
    game = make_game("gonogo", {"trials": 10, "nogo_trials": 5})
    state = game.init(4)
    # (participant, requested type): go+respond correct, go+withhold omission,
    # nogo+withhold correct, nogo+respond commission. Budget 5 of 10 left: nothing forced yet.
    participant = long(RESPOND, WITHHOLD, WITHHOLD, RESPOND)
    trial_type = long(GO, GO, NOGO, NOGO)
    _, result = game.step(state, participant, trial_type)
    assert torch.equal(result.adversary_action, trial_type)
    assert result.participant_reward.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert result.adversary_reward.tolist() == [0.0, 1.0, 0.0, 1.0]


def test_gonogo_effective_participant_action():
    game = make_game("gonogo", {"response_window_ms": 600})
    assert game.effective_participant_action(RESPOND, 300.0) == RESPOND
    assert game.effective_participant_action(RESPOND, 600) == RESPOND  # on the edge: in time
    assert game.effective_participant_action(RESPOND, 600.5) == WITHHOLD
    assert game.effective_participant_action(RESPOND, 2000) == WITHHOLD
    with pytest.raises(ValueError, match="reaction time"):
        game.effective_participant_action(RESPOND, None)
    assert game.effective_participant_action(WITHHOLD, None) == WITHHOLD
    assert game.effective_participant_action(WITHHOLD, 5000) == WITHHOLD


@pytest.mark.parametrize("name", ["ipd", "bandit", "trust"])
def test_other_games_take_responses_as_they_are(name):
    game = make_game(name)
    assert game.effective_participant_action(1, None) == 1
    assert game.effective_participant_action(0, 99999.0) == 0


def test_gonogo_cue_and_feedback():
    game = make_game("gonogo")
    assert game.participant_cue(GO) == {"stimulus": "go"}
    assert game.participant_cue(NOGO) == {"stimulus": "nogo"}
    assert game.participant_feedback(RESPOND, GO, 1.0, 0.0) == {
        "stimulus": "go", "your_choice": "respond", "correct": True, "points": 1.0}
    assert game.participant_feedback(RESPOND, NOGO, 0.0, 1.0) == {
        "stimulus": "nogo", "your_choice": "respond", "correct": False, "points": 0.0}
    assert game.participant_feedback(WITHHOLD, GO, 0.0, 1.0)["correct"] is False
    assert game.participant_feedback(WITHHOLD, NOGO, 1.0, 0.0)["correct"] is True


@pytest.mark.parametrize("name", ["ipd", "trust", "bandit"])
def test_no_cue_outside_gonogo(name):
    assert make_game(name).participant_cue(0) == {}


def test_ipd_and_bandit_feedback():
    ipd = make_game("ipd")
    assert ipd.participant_feedback(0, 1, 0.0, 5.0) == {
        "your_choice": "C", "other_choice": "D", "points": 0.0, "other_points": 5.0}
    bandit = make_game("bandit")
    # Only the chosen option's reward is revealed, never the assignment.
    assert bandit.participant_feedback(1, 3, 1.0, 0.0) == {"your_choice": "option1", "points": 1.0}


# --- trust ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [
    {},
    {"endowment": 10, "multiplier": 2.5, "return_fractions": [0.0, 0.2, 0.9]},
    {"endowment": 7, "multiplier": 1.0, "return_fractions": [0.1, 1.0]},
])
def test_trust_payoffs(params):
    game = make_game("trust", params)
    p = game.params
    xs = sorted({0, 1, p.endowment // 2, p.endowment})
    pairs = [(x, a) for x in xs for a in range(len(p.return_fractions))]
    state = game.init(len(pairs))
    participant = long(*(x for x, _ in pairs))
    adversary = long(*(a for _, a in pairs))
    _, result = game.step(state, participant, adversary)
    for i, (x, a) in enumerate(pairs):
        f, m = p.return_fractions[a], p.multiplier
        assert result.participant_reward[i].item() == pytest.approx(p.endowment - x + f * m * x, abs=1e-4)
        assert result.adversary_reward[i].item() == pytest.approx(m * x - f * m * x, abs=1e-4)
    # Nothing is created or lost beyond the multiplication.
    total = result.participant_reward + result.adversary_reward
    expected = p.endowment + (p.multiplier - 1) * participant.float()
    assert torch.allclose(total, expected, atol=1e-4)


def test_trust_payoffs_by_hand():
    game = make_game("trust")  # endowment 20, multiplier 3
    state = game.init(3)
    _, result = game.step(state, long(10, 20, 0), long(2, 0, 4))
    assert result.participant_reward.tolist() == [25.0, 0.0, 20.0]  # 20-10+15, 0, 20
    assert result.adversary_reward.tolist() == [15.0, 60.0, 0.0]


def test_trust_action_names_depend_on_params():
    game = make_game("trust", {"endowment": 3, "return_fractions": [0.0, 0.5, 1.0]})
    assert game.spec.participant_actions == ("0", "1", "2", "3")
    assert game.spec.adversary_actions == ("0%", "50%", "100%")
    default = make_game("trust")
    assert default.spec.participant_actions == tuple(str(x) for x in range(21))
    assert default.spec.adversary_actions == ("0%", "25%", "50%", "75%", "100%")
    # Each instance has its own spec; the first is not changed by the second.
    assert len(game.spec.participant_actions) == 4
    assert TrustGame.spec.participant_actions == ()
    assert game.spec.turn_order is TurnOrder.PARTICIPANT_FIRST


def test_trust_rejects_investment_above_endowment():
    game = make_game("trust", {"endowment": 3})
    with pytest.raises(ValueError):
        game.step(game.init(1), long(4), long(0))


def test_trust_feedback():
    game = make_game("trust")
    feedback = game.participant_feedback(10, 2, 25.0, 15.0)
    assert feedback == {"invested": 10, "multiplied": 30.0, "returned": 15.0, "return_fraction": 0.5,
                        "points": 25.0, "other_points": 15.0}


def test_trust_observe_requires_current_participant_action():
    game = make_game("trust")
    state = game.init(2)
    with pytest.raises(ValueError, match="pass the participant's action"):
        game.observe(state)
    obs = game.observe(state, long(5, 20))
    assert obs.participant_action.tolist() == [5, 20]
    assert obs.info["investment"].tolist() == [5, 20]
    assert obs.action_mask.shape == (2, 5) and bool(obs.action_mask.all())


@pytest.mark.parametrize("name", ["ipd", "bandit", "gonogo"])
def test_observe_refuses_current_participant_action(name):
    game = make_game(name)
    state = game.init(2)
    with pytest.raises(ValueError, match="without seeing"):
        game.observe(state, long(0, 1))
    assert game.observe(state).participant_action is None


def test_turn_orders():
    assert IteratedPrisonersDilemma.spec.turn_order is TurnOrder.SIMULTANEOUS
    assert ChoiceEngineeringBandit.spec.turn_order is TurnOrder.ADVERSARY_FIRST
    assert GoNoGo.spec.turn_order is TurnOrder.ADVERSARY_FIRST
    assert TrustGame.spec.turn_order is TurnOrder.PARTICIPANT_FIRST


# --- observations ---------------------------------------------------------------------------------

SMALL = {
    "ipd": {"rounds": 4},
    "bandit": {"trials": 6, "rewards_per_option": 2},
    "gonogo": {"trials": 6, "nogo_trials": 2},
    "trust": {"rounds": 4, "endowment": 5},
}


def _observe(game, state, participant):
    if game.spec.turn_order is TurnOrder.PARTICIPANT_FIRST:
        return game.observe(state, participant)
    return game.observe(state)


@pytest.mark.parametrize("name", list(SMALL))
def test_observation_over_an_episode(name):
    game = make_game(name, SMALL[name])
    batch = 5
    n_p, n_a = len(game.spec.participant_actions), len(game.spec.adversary_actions)
    gen = torch.Generator().manual_seed(0)
    state = game.init(batch)
    participant = torch.randint(0, n_p, (batch,), generator=gen)
    obs = _observe(game, state, participant)
    # Before the first trial.
    assert obs.batch_size == batch
    assert obs.trial.tolist() == [0] * batch
    assert obs.last_participant_action.tolist() == [-1] * batch
    assert obs.last_adversary_action.tolist() == [-1] * batch
    assert obs.last_participant_reward.tolist() == [0.0] * batch
    assert obs.last_adversary_reward.tolist() == [0.0] * batch
    assert obs.action_mask.shape == (batch, n_a) and obs.action_mask.dtype == torch.bool
    assert obs.features.dtype == torch.float32
    assert obs.features.dim() == 2 and obs.features.shape[0] == batch
    # The "no action yet" columns are set before the first trial.
    assert bool((obs.features[:, n_p] == 1).all())
    assert bool((obs.features[:, n_p + 1 + n_a] == 1).all())
    shape = obs.features.shape
    t = 0
    while not bool(state.done.all()):
        adversary = torch.multinomial(obs.action_mask.float(), 1, generator=gen).squeeze(1)
        state, result = game.step(state, participant, adversary)
        t += 1
        participant = torch.randint(0, n_p, (batch,), generator=gen)
        obs = _observe(game, state, participant)
        assert obs.features.shape == shape
        assert torch.isfinite(obs.features).all()
        assert obs.trial.tolist() == [t] * batch
        assert torch.equal(obs.last_participant_action, state.last_participant_action)
        assert torch.equal(obs.last_adversary_action, result.adversary_action)
        assert torch.equal(obs.last_participant_reward, result.participant_reward)
        assert torch.equal(obs.last_adversary_reward, result.adversary_reward)
        assert bool((obs.features[:, n_p] == 0).all())  # an action exists now
    assert t == game.max_trials


@pytest.mark.parametrize("name, n_features", [
    ("ipd", 3 + 3 + 3),
    ("bandit", 3 + 5 + 3 + 2 + 1),
    ("gonogo", 3 + 3 + 3 + 1 + 1),
    ("trust", 7 + 6 + 3 + 1),  # endowment 5: 6 actions + none; 5 fractions + none
])
def test_feature_sizes(name, n_features):
    game = make_game(name, SMALL[name])
    state = game.init(2)
    obs = _observe(game, state, long(1, 1))
    assert obs.features.shape == (2, n_features)


def test_bandit_observation_info():
    game = make_game("bandit", {"trials": 6, "rewards_per_option": 2})
    state = game.init(2)
    obs = game.observe(state)
    assert obs.info["budget_left"].tolist() == [[2, 2], [2, 2]]
    assert obs.info["trials_left"].tolist() == [6, 6]
    # Episode 0: reward on option0; episode 1: reward on both.
    state, _ = game.step(state, long(0, 1), long(1, 3))
    obs = game.observe(state)
    assert obs.info["budget_left"].tolist() == [[1, 2], [1, 1]]
    assert obs.info["trials_left"].tolist() == [5, 5]


def test_gonogo_observation_info():
    game = make_game("gonogo", {"trials": 6, "nogo_trials": 2})
    state = game.init(2)
    state, _ = game.step(state, long(0, 0), long(NOGO, GO))
    obs = game.observe(state)
    assert obs.info["budget_left"].tolist() == [[1], [2]]
    assert obs.info["trials_left"].tolist() == [5, 5]


def test_ipd_observation_has_no_info():
    game = make_game("ipd")
    assert dict(game.observe(game.init(1)).info) == {}


def test_finished_budgeted_episodes_place_nothing_and_may_only_withhold():
    """Stepping a finished bandit/go-no-go episode reports no forced events, and its mask allows
    exactly the 'place nothing' action, so sampling on it stays well defined."""
    for name, params in [("bandit", {"trials": 2, "rewards_per_option": 1}), ("gonogo", {"trials": 2, "nogo_trials": 1})]:
        game = make_game(name, params)
        state = game.init(1)
        for _ in range(2):
            state, _ = game.step(state, torch.tensor([0]), torch.tensor([0]))
        assert bool(state.done[0])
        mask = game.observe(state).action_mask
        assert mask[0].tolist() == [True] + [False] * (mask.shape[1] - 1)
        assert int(sample_actions(torch.ones_like(mask, dtype=torch.float), mask)[0]) == 0
        after, result = game.step(state, torch.tensor([1]), torch.tensor([mask.shape[1] - 1]))
        assert int(result.adversary_action[0]) == 0 and float(result.participant_reward[0]) == 0.0
        assert after.budget_left.tolist() == state.budget_left.tolist()


def test_fixed_length_ipd_refuses_another_replayed_length():
    game = make_game("ipd", {"rounds": 5})
    with pytest.raises(ValueError, match="always have 5 trials"):
        game.init(2, length=torch.tensor([5, 3]))


def test_trust_action_labels_stay_distinct_for_close_fractions():
    game = make_game("trust", {"return_fractions": [0.0, 0.121, 0.124, 1.0]})
    assert game.spec.adversary_actions == ("0%", "12.1%", "12.4%", "100%")


# --- what each game declares ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["ipd", "bandit", "gonogo", "trust"])
def test_games_declare_what_code_outside_them_needs(name):
    from shaping_core.policies import make_policy

    game = make_game(name)
    actions = torch.tensor([0, 1])
    # Screen sides are counterbalanced exactly where trials can be mirrored onto one side.
    assert game.spec.counterbalanced_sides == (game.mirror(actions, actions) is not None)
    # The baseline adversary is a policy that plays this game.
    baseline, params = game.baseline_adversary
    assert make_policy(baseline, game, params).game is game
    # The headline: the adversary's points per trial as a rate, or the gap between the two sides.
    headline = game.headline(torch.tensor([3.0, 1.0]), torch.tensor([1.0, 2.0]), torch.tensor([4.0, 4.0]))
    if game.spec.headline_rate is None:
        assert headline == {"earnings_gap": 1.5}
    else:
        assert headline == {game.spec.headline_rate[0]: 0.375}
    # A response window goes with the action recorded when it passes.
    assert (game.response_window_ms is None) == (game.no_response_action is None)
    assert game.trial_measures and all(m.name and m.label for m in game.trial_measures)


@pytest.mark.parametrize("name", ["ipd", "bandit", "gonogo", "trust"])
def test_read_feedback_inverts_participant_feedback(name):
    import json

    game = make_game(name)
    shown = game.spec.participant_sees.name != "NOTHING"
    for p_action in range(len(game.spec.participant_actions)):
        for a_action in range(len(game.spec.adversary_actions)):
            feedback = json.loads(json.dumps(game.participant_feedback(p_action, a_action, 1.0, 2.0)))
            assert game.read_feedback(feedback) == (p_action, a_action if shown else -1)


def test_a_win_is_the_games_own():
    """Win-stay/lose-shift reads wins from the game: in the IPD at least R (so T and R win, S and
    P lose, whatever the payoffs); elsewhere any positive reward."""
    ipd = IteratedPrisonersDilemma({"reward": 2.0, "sucker": -1.0, "temptation": 4.0, "punishment": 0.5})
    assert ipd.is_win(torch.tensor([4.0, 2.0, 0.5, -1.0])).tolist() == [True, True, False, False]
    bandit = ChoiceEngineeringBandit()
    assert bandit.is_win(torch.tensor([1.0, 0.0])).tolist() == [True, False]
