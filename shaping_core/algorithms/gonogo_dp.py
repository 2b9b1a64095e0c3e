"""The most errors any adversary can cause in go/no-go against a learner whose state is small:
dynamic programming over (trial, the learner's state, the no-go trials left to place).

A learner that supports this describes itself as a `GoNoGoTable` for one participant's parameter
values (`learner.tabular(values, grid)`): a finite set of states (exact, or nodes of a grid with
linear interpolation between them), the probability of a response in each state to each stimulus
(which may change with the trial index: time on task), and where each (stimulus, own action)
leads. The learner sees the stimulus before it acts, and its feedback (correct or not) is a
function of the two, so (stimulus, action) is all it learns from. `solve` gives

    V[t, s, b] = expected errors from trial t on, in learner state s, with b no-go trials left

under the best adversary, who each trial picks the stimulus as the budget rule allows
(games/budget.py: exactly `nogo_trials` no-go trials in the session):

    V[t, s, b] = max over allowed c of  sum_a P(a | t, s, c) [error(c, a) + E V[t + 1, s'(s, c, a), b - c]]

`optimal_rate` reads it at the start: errors per trial, an upper bound for every adversary that
must infer the learner's state instead of reading it. `GoNoGoOracle` plays those values against
the real learner. This is bandit_dp.py's method for the other budgeted game; shaping_core/optimum.py
solves a zoo family with whichever a learner's table is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from ..games import Game, Observation
from ..games.gonogo import GO, NOGO, RESPOND, WITHHOLD, GoNoGoParams
from ..policies.base import Policy
from .bandit_dp import UNREACHABLE
from .markov_chain import MarkovChain, TabularError, check_chain

CUES = (GO, NOGO)


def error(cue: int, action: int) -> float:
    """1 for a commission (a response to no-go) or an omission (a withhold on go)."""
    return float((action == RESPOND) == (cue == NOGO))


@dataclass(frozen=True)
class GoNoGoTable(MarkovChain):
    """One participant's learner as a Markov chain the adversary steers by choosing stimuli.

    S states, T trials. The next state after (stimulus c, own action a) is a mixture of up to K
    nodes with weights summing to 1 (linear interpolation on a grid; K = 1 and weight 1 for exact
    states). Checked when built (`TabularError`)."""

    respond: Tensor
    """[T, S, 2] float64: P(respond) on trial t in state s to stimulus c (GO, NOGO), in [0, 1]."""
    next_index: Tensor
    """[S, 2, 2, K] long: candidate next states after stimulus c and own action a."""
    next_weight: Tensor
    """[S, 2, 2, K] float64: their weights (each [s, c, a] row sums to 1)."""
    initial_index: Tensor
    """[K0] long: the state(s) before the first trial."""
    initial_weight: Tensor
    """[K0] float64: their weights (sum to 1)."""

    def __post_init__(self):
        if self.respond.dtype != torch.float64 or self.respond.dim() != 3 or self.respond.shape[2] != 2:
            raise TabularError(f"respond must be float64 of shape [T, S, 2], got "
                               f"{self.respond.dtype} {list(self.respond.shape)}")
        if not bool(((self.respond >= 0) & (self.respond <= 1)).all()):
            raise TabularError("respond must hold probabilities in [0, 1]")
        check_chain(self, self.n_states)

    @property
    def n_states(self) -> int:
        return self.respond.shape[1]

    @property
    def trials(self) -> int:
        return self.respond.shape[0]

    # The interface shaping_core/optimum.py solves a table through (bandit_dp.TabularLearner too).

    def solve(self, params: GoNoGoParams) -> Tensor:
        return solve(self, params)

    def optimal_rate(self, values: Tensor, params: GoNoGoParams) -> float:
        return optimal_error_rate(self, values, params)

    def oracle(self, game: Game, values: Tensor) -> Policy:
        return GoNoGoOracle(game, self, values)


def action_values(table: GoNoGoTable, t: int, next_values: Tensor) -> Tensor:
    """[2, S, B + 1]: expected errors from trial t on after each stimulus (GO, NOGO), in each
    state and at each count of no-go trials left before this trial, when `next_values`
    [S, B + 1] are those from trial t + 1 on. A no-go at b = 0 is not defined (the rule forbids
    it): UNREACHABLE there."""
    after = table.expected_next(next_values)  # [S, cue, action, b]
    p_respond = table.respond[t][:, :, None]  # [S, cue, 1]
    values = []
    for cue in CUES:
        used = int(cue == NOGO)
        following = after[:, cue, :, :after.shape[-1] - used]  # b - used left for the next trial
        value = ((1 - p_respond[:, cue]) * (error(cue, WITHHOLD) + following[:, WITHHOLD])
                 + p_respond[:, cue] * (error(cue, RESPOND) + following[:, RESPOND]))
        if used:
            value = torch.cat([torch.full_like(value[:, :1], UNREACHABLE), value], dim=1)
        values.append(value)
    return torch.stack(values)


def solve(table: GoNoGoTable, params: GoNoGoParams) -> Tensor:
    """V [trials + 1, S, nogo_trials + 1] float64: expected errors from trial t on under the best
    adversary, UNREACHABLE where the rule admits no schedule (more no-go left than trials)."""
    if table.trials < params.trials:
        raise TabularError(f"the table covers {table.trials} trials, the game has {params.trials}")
    trials, budget = params.trials, params.nogo_trials
    values = torch.zeros(trials + 1, table.n_states, budget + 1, dtype=torch.float64)
    values[trials, :, 1:] = UNREACHABLE
    left = torch.arange(budget + 1)
    for t in reversed(range(trials)):
        go_value, nogo_value = action_values(table, t, values[t + 1])
        may_go = left < trials - t
        best = torch.maximum(go_value.masked_fill(~may_go, UNREACHABLE), nogo_value)
        values[t] = best.clamp_min(UNREACHABLE)
    return values


def optimal_error_rate(table: GoNoGoTable, values: Tensor, params: GoNoGoParams) -> float:
    """The optimum: the best adversary's expected errors per trial from the start."""
    start = values[0, :, params.nogo_trials]
    return float((start[table.initial_index] * table.initial_weight).sum()) / params.trials


class GoNoGoOracle(Policy):
    """Plays the solved values against the real learner: it knows the learner's table and tracks
    its state as a distribution over the table's states from the stimuli it showed and the
    responses it saw; each trial it shows the allowed stimulus of higher expected value."""

    name, label, games = "gonogo_oracle", "Oracle adversary (knows the learner)", ("gonogo",)

    def __init__(self, game: Game, table: GoNoGoTable, values: Tensor):
        super().__init__(game)
        self.table, self.values = table, values

    def reset(self, batch_size, device="cpu"):
        return self.table.initial_belief(batch_size)

    @torch.no_grad()
    def act(self, observation: Observation, belief: Tensor):
        seen = observation.last_participant_action >= 0
        advanced = self.table.advance(belief, observation.last_adversary_action.clamp_min(0),
                                      observation.last_participant_action.clamp_min(0))
        belief = torch.where(seen.unsqueeze(1), advanced, belief)
        trials = self.game.params.trials
        trial = observation.trial.clamp_max(trials - 1)
        budget_left = observation.info["budget_left"][:, 0]
        scores = torch.zeros(observation.batch_size, 2, dtype=torch.float64)
        for t in trial.unique().tolist():
            rows = torch.nonzero(trial == t).squeeze(1)
            per_state = action_values(self.table, t, self.values[t + 1])  # [2, S, B + 1]
            at_budget = per_state[:, :, budget_left[rows]]  # [2, S, rows]
            scores[rows] = torch.einsum("rs,csr->rc", belief[rows], at_budget)
        scores = scores.masked_fill(~observation.action_mask, float("-inf"))
        return self._deterministic(scores.argmax(dim=1)), belief


def table_from_rules(respond: Tensor, next_state: Mapping[tuple[int, int], tuple[Tensor, Tensor]],
                     initial: tuple[Tensor, Tensor]) -> GoNoGoTable:
    """A `GoNoGoTable` from `respond` [T, S, 2] and, per (stimulus, action), the ([S, K] index,
    [S, K] weight) of the next states; `initial` is ([K0] index, [K0] weight)."""
    k = max(index.shape[-1] for index, _ in next_state.values())
    n = respond.shape[1]
    next_index = torch.zeros(n, 2, 2, k, dtype=torch.long)
    next_weight = torch.zeros(n, 2, 2, k, dtype=torch.float64)
    for (cue, action), (index, weight) in next_state.items():
        next_index[:, cue, action, :index.shape[-1]] = index
        next_weight[:, cue, action, :weight.shape[-1]] = weight
    return GoNoGoTable(respond, next_index, next_weight, *initial)
