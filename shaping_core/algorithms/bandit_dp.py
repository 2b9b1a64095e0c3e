"""The best target-choice rate any adversary can reach on the choice-engineering bandit against a
learner whose state is small: dynamic programming over (trial, the learner's state, the rewards
left per option).

A learner that supports this describes itself as a `TabularLearner` for one participant's
parameter values (`learner.tabular(values, grid)`): a finite set of states (exact, or nodes of a
grid over continuous values with linear interpolation between them), the choice probabilities in
each, and where each (own choice, reward seen) leads. Knowing that chain, the adversary faces a
fully observed decision problem; `solve` gives

    V[t, s, b_target, b_other] = expected target choices from trial t on, in learner state s, with
                                 b_target / b_other rewards left on the target / the other option

under the best adversary, who each trial sets both options' reward bits as the budget rule allows
(games/budget.py). `optimal_target_rate` reads it at the start: an upper bound for every adversary,
trained or hand-written, that must learn or guess the learner's state instead of reading it.
`OracleAdversary` plays those values against the real learner (a check of the grid, and the
optimum's policy). shaping_core/optimum.py solves a zoo family's population with them;
algorithms/gonogo_dp.py does the same for go/no-go, and algorithms/markov_chain.py holds what the
two share.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..games import Game, Observation
from ..games.bandit import BanditParams
from ..games.budget import allowed
from ..policies.base import Policy
from .markov_chain import TabularError  # noqa: F401 (raised by the checks; callers catch it from here)
from .markov_chain import MarkovChain, check_chain, check_distribution

UNREACHABLE = -1e9
"""The value of budgets the rule cannot reach from the start (more rewards left than trials): no
allowed action leads there, so it never wins a max."""
ACTIONS = range(4)
"""The adversary's actions, as the game numbers them: bit k = a reward on option k."""


@dataclass(frozen=True)
class TabularLearner(MarkovChain):
    """One participant's learner as a Markov chain the adversary steers.

    S states; options are indexed as the game's participant actions (option0, option1), whichever
    is the target. The learner only sees the reward of the option it chose (0 or 1), so its next
    state depends on its own choice a and that reward r alone. Continuous states are represented
    on grid nodes: the state after (a, r) is a mixture of up to K nodes with weights summing to 1
    (linear interpolation); exact finite states use K = 1 and weight 1. Checked when built
    (`TabularError`).
    """

    probs: Tensor
    """[S, 2] float64: P(choose option k) in state s. Rows sum to 1."""
    next_index: Tensor
    """[S, 2, 2, K] long: candidate next states after choosing option a and seeing reward r."""
    next_weight: Tensor
    """[S, 2, 2, K] float64: their weights (each [s, a, r] row sums to 1)."""
    initial_index: Tensor
    """[K0] long: the state(s) before the first trial."""
    initial_weight: Tensor
    """[K0] float64: their weights (sum to 1)."""

    def __post_init__(self):
        n_states = self.probs.shape[0] if self.probs.dim() == 2 else 0
        check_distribution("probs", self.probs, (n_states, 2), dim=1)
        check_chain(self, n_states)

    @property
    def n_states(self) -> int:
        return self.probs.shape[0]

    # The interface shaping_core/optimum.py solves a table through (gonogo_dp.GoNoGoTable too).

    def solve(self, params: BanditParams) -> Tensor:
        return solve(self, params)

    def optimal_rate(self, values: Tensor, params: BanditParams) -> float:
        return optimal_target_rate(self, values, params)

    def oracle(self, game: Game, values: Tensor) -> Policy:
        return OracleAdversary(game, self, values)


def backup(learner: TabularLearner, next_values: Tensor, target: int, allowed: Tensor) -> Tensor:
    """[S, B + 1, B + 1]: expected target choices from this trial on, in each state and at each
    budget (target, other), under the best action that `allowed` [4, B + 1, B + 1] (from
    `allowed_actions`) permits there, when `next_values` [S, B + 1, B + 1] are those from the
    next trial on. UNREACHABLE where no action is allowed."""
    after = learner.expected_next(next_values)  # [S, choice, reward seen, b_target, b_other]
    probs = learner.probs[:, :, None, None]
    size = next_values.shape[-1]
    best = torch.full_like(next_values, UNREACHABLE)
    for action in ACTIONS:
        rewards = (action & 1, action >> 1 & 1)  # per option
        r_target, r_other = rewards[target], rewards[1 - target]
        # b rewards left, r placed now: b - r left for the next trial. The action is defined
        # (and allowed) only from budget r up: the block [r:] of this trial's budgets.
        left = [after[:, choice, rewards[choice], :size - r_target, :size - r_other] for choice in (0, 1)]
        value = (probs[:, 0] * left[0]).addcmul_(probs[:, 1], left[1]).add_(probs[:, target])
        value.masked_fill_(~allowed[action, r_target:, r_other:], UNREACHABLE)
        block = best[:, r_target:, r_other:]
        torch.maximum(block, value, out=block)
    return best


def action_values_at(learner: TabularLearner, values: Tensor, target: int, trial: Tensor,
                     state: Tensor, b_target: Tensor, b_other: Tensor) -> Tensor:
    """[N, 4]: expected target choices from trial `trial` [N] on after each action (the game's
    numbering), as `backup` weighs them, at N (state, budget target, budget other) points only:
    for an adversary that needs a few, where `backup` does every state. `values` is the solution.
    Actions the rule forbids there score arbitrarily: mask them."""
    probs, after_trial = learner.probs[state], (trial + 1)[:, None]
    scores = []
    for action in ACTIONS:
        rewards = (action & 1, action >> 1 & 1)  # per option
        left_target = (b_target - rewards[target]).clamp_min(0)[:, None]
        left_other = (b_other - rewards[1 - target]).clamp_min(0)[:, None]
        value = probs[:, target]
        for choice in (0, 1):
            index = learner.next_index[state, choice, rewards[choice]]  # [N, K]
            weight = learner.next_weight[state, choice, rewards[choice]]
            after = (values[after_trial, index, left_target, left_other] * weight).sum(dim=1)
            value = value + probs[:, choice] * after
        scores.append(value)
    return torch.stack(scores, dim=1)


def allowed_actions(budget: int, trials_left: int, target: int) -> Tensor:
    """[4, B + 1, B + 1] bool: the actions the budget rule allows at each budget (target, other)."""
    budgets = torch.arange(budget + 1)
    may_withhold, may_place = allowed(budgets[:, None], torch.full_like(budgets, trials_left))
    may = (may_withhold[:, 0], may_place[:, 0])  # [B + 1] each, by rewards left; index: placed?
    masks = []
    for action in ACTIONS:
        rewards = (action & 1, action >> 1 & 1)
        masks.append(may[rewards[target]][:, None] & may[rewards[1 - target]][None, :])
    return torch.stack(masks)


def solve(learner: TabularLearner, params: BanditParams) -> Tensor:
    """V [trials + 1, S, B + 1, B + 1] float64 (B: rewards per option; budgets as (target,
    other)): expected target choices from trial t on under the best adversary."""
    trials, budget = params.trials, params.rewards_per_option
    values = torch.zeros(trials + 1, learner.n_states, budget + 1, budget + 1, dtype=torch.float64)
    for t in reversed(range(trials)):
        allowed_now = allowed_actions(budget, trials - t, params.target_option)
        values[t] = backup(learner, values[t + 1], params.target_option, allowed_now)
    return values


def optimal_target_rate(learner: TabularLearner, values: Tensor, params: BanditParams) -> float:
    """The optimum: the best adversary's expected target-choice rate from the learner's start
    state and the full budgets (`values` from `solve`)."""
    start = values[0, :, -1, -1]
    return float((start[learner.initial_index] * learner.initial_weight).sum()) / params.trials


class OracleAdversary(Policy):
    """Plays the solved values against the real learner. An oracle: it knows the learner's tabular
    form, and so its state, which it tracks as a distribution over the table's states from what
    the learner chose and the reward it saw. Each trial it takes the allowed action with the best
    expected value under that distribution (a one-step lookahead on V). Runs on the CPU."""

    name, label, games = "bandit_oracle", "Oracle adversary (knows the learner)", ("bandit",)

    def __init__(self, game: Game, learner: TabularLearner, values: Tensor):
        super().__init__(game)
        self.learner, self.values = learner, values

    def reset(self, batch_size, device="cpu"):
        return self.learner.initial_belief(batch_size)

    @torch.no_grad()
    def act(self, observation: Observation, belief: Tensor):
        seen = observation.last_participant_action >= 0  # nothing to learn before the first trial
        advanced = self.learner.advance(belief, observation.last_participant_action.clamp_min(0),
                                        observation.last_participant_reward.long())
        belief = torch.where(seen.unsqueeze(1), advanced, belief)
        scores = self._scores(observation, belief)
        scores = scores.masked_fill(~observation.action_mask, float("-inf"))
        return self._deterministic(scores.argmax(dim=1)), belief

    def _scores(self, observation: Observation, belief: Tensor) -> Tensor:
        """[B, 4]: the expected target choices from this trial on after each action, the
        belief's nonzero entries weighting the values of their states."""
        target, trials = self.game.params.target_option, self.game.params.trials
        # After the last trial (the final observation of a rollout) any action scores alike.
        trial = observation.trial.clamp_max(trials - 1)
        episode, state = belief.nonzero(as_tuple=True)
        budget_left = observation.info["budget_left"][episode]
        at_states = action_values_at(self.learner, self.values, target, trial[episode], state,
                                     budget_left[:, target], budget_left[:, 1 - target])
        scores = torch.zeros(observation.batch_size, len(ACTIONS), dtype=torch.float64)
        return scores.index_add_(0, episode, belief[episode, state, None] * at_states)
