"""Transfer measurement (shaping_core/transfer.py) and the population robust adversaries train
against (shaping_core/learners/population.py)."""

import math

import pytest
import torch

from shaping_core.games import make_game
from shaping_core.learners import make_learner, zoo_for
from shaping_core.learners.population import Population
from shaping_core.participants import ParticipantModel, ParticipantParamsError, ParticipantView
from shaping_core.policies import make_policy
from shaping_core.simulation import Episodes, play_episodes
from shaping_core.surrogate.checkpoint import save_surrogate
from shaping_core.surrogate.model import SurrogateNet, SurrogateParticipant
from shaping_core.transfer import (Estimate, TrainingPopulation, evaluate_against_zoo, fraction_of_gain,
                                   format_table, placement_by_part)

BANDIT = {"trials": 20, "rewards_per_option": 5}


class Always(ParticipantModel):
    """Always picks one option."""

    name, label, games = "always", "Always", ("bandit",)

    def __init__(self, game, option):
        super().__init__(game)
        self.option = option

    def act(self, view, state):
        probs = torch.zeros(view.trial.shape[0], 2)
        probs[:, self.option] = 1.0
        return probs, state


def test_each_episode_is_one_person_of_one_member_drawn_by_weight():
    game = make_game("bandit", BANDIT)
    population = Population(game, [Always(game, 0), Always(game, 1)], weights=[3, 1])
    played = play_episodes(game, population, make_policy("random_schedule", game), 4000,
                           generator=torch.Generator().manual_seed(0))
    actions = played.participant_actions
    per_episode = actions[:, 0]
    assert torch.equal(actions, per_episode[:, None].expand_as(actions))  # one member a whole episode
    assert float((per_episode == 0).float().mean()) == pytest.approx(0.75, abs=0.03)


def test_a_member_with_weight_0_never_plays():
    game = make_game("bandit", BANDIT)
    population = Population(game, [Always(game, 0), Always(game, 1)], weights=[0, 1])
    played = play_episodes(game, population, make_policy("random_schedule", game), 64,
                           generator=torch.Generator().manual_seed(0))
    assert bool((played.participant_actions == 1).all())


def test_each_person_gets_their_own_members_probabilities_and_learning():
    game = make_game("bandit", BANDIT)
    learner = make_learner("q_learning", game, {"alpha": 0.5, "beta": 5, "kappa": 0.0})  # fixed: no draws
    population = Population(game, [learner, Always(game, 1)])
    state = population.reset(8, generator=torch.Generator().manual_seed(2))
    assert set(state.member.tolist()) == {0, 1}
    alone = learner.reset(8)
    none = torch.full((8,), -1)
    for trial, (action, reward) in enumerate([(none, torch.zeros(8)), (torch.zeros(8, dtype=torch.long), torch.ones(8))]):
        view = ParticipantView(trial=torch.full((8,), trial), last_action=action, last_reward=reward,
                               last_seen=none, cue=none)
        probs, state = population.act(view, state)
        expected, alone = learner.act(view, alone)
        is_learner = (state.member == 0)[:, None]
        assert torch.allclose(probs, torch.where(is_learner, expected, torch.tensor([0.0, 1.0])))
    assert probs[state.member == 0, 0].min() > 0.5  # the learner was rewarded for option 0


@pytest.mark.parametrize("members, weights, message", [
    ([], None, "at least one member"),
    (["bandit"], [1, 2], "one non-negative weight per member (1)"),
    (["bandit"], [-1], "one non-negative weight per member"),
    (["bandit", "bandit"], [0, 0], "not all 0"),
    (["other bandit"], None, "plays another game"),
])
def test_bad_populations_are_refused_clearly(members, weights, message):
    game = make_game("bandit", BANDIT)
    other = make_game("bandit", {"trials": 30, "rewards_per_option": 5})
    built = [Always(game if m == "bandit" else other, 0) for m in members]
    with pytest.raises(ParticipantParamsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Population(game, built, weights)


def test_the_training_population_holds_out_families_by_name():
    names = [f.name for f in zoo_for("bandit")]
    population = TrainingPopulation.zoo("bandit", hold_out=[names[0]], surrogate_share=0.4)
    assert population.families == tuple(names[1:]) and population.surrogate_share == 0.4
    with pytest.raises(ParticipantParamsError, match="no family nobody in the bandit zoo"):
        TrainingPopulation.zoo("bandit", hold_out=["nobody"])
    with pytest.raises(ParticipantParamsError, match="every family is held out"):
        TrainingPopulation.zoo("bandit", hold_out=names)
    game = make_game("bandit", BANDIT)
    built = population.build(game, Always(game, 0))
    assert len(built.members) == len(names) and built.weights[0] == pytest.approx(0.4)
    assert float(built.weights.sum()) == pytest.approx(1.0)


def test_other_surrogates_share_the_surrogate_s_episodes(tmp_path):
    game = make_game("bandit", BANDIT)
    paths = [save_surrogate(tmp_path / f"S{i}.pt", SurrogateNet(game, 3), game) for i in range(2)]
    population = TrainingPopulation.zoo("bandit", surrogate_share=0.6, other_surrogates=paths)
    assert population.other_surrogates == tuple(str(p) for p in paths)
    built = population.build(game, Always(game, 0))
    families = len(zoo_for("bandit"))
    assert len(built.members) == 3 + families
    assert all(isinstance(member, SurrogateParticipant) for member in built.members[1:3])
    assert built.weights[:3].tolist() == pytest.approx([0.2] * 3)
    assert built.weights[3:].tolist() == pytest.approx([0.4 / families] * families)
    weighted = TrainingPopulation.zoo("bandit", surrogate_share=0.6, other_surrogates=paths,
                                      training_surrogate_part=0.5).build(game, Always(game, 0))
    assert weighted.weights[:3].tolist() == pytest.approx([0.3, 0.15, 0.15])
    assert weighted.weights[3:].tolist() == pytest.approx([0.4 / families] * families)
    for others, part, message in (((), 0.5, "needs other surrogates"), (paths, 0.0, "must lie in"),
                                  (paths, 1.0, "must lie in")):
        with pytest.raises(ParticipantParamsError, match=f"training_surrogate_part {message}"):
            TrainingPopulation.zoo("bandit", other_surrogates=others, training_surrogate_part=part)

    other = make_game("bandit", {"trials": 30, "rewards_per_option": 5})
    elsewhere = save_surrogate(tmp_path / "other.pt", SurrogateNet(other, 3), other)
    for path, message in ((elsewhere, "other.pt was fitted for Choice-engineering bandit"),
                          (tmp_path / "nothing.pt", "no such file")):
        with pytest.raises(ParticipantParamsError, match=f"other surrogate.*{message}"):
            TrainingPopulation.zoo("bandit", other_surrogates=[path]).build(game, Always(game, 0))


def test_fraction_of_gain():
    assert fraction_of_gain(0.65, 0.5, 0.8) == pytest.approx(0.5)
    assert fraction_of_gain(0.45, 0.5, 0.6) == pytest.approx(-0.5)
    assert fraction_of_gain(0.7, 0.5, None) is None
    assert fraction_of_gain(0.7, 0.5, 0.5) is None  # nothing to gain


def test_estimate_is_the_mean_and_its_standard_error():
    estimate = Estimate.of(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert estimate.mean == 2.5 and estimate.sem == pytest.approx(math.sqrt(5 / 3) / 2)
    assert math.isnan(Estimate.of(torch.tensor([1.0])).sem)


def test_the_random_schedule_against_the_zoo_is_its_own_baseline_and_fractions_use_the_optimum():
    game = make_game("bandit", BANDIT)
    random = make_policy("random_schedule", game)
    results = evaluate_against_zoo(game, random, episodes=64, seed=3,
                                   optimum_of=lambda g, family: Estimate(0.9, 0.01))
    assert [r.family for r in results] == [f.name for f in zoo_for("bandit")]
    for row in results:
        assert row.adversary == row.random  # the same simulated participants, the same schedule draws
        assert row.fraction == pytest.approx(0.0)
        assert row.optimum == Estimate(0.9, 0.01)
    table = format_table(results).splitlines()
    assert table[1].split()[0] == results[0].family and table[1].split()[-1] == "0.00"


def test_placement_by_part_is_the_share_of_each_budget_per_stretch_of_the_game():
    game = make_game("bandit", {"trials": 8, "rewards_per_option": 2})
    actions = torch.tensor([[1, 0, 0, 0, 0, 0, 2, 3]])  # bit 0: reward on option0, bit 1: on option1
    episodes = Episodes(participant_actions=torch.zeros(1, 8, dtype=torch.long), adversary_actions=actions,
                        participant_rewards=torch.zeros(1, 8), adversary_rewards=torch.zeros(1, 8),
                        active=torch.ones(1, 8, dtype=torch.bool), adversary_features=torch.zeros(1, 9, 1),
                        adversary_log_probs=torch.zeros(1, 8), adversary_masks=torch.ones(1, 8, 4, dtype=torch.bool))
    assert placement_by_part(game, episodes).tolist() == [[0.5, 0.0, 0.0, 0.5], [0.0, 0.0, 0.0, 1.0]]
