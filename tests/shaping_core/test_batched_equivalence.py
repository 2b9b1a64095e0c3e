"""DESIGN principle 1, one rulebook: a batch of B episodes and B separate batches of one give
identical outcomes for the same actions."""

import pytest
import torch

from shaping_core.games import TurnOrder, make_game
from shaping_core.policies import make_policy, sample_actions

B = 64

CASES = [
    # (game, game params, adversary policy or None for uniform requests ignoring the mask,
    #  policy params)
    ("ipd", {"rounds": 8}, "random", {"p_cooperate": 0.4}),
    ("ipd", {"rounds": 8}, "grim_trigger", None),
    ("ipd", {"continuation_probability": 0.75, "max_rounds": 10}, "tit_for_tat", None),
    ("ipd", {"continuation_probability": 0.75, "max_rounds": 10,
             "temptation": 6, "reward": 4, "punishment": 0.5, "sucker": -1}, "random", None),
    ("bandit", {"trials": 10, "rewards_per_option": 3, "target_option": 1}, "random_schedule", None),
    ("bandit", {"trials": 10, "rewards_per_option": 3}, None, None),
    ("gonogo", {"trials": 10, "nogo_trials": 3}, "random_schedule", None),
    ("gonogo", {"trials": 10, "nogo_trials": 3}, None, None),
    ("trust", {"rounds": 5, "endowment": 10, "multiplier": 2.5,
               "return_fractions": [0.0, 0.2, 0.5, 0.9]}, "random_repayment", None),
    ("trust", {"rounds": 5}, "fixed_fraction", {"fraction": 0.75}),
]


def _observe(game, state, participant):
    if game.spec.turn_order is TurnOrder.PARTICIPANT_FIRST:
        return game.observe(state, participant)
    return game.observe(state)


def _play_batched(game, policy, participant, lengths, seed):
    """Play all episodes at once; sample the adversary with a seeded generator."""
    batch, trials = participant.shape
    gen = torch.Generator().manual_seed(seed)
    state = game.init(batch, length=lengths)
    memory = policy.reset(batch) if policy else None
    log = {k: [] for k in ("requested", "applied", "p_reward", "a_reward", "done", "probs", "features")}
    for t in range(trials):
        obs = _observe(game, state, participant[:, t])
        if policy:
            probs, memory = policy.act(obs, memory)
            requested = sample_actions(probs, obs.action_mask, gen)
        else:  # any request at all: the budget rule must sort it out
            probs = torch.full(obs.action_mask.shape, 1.0 / obs.action_mask.shape[1])
            requested = torch.multinomial(probs, 1, generator=gen).squeeze(1)
        state, result = game.step(state, participant[:, t], requested)
        for key, value in (("requested", requested), ("applied", result.adversary_action),
                           ("p_reward", result.participant_reward),
                           ("a_reward", result.adversary_reward), ("done", result.done),
                           ("probs", probs), ("features", obs.features)):
            log[key].append(value)
    assert bool(state.done.all())
    return {k: torch.stack(v, dim=1) for k, v in log.items()}  # [B, T, ...]


def _replay_one(game, policy, participant, requested, length):
    """Replay one episode at batch size 1 with the stored actions (as the live server does)."""
    state = game.init(1, length=length.view(1))
    memory = policy.reset(1) if policy else None
    log = {k: [] for k in ("applied", "p_reward", "a_reward", "done", "probs", "features")}
    for t in range(participant.shape[0]):
        obs = _observe(game, state, participant[t].view(1))
        if policy:
            probs, memory = policy.act(obs, memory)
            log["probs"].append(probs[0])
        log["features"].append(obs.features[0])
        state, result = game.step(state, participant[t].view(1), requested[t].view(1))
        log["applied"].append(result.adversary_action[0])
        log["p_reward"].append(result.participant_reward[0])
        log["a_reward"].append(result.adversary_reward[0])
        log["done"].append(result.done[0])
    return {k: torch.stack(v) for k, v in log.items() if v}


@pytest.mark.parametrize("name, params, policy_name, policy_params", CASES,
                         ids=[f"{c[0]}-{c[2] or 'any-request'}-{i}" for i, c in enumerate(CASES)])
def test_batched_equals_one_by_one(name, params, policy_name, policy_params):
    game = make_game(name, params)
    policy = make_policy(policy_name, game, policy_params) if policy_name else None
    gen = torch.Generator().manual_seed(1234)
    trials = game.max_trials
    n_participant = len(game.spec.participant_actions)
    participant = torch.randint(0, n_participant, (B, trials), generator=gen)
    if name == "ipd" and game.params.continuation_probability is not None:
        lengths = game.init(B, generator=gen).length
        assert len(set(lengths.tolist())) > 3  # the batch really mixes lengths
    else:
        lengths = None
    batched = _play_batched(game, policy, participant, lengths, seed=99)
    stored_lengths = lengths if lengths is not None else torch.full((B,), trials, dtype=torch.long)

    if name in ("bandit", "gonogo") and policy is None:
        # The uniform requests really did get overridden somewhere (the rule was exercised).
        assert not torch.equal(batched["requested"], batched["applied"])
    if policy is not None:
        # A policy sampled within the mask: nothing was forced or withheld.
        assert torch.equal(batched["requested"], batched["applied"])

    for i in range(B):
        single = _replay_one(game, policy, participant[i], batched["requested"][i], stored_lengths[i])
        assert torch.equal(single["applied"], batched["applied"][i]), i
        assert torch.equal(single["p_reward"], batched["p_reward"][i]), i
        assert torch.equal(single["a_reward"], batched["a_reward"][i]), i
        assert torch.equal(single["done"], batched["done"][i]), i
        assert torch.equal(single["features"], batched["features"][i]), i
        if policy is not None:
            assert torch.equal(single["probs"], batched["probs"][i]), i
        if policy is None and i < 8:  # stored applied actions, replayed as requests, change nothing
            again = _replay_one(game, None, participant[i], batched["applied"][i], stored_lengths[i])
            assert torch.equal(again["applied"], batched["applied"][i]), i
            assert torch.equal(again["p_reward"], batched["p_reward"][i]), i

    # Episodes end exactly at their length and earn nothing afterwards.
    steps = torch.arange(1, trials + 1).expand(B, trials)
    assert torch.equal(batched["done"], steps >= stored_lengths.unsqueeze(1))
    after = steps > stored_lengths.unsqueeze(1)
    assert bool((batched["p_reward"][after] == 0).all())
    assert bool((batched["a_reward"][after] == 0).all())
