"""The budget rule (games/budget.py) and the two games built on it: bandit and go/no-go."""

import dataclasses
import itertools

import pytest
import torch

from shaping_core.games import budget, make_game
from shaping_core.games.gonogo import GO, NOGO, RESPOND, WITHHOLD


def long(*values):
    return torch.tensor(values, dtype=torch.long)


# --- budget.py on its own -------------------------------------------------------------------------


def test_bits_round_trip():
    actions = torch.arange(8)
    bits = budget.action_to_bits(actions, 3)
    assert bits.dtype == torch.bool and bits.shape == (8, 3)
    assert bits[5].tolist() == [True, False, True]
    assert bits[6].tolist() == [False, True, True]
    assert torch.equal(budget.bits_to_action(bits), actions)


def test_enforce_withholds_spent_and_forces_tight_budgets():
    requested = torch.tensor([[True], [False], [True], [False], [True], [False]])
    budget_left = torch.tensor([[0], [0], [3], [3], [2], [2]])
    trials_left = torch.tensor([5, 5, 3, 3, 5, 5])
    applied = budget.enforce(requested, budget_left, trials_left)
    assert applied.squeeze(1).tolist() == [False, False, True, True, True, False]


def _all_active_states(max_trials, n_budgets):
    """Every reachable (budget_left, trials_left) with trials_left >= 1."""
    rows, trials = [], []
    for trials_left in range(1, max_trials + 1):
        for budgets in itertools.product(range(trials_left + 1), repeat=n_budgets):
            rows.append(budgets)
            trials.append(trials_left)
    return torch.tensor(rows, dtype=torch.long), torch.tensor(trials, dtype=torch.long)


@pytest.mark.parametrize("n_budgets", [1, 2])
def test_action_mask_is_exactly_what_enforce_leaves_unchanged(n_budgets):
    budget_left, trials_left = _all_active_states(4, n_budgets)
    mask = budget.action_mask(budget_left, trials_left)
    n_actions = 2**n_budgets
    assert mask.shape == (len(trials_left), n_actions)
    for a in range(n_actions):
        requested = budget.action_to_bits(torch.full_like(trials_left, a), n_budgets)
        applied = budget.bits_to_action(budget.enforce(requested, budget_left, trials_left))
        assert torch.equal(mask[:, a], applied == a), a
    assert bool(mask.any(dim=1).all())  # some action is always allowed while trials remain


# --- bandit: the budget over whole games ----------------------------------------------------------

BANDIT = {"trials": 12, "rewards_per_option": 4}


def _requests(kind, batch, trials, n_actions, seed=0):
    gen = torch.Generator().manual_seed(seed)
    if kind == "random":
        return torch.randint(0, n_actions, (batch, trials), generator=gen)
    return torch.full((batch, trials), int(kind), dtype=torch.long)


@pytest.mark.parametrize("target_option", [0, 1])
@pytest.mark.parametrize("kind", ["random", "0", "1", "2", "3"])
def test_bandit_budget_is_exact_for_any_adversary(kind, target_option):
    game = make_game("bandit", {**BANDIT, "target_option": target_option})
    batch, trials = 16, BANDIT["trials"]
    requests = _requests(kind, batch, trials, 4)
    choices = torch.randint(0, 2, (batch, trials), generator=torch.Generator().manual_seed(9))
    state = game.init(batch)
    placed = torch.zeros(batch, 2, dtype=torch.long)
    for t in range(trials):
        state, result = game.step(state, choices[:, t], requests[:, t])
        bits = budget.action_to_bits(result.adversary_action, 2)
        placed += bits.long()
        chosen_bit = bits.gather(1, choices[:, t].unsqueeze(1)).squeeze(1).float()
        assert torch.equal(result.participant_reward, chosen_bit)
        assert torch.equal(result.adversary_reward, (choices[:, t] == target_option).float())
        assert bool((result.done == (t == trials - 1)).all())
    assert placed.tolist() == [[4, 4]] * batch
    assert state.budget_left.tolist() == [[0, 0]] * batch


@pytest.mark.parametrize("per_option, expected", [(0, 0), (5, 5)])
def test_bandit_extreme_budgets(per_option, expected):
    game = make_game("bandit", {"trials": 5, "rewards_per_option": per_option})
    state = game.init(2)
    for _ in range(5):
        state, result = game.step(state, long(0, 1), long(3, 0))
        assert result.adversary_action.tolist() == [3 * (expected > 0)] * 2
        assert result.participant_reward.tolist() == [float(expected > 0)] * 2


def _bandit_state(game, trial, budget_left):
    state = game.init(len(trial))
    return dataclasses.replace(state, trial=long(*trial), budget_left=torch.tensor(budget_left))


def test_bandit_forced_and_withheld_on_hand_made_states():
    game = make_game("bandit", {"trials": 10, "rewards_per_option": 4})
    # trial 7 of 10: 3 trials left.
    cases = [
        # (budget_left, requested, applied)
        ([0, 0], 3, 0),  # both spent: both withheld
        ([0, 1], 1, 0),  # option0 spent: withheld
        ([0, 3], 1, 2),  # option0 withheld, option1 forced (3 left for 3 trials)
        ([3, 3], 0, 3),  # both forced
        ([2, 3], 0, 2),  # option1 forced, option0 free
        ([2, 2], 0, 0),  # nothing forced or spent: as requested
        ([2, 2], 3, 3),
        ([1, 0], 2, 0),
    ]
    state = _bandit_state(game, [7] * len(cases), [c[0] for c in cases])
    requested = long(*(c[1] for c in cases))
    new, result = game.step(state, torch.zeros(len(cases), dtype=torch.long), requested)
    assert result.adversary_action.tolist() == [c[2] for c in cases]
    bits = budget.action_to_bits(result.adversary_action, 2).long()
    assert torch.equal(new.budget_left, state.budget_left - bits)
    # The reward is the applied bit of the chosen option (option0 here), not the requested one.
    assert result.participant_reward.tolist() == [float(c[2] & 1) for c in cases]


def test_bandit_mask_matches_enforce_on_game_states():
    game = make_game("bandit", {"trials": 4, "rewards_per_option": 2})
    cases = [(t, b0, b1) for t in range(4) for b0 in range(3) for b1 in range(3)
             if max(b0, b1) <= 4 - t]
    state = _bandit_state(game, [c[0] for c in cases], [[c[1], c[2]] for c in cases])
    mask = game.adversary_action_mask(state)
    assert torch.equal(mask, game.observe(state).action_mask)
    zeros = torch.zeros(len(cases), dtype=torch.long)
    for a in range(4):
        _, result = game.step(state, zeros, torch.full_like(zeros, a))
        assert torch.equal(mask[:, a], result.adversary_action == a), a


def test_the_pace_rule_makes_the_paced_budget_place_once_it_falls_behind():
    """The bandit's paced budget is the option that is not the target; with `lag` 4, withholding
    its reward is refused once more than 25 * trials_left / 100 + 4 rewards are left."""
    game = make_game("bandit", {"target_option": 0})
    assert game.paced_budget == 1
    cases = [
        # (trials_left, budget_left, allowed actions none / option0 / option1 / both)
        (50, [10, 17], [False, False, True, True]),  # 17 > 12.5 + 4: behind
        (50, [10, 16], [True, True, True, True]),  # 16 <= 16.5
        (40, [25, 15], [False, False, True, True]),  # 15 > 10 + 4
        (40, [25, 14], [True, True, True, True]),
        (100, [25, 25], [True, True, True, True]),
        (1, [0, 0], [True, True, True, True]),  # nothing left to place
    ]
    mask = game.pace_mask(torch.tensor([c[1] for c in cases]), long(*(c[0] for c in cases)), lag=4)
    assert mask.tolist() == [c[2] for c in cases]
    assert bool(game.pace_mask(torch.tensor([[25, 25]]), long(4), lag=25).all())  # never behind


def test_a_game_without_a_paced_budget_refuses_nothing():
    game = make_game("gonogo", GONOGO)
    assert game.paced_budget is None
    assert bool(game.pace_mask(torch.tensor([[3]]), long(3), lag=0).all())


def test_the_lead_rule_refuses_the_lead_budgets_event_once_it_would_run_ahead():
    """The bandit's lead budget is the target; with `lead` 4, placing its reward is refused when
    fewer than 25 * (trials_left - 1) / 100 - 4 rewards would be left after it."""
    game = make_game("bandit", {"target_option": 1})
    assert game.lead_budget == 1
    cases = [
        # (trials_left, budget_left, allowed actions none / option0 / option1 / both)
        (50, [10, 9], [True, True, False, False]),  # 8 left after it < 12.25 - 4: ahead
        (50, [10, 10], [True, True, True, True]),  # 9 >= 8.25
        (100, [25, 22], [True, True, True, True]),  # 21 >= 24.75 - 4
        (100, [25, 21], [True, True, False, False]),  # 20 < 20.75
        (1, [0, 1], [True, True, True, True]),  # the last trial: the budget's rule forces it
        (1, [0, 0], [True, True, True, True]),  # nothing left to place
    ]
    mask = game.lead_mask(torch.tensor([c[1] for c in cases]), long(*(c[0] for c in cases)), lead=4)
    assert mask.tolist() == [c[2] for c in cases]
    assert bool(game.lead_mask(torch.tensor([[25, 1]]), long(99), lead=25).all())  # never ahead


def test_a_game_without_a_lead_budget_refuses_nothing():
    game = make_game("gonogo", GONOGO)
    assert game.lead_budget is None
    assert bool(game.lead_mask(torch.tensor([[1]]), long(12), lead=0).all())


def test_the_game_counts_trials_since_each_budgets_last_event():
    game = make_game("gonogo", {"trials": 6, "nogo_trials": 2})
    state = game.init(1)
    assert state.since_event.tolist() == [[6]]  # none yet: any spacing is met
    seen = []
    for request in (GO, NOGO, GO, GO, NOGO, GO):
        state, _ = game.step(state, long(WITHHOLD), long(request))
        seen.append(int(state.since_event))
    assert seen == [6, 0, 1, 2, 0, 1]
    assert torch.equal(game.observe(state).info["since_event"], state.since_event)


def test_the_spacing_rule_refuses_no_go_too_soon_and_go_when_the_rest_would_not_fit():
    """Go/no-go spaces its no-go trials; with gap 3, b no-go trials left need
    max(0, 3 - since) + 1 + 4 (b - 1) trials."""
    game = make_game("gonogo", {"trials": 40, "nogo_trials": 4})
    assert game.spaced_budget == 0
    cases = [
        # (trials_left, budget_left, since_event, allowed go / no-go)
        (40, 4, 40, [True, True]),  # the start: 13 trials needed of 39 after a go
        (20, 2, 0, [True, False]),  # just placed one: too soon
        (20, 2, 3, [True, True]),
        (5, 2, 3, [False, True]),  # after a go: 1 + 4 = 5 needed of 4
        (6, 2, 2, [True, False]),  # a go makes since 3: 0 + 1 + 4 = 5 needed of 5
        (5, 2, 2, [False, False]),  # cannot fit either way (a state the rule never reaches)
        (3, 0, 1, [True, True]),  # nothing left to place: the game's own rule decides
    ]
    mask = game.spacing_mask(torch.tensor([[c[1]] for c in cases]), long(*(c[0] for c in cases)),
                             torch.tensor([[c[2]] for c in cases]), gap=3)
    assert mask.tolist() == [c[3] for c in cases]


def test_a_game_without_a_spaced_budget_refuses_nothing():
    game = make_game("bandit", {"trials": 10, "rewards_per_option": 4})
    assert game.spaced_budget is None
    assert bool(game.spacing_mask(torch.tensor([[4, 4]]), long(10), torch.tensor([[0, 0]]), gap=5).all())


# --- go/no-go: the budget over whole games --------------------------------------------------------

GONOGO = {"trials": 12, "nogo_trials": 3}


@pytest.mark.parametrize("kind", ["random", "0", "1"])
def test_gonogo_exact_nogo_count_for_any_schedule(kind):
    game = make_game("gonogo", GONOGO)
    batch, trials = 16, GONOGO["trials"]
    requests = _requests(kind, batch, trials, 2, seed=3)
    responses = torch.randint(0, 2, (batch, trials), generator=torch.Generator().manual_seed(4))
    state = game.init(batch)
    applied = []
    for t in range(trials):
        state, result = game.step(state, responses[:, t], requests[:, t])
        applied.append(result.adversary_action)
        correct = ((responses[:, t] == RESPOND) == (result.adversary_action == 0)).float()
        assert torch.equal(result.participant_reward, correct)
        assert torch.equal(result.adversary_reward, 1.0 - correct)
    applied = torch.stack(applied, dim=1)  # [B, T]
    assert applied.sum(dim=1).tolist() == [3] * batch
    assert state.budget_left.tolist() == [[0]] * batch
    if kind == "1":  # no-go requested every trial: granted at once, then withheld
        assert applied.tolist() == [[NOGO] * 3 + [GO] * 9] * batch
    if kind == "0":  # go requested every trial: the last three are forced to no-go
        assert applied.tolist() == [[GO] * 9 + [NOGO] * 3] * batch


def test_gonogo_schedule_places_requests_early_and_forces_late():
    game = make_game("gonogo", {"trials": 5, "nogo_trials": 2})
    applied = {}
    for kind in (0, 1):
        state = game.init(1)
        seq = []
        for _ in range(5):
            state, result = game.step(state, long(WITHHOLD), long(kind))
            seq.append(int(result.adversary_action))
        applied[kind] = seq
    assert applied[1] == [1, 1, 0, 0, 0]  # requested no-go: granted until spent
    assert applied[0] == [0, 0, 0, 1, 1]  # requested go: forced at the end


def test_gonogo_mask_matches_enforce_on_game_states():
    game = make_game("gonogo", {"trials": 4, "nogo_trials": 2})
    cases = [(t, b) for t in range(4) for b in range(3) if b <= 4 - t]
    state = game.init(len(cases))
    state = dataclasses.replace(state, trial=long(*(c[0] for c in cases)),
                                budget_left=torch.tensor([[c[1]] for c in cases]))
    mask = game.adversary_action_mask(state)
    zeros = torch.zeros(len(cases), dtype=torch.long)
    for a in range(2):
        _, result = game.step(state, zeros, torch.full_like(zeros, a))
        assert torch.equal(mask[:, a], result.adversary_action == a)
