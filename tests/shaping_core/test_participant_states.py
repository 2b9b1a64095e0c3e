"""Selecting and concatenating the episodes of a participant model's batched state
(ParticipantModel.select / concatenate), which fitted Q uses to keep and mix the people it samples."""

import pytest
import torch

from shaping_core.games import make_game
from shaping_core.learners import zoo_for
from shaping_core.learners.population import Population
from shaping_core.participants import participant_view
from shaping_core.surrogate.model import SurrogateParticipant

from helpers import random_surrogate

GAME_PARAMS = {"bandit": {"trials": 12, "rewards_per_option": 3}, "gonogo": {"trials": 12, "nogo_trials": 3}}
BATCH = 6


def models(game_name):
    """Every zoo family, the surrogate with and without counterbalancing, and a population of them."""
    game = make_game(game_name, GAME_PARAMS[game_name])
    net = random_surrogate(game, hidden_size=3, seed=1)
    found = {family.name: family.make(game) for family in zoo_for(game_name)}
    found["surrogate"] = SurrogateParticipant(game, net, counterbalance=False)
    if game.mirror(torch.zeros(1, dtype=torch.long), torch.zeros(1, dtype=torch.long)) is not None:
        found["surrogate, counterbalanced"] = SurrogateParticipant(game, net, counterbalance=True)
    found["population"] = Population(game, list(found.values()))
    return game, found


def played(game, model, trials, seed):
    """The model's state after `trials` trials against random allowed adversary actions, with the
    game's state and the next trial's adversary action."""
    generator = torch.Generator().manual_seed(seed)
    state = game.init(BATCH, generator=generator)
    person = model.reset(BATCH, generator=generator)
    for _ in range(trials + 1):
        mask = game.observe(state).action_mask
        action = torch.multinomial(mask.float(), 1, generator=generator).squeeze(1)
        if _ == trials:
            return state, person, action
        probs, person = model.act(participant_view(game, state, action), person)
        choice = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        state, _ = game.step(state, choice, action)


def take_view(view, rows):
    return view.map(lambda x: x[rows])


@pytest.mark.parametrize("game_name", ["bandit", "gonogo"])
def test_a_selected_state_acts_as_its_episodes_did_in_the_whole_batch(game_name):
    game, found = models(game_name)
    rows = torch.tensor([4, 0, 0, 5, 3])
    for name, model in found.items():
        state, person, action = played(game, model, trials=4, seed=3)
        view = participant_view(game, state, action)
        whole, after = model.act(view, person)
        part, part_after = model.act(take_view(view, rows), model.select(person, rows))
        assert torch.equal(part, whole[rows]), name
        # And the state after acting is the selected state after acting: the next trial agrees too.
        again, _ = model.act(take_view(view, rows), part_after)
        expected, _ = model.act(view, after)
        assert torch.equal(again, expected[rows]), name
        # Episodes differ (drawn parameters, histories), so a wrong row would show.
        assert (whole != whole[0]).any(), name


@pytest.mark.parametrize("game_name", ["bandit", "gonogo"])
def test_concatenated_states_act_as_their_parts(game_name):
    game, found = models(game_name)
    for name, model in found.items():
        state, person, action = played(game, model, trials=3, seed=5)
        view = participant_view(game, state, action)
        first, second = torch.tensor([0, 2]), torch.tensor([5, 3, 1])
        joined = model.concatenate([model.select(person, first), model.select(person, second)])
        probs, _ = model.act(take_view(view, torch.cat([first, second])), joined)
        whole, _ = model.act(view, person)
        assert torch.equal(probs, whole[torch.cat([first, second])]), name
