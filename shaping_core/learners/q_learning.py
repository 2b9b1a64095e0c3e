"""A Q-learner with a softmax choice rule and perseveration: the workhorse model of human choice
in reinforcement-learning tasks (e.g. the baselines of Dezfouli, Nock & Dayan 2020).

The learner keeps a table Q[s, a] per episode. Its state s on a trial is what the game shows of
the adversary before the choice (`GameSpec.participant_sees`):

    nothing (bandit)    one state: Q over the two options
    the cue (gonogo)    the trial's stimulus (view.cue: go / no-go)
    the previous move   the adversary's previous move, or "start" before the first round
      (ipd)             (C, D, start)

Choice on a trial in state s, after previous own action a' (none on the first trial):

    logit(a) = beta * Q[s, a] + kappa * [a == a']
    P(a)     = softmax(logit)(a)

Learning, at the start of each `act`, from the previous trial (state s', action a', reward r'):

    Q[s', a'] <- Q[s', a'] + alpha * (r' / reward_scale + gamma * max_b Q[s, b] - Q[s', a'])

where reward_scale is the game's (1 in the bandit and go/no-go, the largest payoff in the IPD),
so rewards lie roughly in [0, 1] and `beta` means the same in every game. The previous state s' is
remembered in the model's state (in go/no-go it is the previous stimulus, which the view of this
trial no longer shows). `gamma` (discounting the next state's value) is for the IPD only, where
the next state is the adversary's reply and so may depend on the learner's move; in the bandit and
go/no-go the next state does not depend on the choice and gamma must stay 0.

Initial values: Q = 0, except in go/no-go, where responding starts at `respond_prior` for both
stimuli (withholding at 0): a prepotent response, so the learner responds to the first no-go cues
(commission errors) until it has learnt that withholding pays there.

Every parameter may be a fixed number or a [low, high] range drawn per episode (learners/base.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from ..algorithms.bandit_dp import TabularLearner
from ..games import Game, Sight
from ..participants import ParticipantModel, ParticipantParamsError, ParticipantView
from .base import LearnerParams, Range, draw_all, one_hot_or_zero

DEFAULT_RESPOND_PRIOR = 0.8  # go/no-go's initial Q of responding when respond_prior is unset


@dataclass(frozen=True)
class QLearningParams(LearnerParams):
    """Parameters of the Q-learner; each a number or a [low, high] range drawn per episode.

    alpha: learning rate in [0, 1]; how far Q moves toward each new target.
    beta: inverse temperature in [0, 100]; 0 chooses uniformly, large values almost always pick
        the best Q.
    kappa: perseveration in [-100, 100]; added to the logit of the previous own action (positive:
        repeat, negative: alternate).
    gamma: discount of the next state's value in [0, 1); IPD only (0 elsewhere).
    respond_prior: go/no-go only; the initial Q of responding (withholding starts at 0), in
        [-1, 2]. Unset means 0.8, a prior bias toward responding.
    """

    alpha: Range = (0.3, 0.3)
    beta: Range = (4.0, 4.0)
    kappa: Range = (0.3, 0.3)
    gamma: Range = (0.0, 0.0)
    respond_prior: Range | None = None

    def __post_init__(self):
        super().__post_init__()
        self.check_bounds("alpha", 0.0, 1.0)
        self.check_bounds("beta", 0.0, 100.0)
        self.check_bounds("kappa", -100.0, 100.0)
        self.check_bounds("gamma", 0.0, 0.99)
        self.check_bounds("respond_prior", -1.0, 2.0)


@dataclass(frozen=True)
class QState:
    """Per-episode state: the table, the previous trial's state index, and the drawn
    parameters (each [B])."""

    q: Tensor  # [B, n_states, n_actions]
    previous_state: Tensor  # [B] long, the state of the previous trial (0 before the first)
    alpha: Tensor
    beta: Tensor
    kappa: Tensor
    gamma: Tensor


class QLearner(ParticipantModel):
    name, label, games = "q_learning", "Q-learner", ("ipd", "bandit", "gonogo")
    tabular_games = ("bandit",)  # the games where `tabular` describes it (shaping_core/optimum.py)
    params_class = QLearningParams

    def __init__(self, game: Game, params=None):
        super().__init__(game, params)
        sees = game.spec.participant_sees
        # A prepotent response exists where one action is the absence of a response (go/no-go).
        self.responding = None if game.no_response_action is None else 1 - game.no_response_action
        if self.responding is None and self.params.respond_prior is not None:
            raise ParticipantParamsError(f"{self.label}: respond_prior applies to games with a response "
                                         f"window (go/no-go) only")
        if sees is not Sight.PREVIOUS and self.params.gamma != (0.0, 0.0):
            raise ParticipantParamsError(
                f"{self.label}: gamma applies to games whose next state is the adversary's reply "
                f"(the IPD) only (in {game.spec.label} the next state does not depend on the choice)")
        n_adversary = len(game.spec.adversary_actions)
        self.start = n_adversary  # the state before the first trial where the state is the previous move
        self.n_states = {Sight.NOTHING: 1, Sight.CUE: n_adversary, Sight.PREVIOUS: n_adversary + 1}[sees]
        self.reward_scale = float(game.reward_scale)

    def reset(self, batch_size, *, generator=None, device="cpu") -> QState:
        drawn = draw_all(self.params, batch_size, generator, device,
                         defaults={"respond_prior": DEFAULT_RESPOND_PRIOR})
        q = torch.zeros(batch_size, self.n_states, self.n_actions, device=device)
        if self.responding is not None:
            q[:, :, self.responding] = drawn["respond_prior"].unsqueeze(1)
        return QState(q=q, previous_state=torch.zeros(batch_size, dtype=torch.long, device=device),
                      alpha=drawn["alpha"], beta=drawn["beta"], kappa=drawn["kappa"],
                      gamma=drawn["gamma"])

    def state_index(self, view: ParticipantView) -> Tensor:
        """[B] long: the row of Q this trial's choice reads."""
        sees = self.game.spec.participant_sees
        if sees is Sight.NOTHING:
            return torch.zeros_like(view.trial)
        if sees is Sight.CUE:
            return view.cue
        return torch.where(view.last_seen < 0, self.start, view.last_seen)

    def act(self, view: ParticipantView, state: QState) -> tuple[Tensor, QState]:
        rows = torch.arange(view.trial.shape[0], device=view.trial.device)
        now = self.state_index(view)
        q = state.q

        # Learn from the previous trial (nothing before the first).
        learned = view.last_action >= 0
        previous_action = view.last_action.clamp_min(0)
        q_old = q[rows, state.previous_state, previous_action]
        target = view.last_reward.float() / self.reward_scale + state.gamma * q[rows, now].amax(dim=1)
        q_new = q_old + state.alpha * (target - q_old)
        q = q.clone()
        q[rows, state.previous_state, previous_action] = torch.where(learned, q_new, q_old)

        # Choose.
        logits = (state.beta.unsqueeze(1) * q[rows, now]
                  + state.kappa.unsqueeze(1) * one_hot_or_zero(view.last_action, self.n_actions))
        probs = torch.softmax(logits, dim=1)
        return probs, QState(q=q, previous_state=now, alpha=state.alpha, beta=state.beta,
                             kappa=state.kappa, gamma=state.gamma)

    def tabular(self, values: Mapping[str, float], grid: int) -> TabularLearner:
        """One participant (`values`: alpha, beta, kappa) in the bandit as a Markov chain
        (algorithms/bandit_dp.py). State: Q of option0, Q of option1 (each on `grid` points over
        [0, 1], where 0/1 rewards keep them: every update is a convex combination), and the
        previous choice (none, option0, option1), numbered (q0 * grid + q1) * 3 + previous. An
        update moves one Q between two grid points; the next state is the linear interpolation
        of the two nodes."""
        if self.game.spec.name not in self.tabular_games:
            raise ParticipantParamsError(f"{self.label}: a tabular form exists for the bandit only "
                                         f"(its state there is two Q values and the last choice)")
        if grid < 2:
            raise ParticipantParamsError(f"{self.label}: the Q grid needs at least 2 points, got {grid}")
        alpha, beta, kappa = (float(values[name]) for name in ("alpha", "beta", "kappa"))
        q = torch.linspace(0, 1, grid, dtype=torch.float64)
        previous = torch.arange(3)  # none, option0, option1
        logit0 = (beta * (q[:, None, None] - q[None, :, None])
                  + kappa * ((previous == 1).double() - (previous == 2).double()))
        p0 = torch.sigmoid(logit0)  # [q0, q1, previous]
        probs = torch.stack([p0, 1 - p0], dim=-1).reshape(-1, 2)

        state = torch.arange(grid * grid * 3).view(grid, grid, 3)
        nodes = torch.arange(grid)
        next_index = torch.empty(grid, grid, 3, 2, 2, 2, dtype=torch.long)
        next_weight = torch.empty(grid, grid, 3, 2, 2, 2, dtype=torch.float64)
        for choice in (0, 1):
            for reward in (0, 1):
                # The chosen option's Q moves to Q + alpha (reward - Q), between nodes low and
                # low + 1; the other Q stays, and the previous choice becomes this one.
                position = (q + alpha * (reward - q)) * (grid - 1)
                low = position.floor().long().clamp(0, grid - 2)
                weight = position - low
                for k, (node, w) in enumerate(((low, 1 - weight), (low + 1, weight))):
                    if choice == 0:
                        index, w = state[node[:, None], nodes[None, :], 1 + choice], w[:, None]
                    else:
                        index, w = state[nodes[:, None], node[None, :], 1 + choice], w[None, :]
                    next_index[..., choice, reward, k] = index[:, :, None]
                    next_weight[..., choice, reward, k] = w[:, :, None].expand(grid, grid, 3)
        return TabularLearner(probs=probs, next_index=next_index.view(-1, 2, 2, 2),
                              next_weight=next_weight.view(-1, 2, 2, 2),
                              initial_index=torch.tensor([0]),  # Q = 0, 0; no previous choice
                              initial_weight=torch.ones(1, dtype=torch.float64))
