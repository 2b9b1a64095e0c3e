"""Advantage Alignment (Duque et al., "Advantage Alignment Algorithms", ICLR 2025).

Agent 1 learns by policy gradient, but replaces its own advantage A1_t by

    A*_t = A1_t + beta * gamma * ( sum_{k<t} gamma^(t-k) * A1_k ) * A2_t

where, for the same recorded batch of episodes,

- A1_t is agent 1's GAE advantage from its own critic V1 (fitted on its own rewards),
- A2_t is the *opponent's* GAE advantage from a second critic V2 that agent 1 keeps of the
  opponent's return (fitted by TD / GAE returns on the opponent's rewards, which the game exposes),
  evaluated on agent 1's own observations,
- the past sum P_t = sum_{k<t} gamma^(t-k) A1_k runs over earlier trials of the same episode only
  (P_0 = 0, P_t = gamma * (P_{t-1} + A1_{t-1})), so the first trial's A*_0 = A1_0,
- beta >= 0 sets the strength of the opponent-shaping term; beta = 0 is the naive actor-critic.

Reading: A2_t depends on agent 1's action a_t (through the opponent's reward r2_t). When the
interaction has gone well for agent 1 (P_t > 0) the term pushes up actions that are good for the
opponent; when it has gone badly (the opponent exploited it, P_t < 0) it pushes up actions that
are bad for the opponent. That is reciprocity, which in the IPD yields tit-for-tat.

`normalize_past` (used in the authors' code) replaces the past sum by its running mean
P_t / t (t >= 1), so the scale of the shaping term does not grow with the episode length.

`alignment_lambda` chooses the GAE lambda of the A1, A2 used *inside* the shaping term (the
first term A1_t keeps `gae_lambda`). With 0 they are one-step TD errors
delta_t = r_t + gamma V(s_{t+1}) - V(s_t), whose expectation given the current state and both
actions does not depend on the past; with long GAE sums the product P_t * A2_t picks up
correlations through the shared future and through the position t in the batch window, and
in our IPD runs that noise pushed one of the two learners into a lenient, exploitable policy.

Two ways to use A*:

- plain (`proximal = False`): one actor-critic policy-gradient step on -mean(A* log pi(a_t|s_t)),
- proximal (`proximal = True`, "Proximal Advantage Alignment"): A* inside PPO's clipped surrogate
  (ppo.py), several minibatch epochs per batch.

In self-play (`train_selfplay_seed` in shaping_core.ipd_training) two independent AdAlign learners play
each other; each sees only its own batch view.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..policies.base import Policy
from .actor_critic import Learner, advantages_and_returns, fit_critic_on, policy_gradient_step
from .ppo import clipped_surrogate_step
from .rollout import Trajectory


@dataclass
class AdAlignSettings:
    """Advantage Alignment's settings in one flat list (ipd_training.py): the actor-critic's, PPO's
    for the proximal variant, and the shaping term's."""

    gamma: float = 0.96
    """Discount of the repeated game."""
    gae_lambda: float = 0.95
    """GAE's lambda: 0 gives one-step TD errors, 1 Monte Carlo returns."""
    policy_lr: float = 0.05
    """Adam step size of the policy."""
    critic_lr: float = 0.1
    """Adam step size of both critics (the learner's return and the opponent's)."""
    critic_steps: int = 10
    """Critic regression steps per set of targets."""
    critic_refits: int = 2
    """Times per batch the GAE targets are recomputed and the critics fitted to them."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus."""
    normalize_advantages: bool = False
    """Divide A* by its batch standard deviation before the step (the proximal step also centres it)."""
    beta: float = 1.0
    """Strength of the opponent-shaping term (0 gives the naive learner)."""
    normalize_past: bool = True
    """Use the running mean P_t / t of the past advantages instead of their sum."""
    proximal: bool = False
    """Step on A* inside PPO's clipped objective instead of one plain policy-gradient step."""
    clip: float = 0.2
    """With `proximal`: PPO's epsilon, the policy ratio clipped to [1 - clip, 1 + clip]."""
    epochs: int = 4
    """With `proximal`: passes over each batch."""
    minibatches: int = 4
    """With `proximal`: minibatches each pass splits the batch's episodes into."""
    alignment_lambda: float | None = None
    """GAE lambda of the A1, A2 inside the shaping term (None: gae_lambda). 0 uses one-step TD
    errors, whose expectation given the current state and actions does not depend on the past, so
    the shaping term measures reciprocity and not the noise of long advantage sums."""


def discounted_past_sum(a1: Tensor, gamma: float) -> Tensor:
    """P_t = sum_{k<t} gamma^(t-k) A1_k along dim 1 of [B, T]."""
    past = torch.zeros_like(a1)
    for t in range(1, a1.shape[1]):
        past[:, t] = gamma * (past[:, t - 1] + a1[:, t - 1])
    return past


def shaping_term(a1: Tensor, a2: Tensor, gamma: float, beta: float, normalize_past: bool = False) -> Tensor:
    """beta * gamma * P_t * A2_t, the opponent-shaping part of A*_t (see the module docstring)."""
    past = discounted_past_sum(a1, gamma)
    if normalize_past:
        steps = torch.arange(a1.shape[1], device=a1.device, dtype=a1.dtype).clamp_min(1)
        past = past / steps
    return beta * gamma * past * a2


def alignment_advantages(a1: Tensor, a2: Tensor, gamma: float, beta: float,
                         normalize_past: bool = False) -> Tensor:
    """A*_t = A1_t + beta * gamma * P_t * A2_t (see the module docstring)."""
    return a1 + shaping_term(a1, a2, gamma, beta, normalize_past)


class AdAlignLearner(Learner):
    """A Learner with a second critic for the opponent's return."""

    def __init__(self, policy: Policy, critic: nn.Module, opponent_critic: nn.Module,
                 settings: AdAlignSettings):
        super().__init__(policy, critic, settings)
        self.opponent_critic = opponent_critic
        self.opponent_critic_optimizer = torch.optim.Adam(opponent_critic.parameters(),
                                                          lr=settings.critic_lr)

    def to(self, device) -> AdAlignLearner:
        super().to(device)
        self.opponent_critic.to(device)
        return self


def adalign_update(learner: AdAlignLearner, trajectory: Trajectory,
                   generator: torch.Generator | None = None) -> dict[str, float]:
    """One Advantage Alignment update from the learner's view of a batch of episodes."""
    s: AdAlignSettings = learner.settings
    dones = trajectory.dones
    critic_loss = fit_critic_on(learner.critic, learner.critic_optimizer, trajectory.rewards,
                                trajectory.features, s, dones)
    opponent_critic_loss = fit_critic_on(learner.opponent_critic, learner.opponent_critic_optimizer,
                                         trajectory.opponent_rewards, trajectory.features, s, dones)
    a1, _ = advantages_and_returns(learner.critic, trajectory.rewards, trajectory.features, s, dones)
    if s.alignment_lambda is None:
        shaping, a1_shaping = s, a1
    else:
        shaping = dataclasses.replace(s, gae_lambda=s.alignment_lambda)
        a1_shaping, _ = advantages_and_returns(learner.critic, trajectory.rewards, trajectory.features,
                                               shaping, dones)
    a2, _ = advantages_and_returns(learner.opponent_critic, trajectory.opponent_rewards,
                                   trajectory.features, shaping, dones)
    # A*_t = A1_t + beta * gamma * P_t * A2_t, with P_t and A2_t from the shaping-term advantages.
    a_star = a1 + shaping_term(a1_shaping, a2, s.gamma, s.beta, s.normalize_past)
    if s.proximal:
        policy_loss = clipped_surrogate_step(learner, trajectory, a_star, s, generator)
    else:
        policy_loss = policy_gradient_step(learner, trajectory, a_star)
    return {"critic_loss": critic_loss, "opponent_critic_loss": opponent_critic_loss,
            "policy_loss": policy_loss}
