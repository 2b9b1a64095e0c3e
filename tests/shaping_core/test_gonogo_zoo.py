"""Go/no-go's learner zoo: shaping_core/learners/gonogo_zoo.py and gonogo_learners.py."""

import math

import pytest
import torch

from shaping_core.games import make_game
from shaping_core.games.gonogo import GO, NOGO, RESPOND, WITHHOLD
from shaping_core.learners import LEARNERS, family, make_learner, zoo_for
from shaping_core.participants import ParticipantParamsError, ParticipantView
from shaping_core.policies import make_policy
from shaping_core.simulation import play_episodes

FAMILIES = zoo_for("gonogo")
NEW_FAMILIES = [f for f in FAMILIES if f.learner != "q_learning"]
SMALL_GAME = {"trials": 60, "nogo_trials": 12}


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def view(trial, cue, last_action=-1, last_reward=0):
    """A batch-of-one view."""
    def long(x):
        return torch.tensor([x], dtype=torch.long)
    return ParticipantView(trial=long(trial), last_action=long(last_action),
                           last_reward=torch.tensor([float(last_reward)]), last_seen=long(-1),
                           cue=long(cue))


def p_respond(probs):
    return float(probs[0, RESPOND])


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def drawn(state):
    """The per-episode parameters a learner of this zoo drew at reset."""
    return state if isinstance(state, dict) else state.drawn


class Checked:
    """Wraps a learner and checks every probability table it returns."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def reset(self, batch_size, **kwargs):
        self.batch_size = batch_size
        return self.inner.reset(batch_size, **kwargs)

    def act(self, view, state):
        probs, state = self.inner.act(view, state)
        assert probs.shape == (self.batch_size, 2)
        assert bool((probs >= 0).all()) and not bool(probs.isnan().any())
        assert torch.allclose(probs.sum(dim=1), torch.ones(self.batch_size), atol=1e-6)
        self.calls += 1
        return probs, state


def play(learner, game, batch_size, seed=0):
    return play_episodes(game, learner, make_policy("random_schedule", game), batch_size,
                         generator=generator(seed))


# --- the zoo ---------------------------------------------------------------------------------------


def test_the_zoo_has_distinct_families_of_registered_gonogo_learners():
    names = [f.name for f in FAMILIES]
    assert len(names) >= 4 and len(set(names)) == len(names)
    assert len({f.learner for f in FAMILIES}) == len(FAMILIES)
    for f in FAMILIES:
        assert "gonogo" in LEARNERS[f.learner].games and f.reference
    assert family("gonogo", "fatigue").learner == "vigilance_decrement"


@pytest.mark.parametrize("fam", FAMILIES, ids=lambda f: f.name)
def test_every_family_plays_a_population_with_valid_probabilities(fam):
    game = make_game("gonogo", SMALL_GAME)
    checked = Checked(fam.make(game))
    episodes = play(checked, game, 200, seed=3)
    assert checked.calls == game.max_trials
    assert episodes.participant_actions.shape == (200, game.max_trials)
    again = play(fam.make(game), game, 200, seed=3)
    assert torch.equal(episodes.participant_actions, again.participant_actions)


@pytest.mark.parametrize("fam", NEW_FAMILIES, ids=lambda f: f.name)
def test_parameters_are_drawn_per_participant_within_the_family_ranges(fam):
    learner = fam.make(make_game("gonogo"))
    values = drawn(learner.reset(64, generator=generator(1)))
    assert set(fam.params) == set(values)
    for name, (low, high) in fam.params.items():
        assert bool(((values[name] >= low) & (values[name] <= high)).all()), name
        assert len(set(values[name].tolist())) == 64, name
    other = drawn(learner.reset(64, generator=generator(2)))
    assert not torch.equal(values[name], other[name])


# --- each learner's equations, by hand -------------------------------------------------------------


def test_pavlovian_term_pulls_toward_responding_on_a_valued_stimulus():
    alpha, rho, bias, pav, noise = 0.5, 4.0, 0.6, 0.5, 0.1
    learner = make_learner("pavlovian_go_bias", make_game("gonogo"),
                           {"alpha": alpha, "rho": rho, "go_bias": bias, "pavlovian": pav,
                            "noise": noise})

    def expected(w_respond, w_withhold):
        return (1 - noise) * sigmoid(w_respond - w_withhold) + noise / 2

    state = learner.reset(1)
    probs, state = learner.act(view(0, GO), state)
    assert math.isclose(p_respond(probs), expected(bias, 0), rel_tol=1e-6)
    # Responded to go and was paid: Q(go, respond) and V(go) both move to alpha * rho.
    probs, state = learner.act(view(1, GO, RESPOND, 1), state)
    learnt = alpha * rho
    assert math.isclose(p_respond(probs), expected(learnt + bias + pav * learnt, 0), rel_tol=1e-6)
    # A no-go stimulus has no value yet: only the go bias.
    probs, state = learner.act(view(2, NOGO, RESPOND, 1), state)
    assert math.isclose(p_respond(probs), expected(bias, 0), rel_tol=1e-6)
    # Withheld on no-go and was paid: withholding gains value, and so does the stimulus, whose
    # Pavlovian pull now works against withholding.
    probs, state = learner.act(view(3, NOGO, WITHHOLD, 1), state)
    assert math.isclose(p_respond(probs), expected(bias + pav * learnt, learnt), rel_tol=1e-6)
    # A commission error (reward 0) pulls Q(no-go, respond) and V(no-go) toward 0.
    _, state = learner.act(view(4, GO, RESPOND, 0), state)
    assert torch.allclose(state.q[0, NOGO], torch.tensor([learnt, 0.0]))
    assert math.isclose(float(state.v[0, NOGO]), learnt * (1 - alpha), rel_tol=1e-6)


def test_fatigue_lapses_grow_linearly_with_the_trial_index():
    learner = make_learner("vigilance_decrement", make_game("gonogo"),
                           {"lapse_start": 0.1, "lapse_growth": 0.04, "respond_when_lapsing": 0.9})
    state = learner.reset(1)
    lapse = 0.1 + 0.04 * 250 / 100
    assert math.isclose(p_respond(learner.act(view(250, NOGO), state)[0]), lapse * 0.9, rel_tol=1e-6)
    assert math.isclose(p_respond(learner.act(view(250, GO), state)[0]), 1 - lapse * 0.1, rel_tol=1e-6)
    # The lapse probability stops at 1: the prepotent routine alone decides.
    assert math.isclose(p_respond(learner.act(view(5000, NOGO), state)[0]), 0.9, rel_tol=1e-6)
    assert math.isclose(p_respond(learner.act(view(5000, GO), state)[0]), 0.9, rel_tol=1e-6)


@pytest.mark.parametrize("retention", [1.0, 0.5])
def test_base_rate_learner_expects_no_go_from_the_stimuli_seen(retention):
    mean, strength, impulse, control, omission = 0.3, 4.0, 1.0, 10.0, 0.02
    learner = make_learner("base_rate", make_game("gonogo"),
                           {"prior_mean": mean, "prior_strength": strength, "retention": retention,
                            "impulse": impulse, "control": control, "omission": omission})
    state = learner.reset(1)
    cues = [GO, NOGO, GO, GO, NOGO, GO]
    for t, cue in enumerate(cues):  # what it does is irrelevant: only the stimuli count
        _, state = learner.act(view(t, cue, RESPOND, 1), state)
    weights = [retention ** (len(cues) - 1 - t) for t in range(len(cues))]
    k = sum(w for w, cue in zip(weights, cues) if cue == NOGO)
    n = sum(weights)
    if retention == 1:
        assert (k, n) == (2, 6)
    expected_nogo = (mean * strength + k) / (strength + n)
    nogo_probs, _ = learner.act(view(6, NOGO, RESPOND, 1), state)
    go_probs, _ = learner.act(view(6, GO, RESPOND, 1), state)
    assert math.isclose(p_respond(nogo_probs), sigmoid(impulse - control * expected_nogo), rel_tol=1e-5)
    assert math.isclose(p_respond(go_probs), 1 - omission, rel_tol=1e-6)


def test_response_habit_builds_with_responses_and_fades_with_withholds():
    rate, impulse, weight = 0.3, -0.5, 5.0
    learner = make_learner("response_habit", make_game("gonogo"),
                           {"rate": rate, "impulse": impulse, "weight": weight, "omission": 0})
    state = learner.reset(1)
    probs, state = learner.act(view(0, NOGO), state)
    assert math.isclose(p_respond(probs), sigmoid(impulse - weight), rel_tol=1e-6)
    for t in range(1, 4):  # three responses in a row: 1 - h = (1 - rate)^3
        probs, state = learner.act(view(t, NOGO, RESPOND, 1), state)
    gap = (1 - rate) ** 3
    assert math.isclose(p_respond(probs), sigmoid(impulse - weight * gap), rel_tol=1e-5)
    probs, state = learner.act(view(4, NOGO, WITHHOLD, 1), state)
    gap = gap + rate * (1 - gap)  # a withhold moves h toward 0
    assert math.isclose(p_respond(probs), sigmoid(impulse - weight * gap), rel_tol=1e-5)
    assert p_respond(learner.act(view(5, GO, WITHHOLD, 0), state)[0]) == 1.0


@pytest.mark.parametrize("name", [f.learner for f in NEW_FAMILIES])
def test_a_batch_is_its_episodes_side_by_side(name):
    learner = make_learner(name, make_game("gonogo"))
    g = generator(4)
    cues = torch.randint(0, 2, (3, 12), generator=g)
    actions = torch.randint(0, 2, (3, 12), generator=g)
    rewards = (actions != cues).float()  # correct: a response differs from the no-go bit

    def run(rows):
        state, out = learner.reset(len(rows)), []
        for t in range(12):
            previous = (actions[rows, t - 1], rewards[rows, t - 1]) if t else (
                torch.full((len(rows),), -1), torch.zeros(len(rows)))
            v = ParticipantView(trial=torch.full((len(rows),), t), last_action=previous[0],
                                last_reward=previous[1], last_seen=torch.full((len(rows),), -1),
                                cue=cues[rows, t])
            probs, state = learner.act(v, state)
            out.append(probs)
        return torch.stack(out, dim=1)

    batched = run([0, 1, 2])
    alone = torch.cat([run([row]) for row in range(3)])
    assert torch.allclose(batched, alone, atol=1e-6)


# --- the families behave differently ---------------------------------------------------------------


@pytest.fixture(scope="module")
def signatures():
    """Commission and omission rates of each family's population over the default game (350
    trials, 35 no-go) against the random schedule: overall, in the first and last quarter, and
    on no-go trials after 0-1 or 8+ go trials in a row."""
    game = make_game("gonogo")
    rates = {}
    for fam in FAMILIES:
        episodes = play(fam.make(game), game, 400, seed=11)
        nogo = episodes.adversary_actions == NOGO
        responded = episodes.participant_actions == RESPOND
        quarter = torch.arange(game.max_trials) * 4 // game.max_trials
        run, runs = torch.zeros(nogo.shape[0], dtype=torch.long), []  # go trials in a row before
        for t in range(game.max_trials):
            runs.append(run)
            run = torch.where(nogo[:, t], 0, run + 1)
        run = torch.stack(runs, dim=1)

        def commission(where=True):
            return float((responded & nogo & where).sum() / (nogo & where).sum())

        rates[fam.name] = {
            "commission": commission(), "omission": float((~responded & ~nogo).sum() / (~nogo).sum()),
            "first_quarter": commission(quarter == 0), "last_quarter": commission(quarter == 3),
            "short_run": commission(run <= 1), "long_run": commission(run >= 8)}
    return rates


def test_learners_err_less_with_practice_and_the_fatigued_err_more(signatures):
    for name in ("q_learning", "pavlovian_go_bias"):
        assert signatures[name]["first_quarter"] > signatures[name]["last_quarter"] + 0.15, name
    assert signatures["fatigue"]["last_quarter"] > signatures["fatigue"]["first_quarter"] + 0.05


def test_expectation_and_habit_err_more_after_long_runs_of_go(signatures):
    for name in ("base_rate", "prepotency"):
        assert signatures[name]["long_run"] > signatures[name]["short_run"] + 0.04, name
    for name in ("pavlovian_go_bias", "fatigue"):
        assert abs(signatures[name]["long_run"] - signatures[name]["short_run"]) < 0.03, name


def test_error_rates_are_human_like(signatures):
    """Commission between 10% and 35% (people: about 21%), omission under 3% (about 1%)."""
    for name, rates in signatures.items():
        assert 0.1 < rates["commission"] < 0.35 and rates["omission"] < 0.03, name


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, params, message", [
    ("pavlovian_go_bias", {"pavlovian": -0.1}, "pavlovian must lie in [0, 10], got -0.1"),
    ("pavlovian_go_bias", {"alpha": [0.5, 0.1]}, "alpha: low (0.5) must not exceed high (0.1)"),
    ("vigilance_decrement", {"lapse_start": 1.5}, "lapse_start must lie in [0, 1], got 1.5"),
    ("vigilance_decrement", {"fatigue": 0.1}, "unknown parameter(s) fatigue; expected some of"),
    ("base_rate", {"prior_strength": 0.5}, "prior_strength must lie in [1, 1000], got 0.5"),
    ("base_rate", {"retention": [0.9, 1.1]}, "retention must lie in [0, 1], got [0.9, 1.1]"),
    ("response_habit", {"rate": "fast"}, "rate must be a number or a [low, high] pair"),
    ("response_habit", {"omission": [0, math.nan]}, "omission must be finite"),
])
def test_bad_parameters_give_a_readable_message(name, params, message):
    with pytest.raises(ParticipantParamsError) as error:
        make_learner(name, make_game("gonogo"), params)
    assert message in str(error.value)


@pytest.mark.parametrize("name", [f.learner for f in NEW_FAMILIES])
def test_gonogo_learners_play_only_gonogo(name):
    with pytest.raises(ParticipantParamsError, match="cannot play Choice"):
        make_learner(name, make_game("bandit"))
