"""A registered shaping adversary (a GRU policy, or per-trial Q-functions, carrying a human
surrogate) served live: the server runs the surrogate on the participant's real trials, and a
resume after a disconnect (and a restarted worker) replays it exactly (DESIGN.md, principle 4)."""

import pytest
import torch
from channels.db import database_sync_to_async

from helpers import GAMES, SMALL_PARAMS, choose, connect, make_player, make_study, scripted_choice
from shaping_core.games import TurnOrder, make_game
from shaping_core.policies.checkpoint import load_policy, save_policy
from shaping_core.policies.shaping import ShapingAdversary
from shaping_core.policies.shaping_q import QShapingAdversary
from shaping_core.surrogate.model import SurrogateNet
from webapp.play.models import Trial
from webapp.policies.services import policy_register

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async
# The small games of the other tests, but with more no-go trials: the adversary still has choices
# to make late in the game instead of only forced go stimuli.
PARAMS = {**SMALL_PARAMS, "gonogo": {"trials": 12, "nogo_trials": 6}}


def surrogate_net(game, seed) -> SurrogateNet:
    torch.manual_seed(seed)
    net = SurrogateNet(game, 4)
    with torch.no_grad():  # larger weights than the default init, so its state matters visibly
        for parameter in net.parameters():
            parameter.mul_(3)
    return net


def shaping_policy(game, kind, surrogate, net=None):
    if kind == "shaping_q":
        return QShapingAdversary(game, surrogate=surrogate, net=net, width=6)
    return ShapingAdversary(game, {"hidden_size": 6}, surrogate=surrogate, net=net)


def shaping_checkpoint(tmp_path, game_name, kind="shaping", seed=0):
    """An untrained shaping adversary for the tests' small game, saved as a real checkpoint."""
    game = make_game(game_name, PARAMS[game_name])
    policy = shaping_policy(game, kind, surrogate_net(game, seed))
    with torch.no_grad():
        for name, parameter in policy.net.named_parameters():
            # A greedy Q adversary's choice turns on differences between its Q values: without
            # biases those follow the features rather than constants, and weights ten times the
            # init (not more: its sigmoid would saturate into ties) make them differ visibly.
            parameter.mul_(3 if kind == "shaping" else 0 if name.endswith("bias") else 10)
    return save_policy(tmp_path / f"{game_name}-{kind}.pt", policy,
                       provenance={"objective": "max", "command": "test"})


def stored_trials(participant):
    return list(Trial.objects.filter(participant=participant).order_by("index"))


def replay_probabilities(policy, game, trials, participant_actions=None):
    """The adversary's probabilities on each stored trial, replayed from scratch through a fresh
    reset() and act(), fed the stored (or the given) participant actions; and whether the rules
    left it a choice on each trial."""
    state = game.init(1, length=torch.tensor([len(trials)]))
    memory = policy.reset(1)
    participant_first = game.spec.turn_order is TurnOrder.PARTICIPANT_FIRST
    replayed, free = [], []
    for index, trial in enumerate(trials):
        action = trial.participant_action if participant_actions is None else participant_actions[index]
        p_action = torch.tensor([action])
        observation = game.observe(state, p_action if participant_first else None)
        probs, memory = policy.act(observation, memory)
        replayed.append(probs[0])
        free.append(int(observation.action_mask.sum()) > 1)
        state, result = game.step(state, p_action, torch.tensor([trial.adversary_action]))
    return torch.stack(replayed), torch.tensor(free)


KINDS = [(game, "shaping") for game in GAMES] + [("bandit", "shaping_q"), ("gonogo", "shaping_q")]


@pytest.mark.parametrize("game_name, kind", KINDS)
async def test_a_shaping_adversary_plays_live_and_resumes_exactly(tmp_path, game_name, kind):
    from webapp.policies import selectors

    path = shaping_checkpoint(tmp_path, game_name, kind)
    registered = await db(policy_register)(name=f"shaping-{game_name}", data=path.read_bytes())
    assert registered.kind == kind and registered.objective == "max"
    study = await db(make_study)(game_name, params=PARAMS[game_name], conditions=[("shaping", f"policy:shaping-{game_name}", {}, 1)])
    participant = await db(make_player)(study)
    length = participant.episode_length
    half = length // 2  # played before the disconnect

    async def answer(communicator, current, until=None):
        results = []
        while current is not None and (until is None or current["trial"] < until):
            choice = scripted_choice(game_name, current["trial"])
            result = await choose(communicator, current["trial"], choice["choice"], choice["rt_ms"])
            assert result["type"] == "result" and result["duplicate"] is False, result
            results.append(result)
            current = result["next"]
        return results

    communicator, state = await connect(participant.token)
    first = await answer(communicator, state["current"], until=half)
    open_before = first[-1]["next"]
    await communicator.disconnect()
    before = await db(stored_trials)(participant)

    selectors._cache.clear()  # as if another worker picked the participant up: load it afresh
    communicator, state = await connect(participant.token)
    assert state["trial"] == half and state["current"] == open_before
    rest = await answer(communicator, state["current"])
    await communicator.disconnect()
    assert len(first) + len(rest) == length and rest[-1]["done"]

    trials = await db(stored_trials)(participant)
    assert [t.index for t in trials] == list(range(length)) and all(t.is_complete for t in trials)
    for old, new in zip(before, trials):  # nothing recorded before the disconnect was rewritten
        assert (old.adversary_action, old.adversary_probs) == (new.adversary_action, new.adversary_probs)

    game = make_game(game_name, PARAMS[game_name])
    policy = load_policy(path)  # from the file, not the server's copy
    stored = torch.tensor([t.adversary_probs for t in trials])
    replayed, free = replay_probabilities(policy, game, trials)
    assert stored.shape == replayed.shape == (length, len(game.spec.adversary_actions))
    assert torch.allclose(stored, replayed, atol=2e-6)  # the server rounds to 6 decimals
    for trial, probs in zip(trials, replayed):
        assert float(probs[trial.adversary_action]) > 0  # the action drawn is one it could choose

    # The check has teeth: other participant moves, or another surrogate, give other probabilities,
    # so the server did run this surrogate on this participant's real trials, before and after resume.
    flipped = [1 - t.participant_action if game_name != "trust" else (t.participant_action + 7) % 21
               for t in trials]
    differs = (stored - replay_probabilities(policy, game, trials, flipped)[0]).abs().amax(dim=1) > 1e-3
    assert bool(differs[1:][free[1:]].any())
    other = shaping_policy(game, kind, surrogate_net(game, seed=99), net=policy.net)
    differs = (stored - replay_probabilities(other, game, trials)[0]).abs().amax(dim=1) > 1e-3
    assert bool(differs[:half][free[:half]].any())
    assert bool(differs[half:][free[half:]].any()) or not bool(free[half:].any())
