"""PPO: the clipped surrogate objective (Schulman et al., 2017) on top of the actor-critic.

With the probabilities the behaviour policy gave its actions (recorded during the rollout) and
advantages A_t (GAE, or Advantage Alignment's A*), PPO takes `epochs` x `minibatches` Adam steps on

    ratio_t = pi(a_t | s_t) / pi_old(a_t | s_t)
    L = - mean[ min(ratio_t * A_t, clip(ratio_t, 1 - eps, 1 + eps) * A_t) ] - c_H * mean[H]

so a batch can be reused for several steps without moving the policy far from the one that
collected it. Minibatches split the batch of episodes (whole episodes, so recurrent policies see
their full history). The critic is fitted as in actor_critic.py.

Later issues use `ppo_update` to train an adversary against a fixed human surrogate: the opponent
is then just the other policy in `rollout.play`.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from .actor_critic import Learner, advantages_and_returns, fit_critic_on, log_probs_and_entropy
from .rollout import Trajectory


class PPOFields(Protocol):
    """What the clipped step reads of a learner's settings; the critic's fields are the
    actor-critic's (actor_critic.py). adversary_training.AdversarySettings and
    adalign.AdAlignSettings have them all."""

    clip: float  # PPO's epsilon: the policy ratio is clipped to [1 - clip, 1 + clip]
    epochs: int  # passes over each batch
    minibatches: int  # the batch's episodes are split into this many minibatches per pass
    normalize_advantages: bool  # centre the advantages and divide them by their batch std
    entropy_coef: float  # weight of the entropy bonus


def clipped_surrogate_step(learner: Learner, trajectory: Trajectory, advantages: Tensor,
                           settings: PPOFields, generator: torch.Generator | None = None) -> float:
    """`epochs` passes of minibatch Adam steps on the clipped objective; return the last loss."""
    if settings.normalize_advantages:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    advantages = advantages.detach()
    batch = advantages.shape[0]
    loss = torch.zeros(())
    for _ in range(settings.epochs):
        order = torch.randperm(batch, generator=generator, device=generator.device if generator else "cpu")
        for index in order.to(advantages.device).chunk(settings.minibatches):
            part = trajectory.episodes(index)
            log_pi, entropy = log_probs_and_entropy(learner.policy.net, part)
            ratio = (log_pi - part.log_probs).exp()
            a = advantages[index]
            surrogate = torch.min(ratio * a, ratio.clamp(1 - settings.clip, 1 + settings.clip) * a)
            loss = -surrogate.mean() - settings.entropy_coef * entropy.mean()
            learner.policy_optimizer.zero_grad()
            loss.backward()
            learner.policy_optimizer.step()
    return float(loss.detach())


def ppo_update(learner: Learner, trajectory: Trajectory,
               generator: torch.Generator | None = None) -> dict[str, float]:
    """One PPO update from the learner's own trajectory (its settings have `PPOFields`)."""
    s = learner.settings
    critic_loss = fit_critic_on(learner.critic, learner.critic_optimizer, trajectory.rewards,
                                trajectory.features, s, trajectory.dones)
    advantages, _ = advantages_and_returns(learner.critic, trajectory.rewards, trajectory.features, s,
                                           trajectory.dones)
    policy_loss = clipped_surrogate_step(learner, trajectory, advantages, s, generator)
    return {"critic_loss": critic_loss, "policy_loss": policy_loss}
